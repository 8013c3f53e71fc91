"""Patience: the transcript check, and the stop strategy inside a real user aggregator.

The strategy runs in pipecat's own LLMUserAggregator; only the turn model is a stand-in
(it always says "complete", which is what Smart Turn said on the thinking-pause fixture).
VAD and transcription frames are sent as the VAD and STT would send them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer, BaseTurnParams, EndOfTurnState
from pipecat.frames.frames import (
    LLMContextFrame,
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

from interview_pipeline.conduct.patience import PatientTurnStopStrategy, judge_transcript


@pytest.mark.parametrize(
    "text",
    [
        "We had a memory leak in production and the find it, I first.",
        "I would run explain to read the query plan, and then...",
        "So we moved the whole service to",
        "The main problem was the",
        "I looked at it because",
        "And I think, um.",
        "Well, we first,",
        "That's a good question. Let me think.",
        "Hmm, let me see.",
        "We then",
    ],
)
def test_unfinished_endings(text: str) -> None:
    verdict = judge_transcript(text)
    assert verdict.unfinished, text
    assert verdict.reason


@pytest.mark.parametrize(
    "text",
    [
        "I have five years of Python experience, which had a real impact.",
        "We read the logs, reproduced it, found the root cause and shipped a fix.",
        "Yes, I think so.",
        "I had to.",
        "That's what we were looking for.",
        "I fixed it.",
        "Could you repeat the question?",
        "and so on.",
        "",
        "   ",
    ],
)
def test_finished_endings(text: str) -> None:
    assert not judge_transcript(text).unfinished, text


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


class Stamp(FrameProcessor):
    """Notes when each candidate turn reaches the LLM."""

    def __init__(self) -> None:
        super().__init__()
        self.turns: list[tuple[float, str]] = []

    async def process_frame(self, frame: Any, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            last: Any = frame.context.get_messages()[-1]
            self.turns.append((time.monotonic(), str(last.get("content"))))
        await self.push_frame(frame, direction)


MAX_PAUSE = 1.2


async def _run(frames: list[Any]) -> tuple[list[tuple[float, str]], PatientTurnStopStrategy, float]:
    strategy = PatientTurnStopStrategy(turn_analyzer=AlwaysComplete(), max_pause_s=MAX_PAUSE)
    aggregator = LLMUserAggregator(
        LLMContext(),
        params=LLMUserAggregatorParams(
            user_turn_strategies=UserTurnStrategies(
                start=[VADUserTurnStartStrategy()], stop=[strategy]
            ),
            user_turn_stop_timeout=MAX_PAUSE + 2,
        ),
    )
    stamp = Stamp()
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
