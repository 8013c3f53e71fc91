"""Builds transcript turns from what the pipeline did and hands each to a sink when it ends.

Text comes from the context aggregators' turn events (what went into the LLM context);
times come from the speaking frames (what the candidate actually heard and said). An
interviewer turn ends when its audio has finished playing, not when its text was ready.
A line cut off before its question was heard is written as ``cut_off`` under the question
still being answered, and so is what the candidate says next: the transcript says what
was asked, not what was planned.

A TTS without word times (Piper) reports a sentence's text only once all of it has played,
so a long line cut part-way (a greeting the candidate talks over) reaches the aggregator with
no text at all. Such a turn keeps the sentences that had started playing, marked
``unfinished``, instead of being written empty.
"""

from __future__ import annotations

import time
from typing import Any

from pipecat.frames.frames import (
    AggregatedTextFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    StartFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_output import BaseOutputTransport

from interview_pipeline.conduct.conductor import InterviewConductor
from interview_pipeline.transcript import TranscriptSink, Turn


class TranscriptRecorder(BaseObserver):
    def __init__(self, sink: TranscriptSink, conductor: InterviewConductor, vad_stop_s: float):
        super().__init__()
        self.sink = sink
        self.turns: list[Turn] = []
        self._conductor = conductor
        self._vad_stop_s = vad_stop_s
        self._t0: float | None = None
        self._user_start: float | None = None
        self._user_speech_end: float | None = None
        self._bot_speaking = False
        self._bot_start: float | None = None
        self._bot_end: float | None = None
        self._pending_bot: Turn | None = None
        #: Sentences of the current line that reached the speaker (see the module docstring).
        self._begun: list[str] = []
        #: Why the answer being spoken may be missing words (the STT failed during it).
        self._incomplete: str | None = None

    def now(self) -> float:
        if self._t0 is None:
            self._t0 = time.monotonic()
        return round(time.monotonic() - self._t0, 3)

    # --- frames (timing) ------------------------------------------------------------------
    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if isinstance(frame, StartFrame) and self._t0 is None:
            self._t0 = time.monotonic()
        elif isinstance(frame, UserStartedSpeakingFrame):
            if self._user_start is None:
                self._user_start = self.now()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_speech_end = max(0.0, self.now() - self._vad_stop_s)
        elif isinstance(data.source, BaseOutputTransport) and (
            data.direction is FrameDirection.DOWNSTREAM
        ):
            if isinstance(frame, BotStartedSpeakingFrame):
                self._bot_speaking = True
                if self._bot_start is None:
                    self._bot_start = self.now()
            elif (
                isinstance(frame, AggregatedTextFrame)
                and not isinstance(frame, TTSTextFrame)
                and frame.will_be_spoken
            ):
                self._begun.append(frame.text.strip())
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self._bot_speaking = False
                self._bot_end = self.now()
                if self._pending_bot is not None:
                    self._finish_bot(self._pending_bot)

    def mark_incomplete(self, reason: str) -> None:
        """The STT failed: the answer being given (or the next one) may be missing words."""
        self._incomplete = reason

    # --- aggregator events (text) ---------------------------------------------------------
    async def on_user_turn_stopped(self, _aggregator: Any, _strategy: Any, message: Any) -> None:
        text = (getattr(message, "content", None) or "").strip()
        start = self._user_start if self._user_start is not None else self.now()
        end = self._user_speech_end if self._user_speech_end is not None else self.now()
        self._user_start, self._user_speech_end = None, None
        if not text:
            return
        meta: dict[str, object] = {}
        if self._incomplete is not None:
            # The words before the failure may be lost; the recording has the audio.
            meta = {"incomplete": True, "reason": self._incomplete}
            self._incomplete = None
        self._emit(
            Turn(
                "candidate",
                text,
                start,
                max(start, end),
                question_id=self._conductor.answering,
                kind="answer",
                meta=meta,
            )
        )

    async def on_assistant_turn_stopped(self, _aggregator: Any, message: Any) -> None:
        text = (getattr(message, "content", "") or "").strip()
        interrupted = bool(getattr(message, "interrupted", False))
        verdict = self._conductor.note_line(text, interrupted)
        interrupted = interrupted or verdict.faulted
        step = verdict.step
        kind = step.kind.value if step else ""
        question_id = step.question_id if step else None
        meta: dict[str, object] = {}
        if not verdict.heard:
            kind, question_id = "cut_off", self._conductor.answering
            meta["planned"] = step.kind.value if step else ""
        if verdict.faulted:
            meta["fault"] = "tts"  # part of the line may never have been played
        begun, self._begun = " ".join(t for t in self._begun if t), []
        if not text and interrupted and begun:
            text, meta["unfinished"] = begun, True
        turn = Turn(
            "interviewer",
            text,
            self._bot_start if self._bot_start is not None else self.now(),
            self.now(),
            question_id=question_id,
            interrupted=interrupted,
            kind=kind,
            meta=meta,
        )
        if not text and not turn.interrupted:
            self._bot_start = None
            return
        if self._bot_speaking and not turn.interrupted:
            self._pending_bot = turn  # finished when its audio has played out
        else:
            self._finish_bot(turn)

    def _finish_bot(self, turn: Turn) -> None:
        if self._bot_end is not None and self._bot_end >= turn.start:
            turn.end = self._bot_end
        self._pending_bot = None
        self._bot_start = None
        self._emit(turn)

    def flush(self) -> None:
        """Write a turn still waiting for its audio to finish (pipeline ending)."""
        if self._pending_bot is not None:
            self._finish_bot(self._pending_bot)

    def _emit(self, turn: Turn) -> None:
        self.turns.append(turn)
        self.sink.append(turn)
