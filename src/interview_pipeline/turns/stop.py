"""The end of the candidate's turn: speculate early, commit late.

Smart Turn decides from the voice whether a pause sounds like the end; ``patience`` decides
from the words how long to wait anyway. Waiting would cost latency if nothing happened
meanwhile, so the reply is prepared while the interviewer waits:

- As soon as the candidate pauses (VAD stop) and there are words for the turn so far, the
  strategy starts a speculative inference through pipecat's own speculation hooks
  (``trigger_user_turn_inference_triggered(speculation=...)``): the user aggregator sends a
  provisional context, the conductor walks the plan on a copy, the LLM and TTS run, and the
  reply is held at the ``ReplyGate`` after TTS, unheard.
- When the wait is over with no new speech, the turn is confirmed with
  ``confirms_speculation=True``: the gate releases the prepared audio at once and the
  conductor commits the step it previewed. If the words changed in the meantime (a later
  final transcript), the guess is withdrawn and the reply is made again from what was said.
- When the candidate goes on, the speculation is withdrawn (``EagerEndOfTurnCancelFrame``):
  the conductor cancels the LLM and TTS requests and the gate drops everything it held.

Only pipecat's public strategy surface is used: frames seen in ``process_frame``, the turn
boundary callbacks, and the trigger methods where the base class announces its decisions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer
from pipecat.frames.frames import (
    Frame,
    InterimTranscriptionFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult, UserTurnSpeculation
from pipecat.turns.user_stop import NormalizedMatch, TurnAnalyzerUserTurnStopStrategy

from interview_pipeline.turns.frames import ListeningCueFrame
from interview_pipeline.turns.patience import Expectation, Wait, wait_after_speech

#: Below this, holding the turn is not worth a task.
_MIN_HOLD_S = 0.05
#: How long to wait for the words of speech that resumed within the turn. Segmented STT
#: sends them ~0.3-1 s after VAD stops; pipecat would otherwise decide on the words from
#: before the pause (its STT wait collapses to 0 when VAD stop >= the STT p99 latency).
_WORDS_GRACE_S = 2.0


@dataclass
class PatienceStats:
    """What patience did in one interview (for the log, metrics and the design note)."""

    #: Turns the strategy held past Smart Turn's decision (unfinished or short answers).
    holds: int = 0
    #: Of those, the candidate went on speaking: each one is a cut-in avoided.
    resumed: int = 0
    #: Of those, the candidate stayed silent to the end of the wait: the turn ended.
    released: int = 0
    #: Speculative replies started, kept (released as prepared) and withdrawn.
    speculated: int = 0
    kept: int = 0
    withdrawn: int = 0


class PatientTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn's decision, held as long as patience says, with the reply prepared."""

    def __init__(
        self,
        *,
        turn_analyzer: BaseTurnAnalyzer,
        max_pause_s: float,
        min_pause_s: float = 0.0,
        expectation: Callable[[], Expectation | None] | None = None,
        speculate: bool = True,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ):
        super().__init__(turn_analyzer=turn_analyzer, **kwargs)
        self.max_pause_s = max_pause_s
        self.min_pause_s = min_pause_s
        self.speculate = speculate
        self.stats = PatienceStats()
        self._expectation = expectation or (lambda: None)
        self._clock = clock
        self._match = NormalizedMatch()
        self._heard: list[str] = []
        self._interim = ""
        #: Whether the newest speech in this turn has been transcribed yet: a final that
        #: arrives while the candidate is speaking again belongs to the speech before.
        self._fresh = True
        self._paused = False
        #: VAD hears the candidate now (kept across turns: VAD reports only transitions).
        self._speaking = False
        self._speech_end: float | None = None
        self._speculation: UserTurnSpeculation | None = None
        self._hold: asyncio.Task[None] | None = None
        self._hold_since = 0.0
        self._words_wait: asyncio.Task[None] | None = None
        self._frames_flag: bool | None = None
        self._listening = False

    @property
    def holding(self) -> bool:
        return self._hold is not None

    def heard(self) -> str:
        return " ".join(self._heard)

    def _words_so_far(self) -> str:
        return " ".join([*self._heard, self._interim]).strip()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._fresh, self._paused, self._interim = False, False, ""
            self._speaking = True
            await self._went_on()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # VAD reports the stop ``stop_secs`` after speech really ended.
            self._speech_end = self._clock() - frame.stop_secs
            self._paused, self._speaking = True, False
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._heard.append(frame.text.strip())
            self._interim = ""
            self._fresh = self._fresh or self._paused
        elif isinstance(frame, InterimTranscriptionFrame):
            self._interim = frame.text.strip()
        result = await super().process_frame(frame)
        if isinstance(frame, TranscriptionFrame) and self._words_wait is not None:
            await self._cancel(self._words_wait)
            self._words_wait = None
            await self._decide(self._frames_flag)
        elif isinstance(frame, TranscriptionFrame) and self._hold is not None:
            # Later words for the same speech (segmented STT): the wait is read again.
            await self._cancel(self._hold)
            self._hold = None
            await self._decide(self._frames_flag, again=True)
        if isinstance(frame, (VADUserStoppedSpeakingFrame, TranscriptionFrame)):
            await self._maybe_end_on_words()
        if isinstance(frame, (VADUserStoppedSpeakingFrame, TranscriptionFrame)) or isinstance(
            frame, InterimTranscriptionFrame
        ):
            await self._maybe_speculate()
        return result

    async def handle_user_turn_started(self) -> None:
        await self._forget()
        await super().handle_user_turn_started()

    async def handle_user_turn_stopped(self) -> None:
        await self._forget()
        await super().handle_user_turn_stopped()

    async def cleanup(self) -> None:
        await self._forget()
        await super().cleanup()

    async def trigger_user_turn_stopped(
        self, *, enable_user_speaking_frames: bool | None = None
    ) -> None:
        """The base class (Smart Turn + transcript) says the turn is over; patience decides."""
        if self._hold is not None or self._words_wait is not None:
            return  # already postponed; that task (or the transcript) decides
        if self._heard and not self._fresh:
            self._frames_flag = enable_user_speaking_frames
            self._words_wait = self.task_manager.create_task(
                self._decide_after(_WORDS_GRACE_S), f"{self}::words"
            )
            return
        await self._decide(enable_user_speaking_frames)

    # --- deciding -------------------------------------------------------------------------
    def wait(self) -> Wait:
        return wait_after_speech(
            self.heard(),
            self._expectation(),
            min_pause_s=self.min_pause_s,
            max_pause_s=self.max_pause_s,
        )

    async def _decide(self, enable_frames: bool | None, *, again: bool = False) -> None:
        self._frames_flag = enable_frames
        if self._speaking:
            # Words (or the turn model's verdict) for speech before a pause the candidate has
            # already ended by going on: the next pause decides, with these words counted.
            return
        wait = self.wait()
        now = self._clock()
        speech_end = self._speech_end if self._speech_end is not None else now
        left = speech_end + wait.seconds - now
        if left <= _MIN_HOLD_S:
            await self._confirm(enable_frames)
            return
        if wait.patient and not again:
            self.stats.holds += 1
            logger.info(
                f"{self}: turn sounds complete but {wait.reason}; "
                f"waiting up to {left:.1f}s more for the candidate to go on"
            )
        await self._set_listening(wait.patient)
        self._hold_since = now
        await self._maybe_speculate()
        self._hold = self.task_manager.create_task(
            self._release_after(left, enable_frames, wait.patient), f"{self}::patience"
        )

    async def _maybe_end_on_words(self) -> None:
        """A full, finished answer ends on its words, whatever the voice model hears.

        Smart Turn hears most finished answers in flat or unfamiliar voices as unfinished,
        and its fallback then waits ``VOICE_UNFINISHED_S`` of silence: the longest part of
        the reply's latency on exactly the answers that need no patience. The voice only
        counts while the words leave the answer open (unfinished, or not yet a full answer);
        a candidate who goes on after a full answer anyway is the false end of turn that the
        resume window recovers from.
        """
        if self._speaking or not self._paused or not self._fresh or not self._heard:
            return
        if self._hold is not None or self._words_wait is not None:
            return  # already deciding
        if self.wait().patient:
            return  # the words want patience: Smart Turn's voice may add to it
        await self._decide(self._frames_flag)

    async def _decide_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._words_wait = None
        logger.debug(f"{self}: no words for the last speech; deciding on what was heard")
        await self._decide(self._frames_flag)

    async def _release_after(self, delay: float, enable_frames: bool | None, patient: bool) -> None:
        await asyncio.sleep(delay)
        self._hold = None
        if patient:
            self.stats.released += 1
            logger.info(f"{self}: no more speech within the wait: ending the turn")
        await self._confirm(enable_frames)

    async def _confirm(self, enable_frames: bool | None) -> None:
        """End the turn, keeping the prepared reply if it answers what was said."""
        await self._set_listening(False)
        speculation, self._speculation = self._speculation, None
        if speculation is not None and self._match.matches(speculation.text, self.heard()):
            self.stats.kept += 1
            await self.trigger_user_turn_finalized(
                enable_user_speaking_frames=enable_frames, confirms_speculation=True
            )
            return
        if speculation is not None:
            logger.debug(f"{self}: the words changed since the reply was prepared; redoing it")
            await self._withdraw(speculation)
        await super().trigger_user_turn_stopped(enable_user_speaking_frames=enable_frames)

    # --- speculation ----------------------------------------------------------------------
    async def _maybe_speculate(self) -> None:
        """Prepare the reply while the candidate is quiet and words for the turn exist."""
        if not self.speculate or not self._paused:
            return
        if not self._fresh and not self._interim:
            return  # the newest speech has no words yet: a guess would answer stale ones
        text = self._words_so_far()
        if not text:
            return
        current = self._speculation
        if current is not None:
            if self._match.matches(current.text, text) or not self._heard:
                return  # an interim that moved: the final decides
            await self._withdraw(current)
        self._speculation = UserTurnSpeculation(text=text)
        self.stats.speculated += 1
        logger.debug(f"{self}: preparing the reply to [{text}]")
        await self.trigger_user_turn_inference_triggered(speculation=self._speculation)

    async def _withdraw(self, speculation: UserTurnSpeculation) -> None:
        if self._speculation is speculation:
            self._speculation = None
        self.stats.withdrawn += 1
        await self.trigger_user_turn_speculation_cancelled()

    async def _went_on(self) -> None:
        """New speech inside the turn: whatever was prepared or waited for is void."""
        if self._words_wait is not None:
            await self._cancel(self._words_wait)
            self._words_wait = None
        if self._hold is not None:
            self.stats.resumed += 1
            waited = self._clock() - self._hold_since
            logger.info(f"{self}: candidate went on after {waited:.1f}s: no cut-in")
            await self._cancel(self._hold)
            self._hold = None
        if self._speculation is not None:
            await self._withdraw(self._speculation)
        await self._set_listening(False)

    async def _set_listening(self, on: bool) -> None:
        if on != self._listening:
            self._listening = on
            await self.push_frame(ListeningCueFrame(listening=on))

    async def _cancel(self, task: asyncio.Task[None]) -> None:
        if task is not asyncio.current_task():
            await self.task_manager.cancel_task(task)

    async def _forget(self) -> None:
        self._heard.clear()
        self._interim = ""
        self._fresh, self._paused = True, False
        self._speech_end = None
        for task in (self._hold, self._words_wait):
            if task is not None:
                await self._cancel(task)
        self._hold = self._words_wait = None
        if self._speculation is not None:
            # The turn ended some other way (stop watchdog, session end): nothing else
            # will withdraw the prepared reply, and the gate would hold it forever.
            await self._withdraw(self._speculation)
        await self._set_listening(False)
