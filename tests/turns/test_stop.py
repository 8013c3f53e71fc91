"""The stop strategy inside a real pipecat user aggregator.

Only the turn model is a stand-in (it always says "complete", which is what Smart Turn
said on the thinking-pause fixture); VAD and transcription frames are sent as the VAD and
STT would send them. Turns are read where the aggregator writes them to the context, and
prepared replies where it sends its provisional context.
"""

from __future__ import annotations

import time
from typing import Any

from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.frames.frames import (
    EagerEndOfTurnCancelFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import MetricsData
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from interview_pipeline.turns.frames import ListeningCueFrame
from interview_pipeline.turns.patience import Expectation
from interview_pipeline.turns.stop import PatientTurnStopStrategy


class AlwaysComplete(BaseTurnAnalyzer):
    """Stand-in for Smart Turn: every pause sounds like the end of the turn."""

    @property
    def speech_triggered(self) -> bool:
        return False

    @property
    def params(self) -> BaseTurnParams:
        return BaseTurnParams()

    def append_audio(self, buffer: bytes, is_speech: bool) -> EndOfTurnState:
        return EndOfTurnState.INCOMPLETE

    async def analyze_end_of_turn(self) -> tuple[EndOfTurnState, MetricsData | None]:
        return EndOfTurnState.COMPLETE, None

    def clear(self) -> None:
        pass


class VoiceUnfinished(AlwaysComplete):
    """Stand-in for Smart Turn on a flat synthetic voice: no pause sounds like the end."""

    async def analyze_end_of_turn(self) -> tuple[EndOfTurnState, MetricsData | None]:
        return EndOfTurnState.INCOMPLETE, None


class Stamp(FrameProcessor):
    """Notes when each candidate turn is written to the context, and prepared replies."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[tuple[float, str]] = []
        self.speculative: list[str] = []
        self.withdrawn = 0
        self.cues: list[bool] = []

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextUserTurnFrame) and direction is FrameDirection.DOWNSTREAM:
            self.turns.append((time.monotonic(), frame.text))
        elif isinstance(frame, LLMContextFrame) and frame.speculation:
            last: Any = frame.context.get_messages()[-1]
            self.speculative.append(str(last.get("content")))
        elif (
            isinstance(frame, EagerEndOfTurnCancelFrame) and direction is FrameDirection.DOWNSTREAM
        ):
            self.withdrawn += 1
        elif isinstance(frame, ListeningCueFrame):
            self.cues.append(frame.listening)
        await self.push_frame(frame, direction)


MAX_PAUSE = 1.2


async def _run(
    frames: list[Any],
    expectation: Expectation | None = None,
    stamp: Stamp | None = None,
    analyzer: BaseTurnAnalyzer | None = None,
) -> tuple[list[tuple[float, str]], PatientTurnStopStrategy, float]:
    strategy = PatientTurnStopStrategy(
        turn_analyzer=analyzer or AlwaysComplete(),
        max_pause_s=MAX_PAUSE,
        min_pause_s=0.1,
        expectation=lambda: expectation,
    )
    aggregator = LLMUserAggregator(
        LLMContext(),
        params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                start=[VADUserTurnStartStrategy()], stop=[strategy]
            ),
            user_turn_stop_timeout=MAX_PAUSE + 2,
        ),
    )
    stamp = stamp or Stamp()
    t0 = time.monotonic()
    await run_test(Pipeline([aggregator, stamp]), frames_to_send=frames)
    return [(t - t0, text) for t, text in stamp.turns], strategy, t0


def _spoken(text: str) -> list[Any]:
    return [
        VADUserStartedSpeakingFrame(),
        SleepFrame(0.05),
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        SleepFrame(0.05),
        TranscriptionFrame(text, "user", "now", finalized=True),
    ]


async def test_complete_answer_ends_the_turn_at_once() -> None:
    turns, strategy, _ = await _run([*_spoken("I shipped a fix."), SleepFrame(0.5)])
    assert len(turns) == 1 and turns[0][0] < 0.4
    assert strategy.stats.holds == 0


async def test_thinking_pause_is_waited_out_and_the_answer_stays_one_turn() -> None:
    frames = [
        *_spoken("To find it, I first."),
        SleepFrame(0.7),  # thinking, longer than the turn model waited
        *_spoken("Read the logs and fixed it."),
        SleepFrame(0.4),
    ]
    turns, strategy, _ = await _run(frames)
    assert len(turns) == 1
    assert "I first" in turns[0][1] and "Read the logs" in turns[0][1]
    assert strategy.stats.holds == 1 and strategy.stats.resumed == 1


async def test_silence_after_an_unfinished_sentence_ends_the_turn_at_the_max_pause() -> None:
    turns, strategy, _ = await _run([*_spoken("And then I"), SleepFrame(MAX_PAUSE + 0.5)])
    assert len(turns) == 1
    # Speech ended stop_secs before the VAD said so; the turn ends MAX_PAUSE after that.
    assert MAX_PAUSE - 0.3 < turns[0][0] < MAX_PAUSE + 0.4
    assert strategy.stats.released == 1


async def test_decides_on_the_words_after_the_pause_not_the_stale_ones() -> None:
    # The resumed speech's transcript comes late (as from segmented STT): the decision
    # waits for it instead of reading "I first" again and holding for the max pause.
    frames = [
        *_spoken("To find it, I first."),
        SleepFrame(0.5),
        VADUserStartedSpeakingFrame(),
        SleepFrame(0.05),
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        SleepFrame(0.3),
        TranscriptionFrame("Read the logs and fixed it.", "user", "now", finalized=True),
        SleepFrame(MAX_PAUSE),
    ]
    turns, _, _ = await _run(frames)
    assert len(turns) == 1 and "Read the logs" in turns[0][1]
    assert turns[0][0] < 1.3  # ~0.05+0.05+0.5+0.05+0.3 after start, not + MAX_PAUSE


async def test_reply_is_prepared_at_the_pause_and_kept_when_the_wait_ends() -> None:
    stamp = Stamp()
    turns, strategy, _ = await _run(
        [*_spoken("And then I"), SleepFrame(MAX_PAUSE + 0.5)], stamp=stamp
    )
    # Prepared at once (not after the wait), and released as prepared: no second inference.
    assert stamp.speculative == ["And then I"]
    assert strategy.stats.kept == 1 and strategy.stats.withdrawn == 0
    assert len(turns) == 1 and MAX_PAUSE - 0.3 < turns[0][0]


async def test_prepared_reply_is_withdrawn_when_the_candidate_goes_on() -> None:
    stamp = Stamp()
    frames = [
        *_spoken("To find it, I first."),
        SleepFrame(0.7),
        *_spoken("Read the logs and fixed it."),
        SleepFrame(0.4),
    ]
    turns, strategy, _ = await _run(frames, stamp=stamp)
    assert stamp.speculative[0] == "To find it, I first."
    assert stamp.withdrawn >= 1 and strategy.stats.withdrawn >= 1
    assert len(turns) == 1 and "Read the logs" in turns[0][1]


async def test_short_answer_to_an_open_question_is_waited_for_with_a_listening_cue() -> None:
    stamp = Stamp()
    expectation = Expectation(words=40)
    frames = [*_spoken("I would use a token bucket."), SleepFrame(MAX_PAUSE + 0.5)]
    turns, strategy, _ = await _run(frames, expectation, stamp)
    assert len(turns) == 1 and turns[0][0] > MAX_PAUSE - 0.3  # waited, not cut in
    assert strategy.stats.holds == 1
    assert stamp.cues == [True, False]  # the avatar listened, then stopped


async def test_full_answer_gets_the_short_wait_and_no_cue() -> None:
    stamp = Stamp()
    text = "I would use a token bucket per customer. Redis keeps the counts. Misses get a 429."
    turns, strategy, _ = await _run([*_spoken(text), SleepFrame(0.6)], Expectation(40), stamp)
    assert len(turns) == 1 and turns[0][0] < 0.5
    assert stamp.cues == [] and strategy.stats.holds == 0


async def test_full_answer_ends_on_its_words_when_the_voice_sounds_unfinished() -> None:
    text = "I would use a token bucket per customer. Redis keeps the counts. Misses get a 429."
    frames = [*_spoken(text), SleepFrame(0.6)]
    turns, _, _ = await _run(frames, Expectation(40), analyzer=VoiceUnfinished())
    assert len(turns) == 1 and turns[0][0] < 0.5  # min pause, not the voice model's fallback


async def test_unfinished_voice_still_holds_an_answer_that_has_barely_started() -> None:
    frames = [*_spoken("I would use a token bucket."), SleepFrame(MAX_PAUSE + 0.5)]
    turns, strategy, _ = await _run(frames, Expectation(40), analyzer=VoiceUnfinished())
    # Neither the words nor the voice end it: only the aggregator's watchdog (or more speech).
    assert turns == [] or turns[0][0] > MAX_PAUSE
    assert strategy.stats.holds == 0


async def test_late_words_never_end_the_turn_while_the_candidate_speaks_again() -> None:
    # Seen under load: the turn model calls a short pause complete, the words for the speech
    # before it come late (slow STT), and by then the candidate is speaking again. Deciding
    # on those words would answer mid-sentence (the reply then plays over the candidate and a
    # second reply follows at the real end): the decision waits for the next pause.
    frames = [
        *_spoken("For a rate limiter I would use a token bucket."),
        SleepFrame(0.3),
        VADUserStartedSpeakingFrame(),
        SleepFrame(0.05),
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        SleepFrame(0.05),  # the turn model says complete; no words yet for this speech
        VADUserStartedSpeakingFrame(),  # the candidate goes on
        SleepFrame(0.3),
        TranscriptionFrame("Stored in Redis.", "user", "now", finalized=True),  # late words
        SleepFrame(MAX_PAUSE + 0.3),  # still speaking: the turn must not end here
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        SleepFrame(0.05),
        TranscriptionFrame("So every server sees the same count.", "user", "now", finalized=True),
        SleepFrame(MAX_PAUSE + 0.5),
    ]
    turns, _, _ = await _run(frames, Expectation(words=40))
    assert len(turns) == 1, turns
    assert "token bucket" in turns[0][1] and "same count" in turns[0][1]
    assert turns[0][0] > 2.0  # after the last pause, not inside the last speech
