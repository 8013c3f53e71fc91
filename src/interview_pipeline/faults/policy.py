"""Vendor failure policy, in one place: which role failed, and what the candidate hears.

pipecat reports a vendor failure as an ``ErrorFrame`` naming the service that raised it; the
pipeline worker's ``on_pipeline_error`` event sees every one, wherever it came from (STT sits
upstream of the conductor, so the conductor alone would miss it). The policy, per role:

- **LLM** (an HTTP error after the client's retry, a timeout, a refused connection): the
  conductor says the plan's line verbatim, so the interview goes on without the LLM; after
  ``llm_failures_to_end`` in a row, an apology and a clean end as ``failed``.
- **TTS** that can no longer do its job (refused reconnects, the vendor gone): nothing can be
  said, so the session ends as ``failed`` with the reason at once, and the candidate page is
  told in text. A TTS error it recovers from marks the line being spoken as cut (the
  transcript never claims words that were not played) and the question is asked again; a
  line none of which played is said again, once. (A server that closes cleanly mid-line is
  reconnected to by pipecat without any error; only its ``on_disconnected`` event shows it,
  which also fires after a line's audio had all arrived, so it is not taken as a fault.)
- **STT**: the answer being spoken is marked ``incomplete`` in the transcript (the recording
  has its audio); an STT that can no longer do its job ends the interview with an apology.

Each degraded line is counted in ``conductor.degraded`` (metrics.json, the launcher's
Prometheus counter). Timeouts come from the settings: the LLM client's (providers/openai.py)
and the conductor's line deadlines (``FaultLimits``), which also catch a vendor that accepts
and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from loguru import logger
from pipecat.frames.frames import ErrorFrame

if TYPE_CHECKING:
    from pipecat.pipeline.worker import PipelineWorker

    from interview_pipeline.session import InterviewParts

#: After a failed end was asked for, how long the pipeline may take to drain before it is
#: cancelled (a dead TTS can hold queued frames).
CANCEL_AFTER_S = 5.0
#: Time allowed for the apology to be synthesised and played before that.
APOLOGY_S = 20.0
_REASON_CHARS = 160


class Role(StrEnum):
    STT = "stt"
    LLM = "llm"
    TTS = "tts"


def _reason(frame: ErrorFrame) -> str:
    """Short and safe for the session record: pipecat masks credentials in ``error``."""
    text = " ".join(str(frame.error).split())
    return text[:_REASON_CHARS]


class VendorFaultPolicy:
    """Hooked to the worker's ``on_pipeline_error``; acts through the conductor."""

    def __init__(self, parts: InterviewParts, worker: PipelineWorker) -> None:
        self.parts = parts
        self.worker = worker
        self.errors: dict[Role, int] = {}
        self._cancel: asyncio.Task[None] | None = None
        worker.add_event_handler("on_pipeline_error", self.on_error)
        worker.add_event_handler("on_pipeline_finished", self._finished)

    def role(self, processor: Any) -> Role | None:
        parts = self.parts
        for role, service in ((Role.STT, parts.stt), (Role.LLM, parts.llm), (Role.TTS, parts.tts)):
            if processor is service:
                return role
        return None

    async def on_error(self, _worker: Any, frame: ErrorFrame) -> None:
        role = self.role(frame.processor)
        if role is None:
            return  # not a vendor: pipecat's own handling stands
        self.errors[role] = self.errors.get(role, 0) + 1
        usable = frame.processor is None or frame.processor.is_usable
        reason = _reason(frame)
        conductor = self.parts.conductor
        logger.warning(f"vendor fault: {role} ({'recoverable' if usable else 'gone'}): {reason}")
        if role is Role.LLM:
            await conductor.llm_failed(reason)
        elif role is Role.TTS:
            if usable:
                await conductor.line_faulted()
            else:
                await self._end(f"TTS unavailable ({reason})", spoken=False)
        else:
            self.parts.transcript.mark_incomplete(f"STT failed ({reason})")
            conductor.degraded["stt"] = conductor.degraded.get("stt", 0) + 1
            if not usable:
                await self._end(f"STT unavailable ({reason})", spoken=True)

    async def _end(self, reason: str, *, spoken: bool) -> None:
        await self.parts.conductor.end_failed(reason, spoken=spoken)
        if self._cancel is None:
            # An apology needs a working TTS and time to be played; a stuck drain does not.
            delay = CANCEL_AFTER_S + (APOLOGY_S if spoken else 0.0)
            self._cancel = asyncio.create_task(self._cancel_if_stuck(reason, delay))

    async def _cancel_if_stuck(self, reason: str, delay: float) -> None:
        await asyncio.sleep(delay)
        logger.error(f"the pipeline did not end after a vendor failure: cancelling ({reason})")
        await self.worker.cancel(reason=reason)

    async def _finished(self, *_args: Any) -> None:
        task, self._cancel = self._cancel, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
