"""What a live session is and how its bot's outcome reads, apart from ``SessionManager``.

Split out of ``sessions`` so the manager (local pool, and the worker host's and dispatch
launcher's variants built on it) stays one readable module; ``Rejected`` is still importable from
``sessions``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.pool import WorkerProcess
from interview_pipeline.outcome import Outcome


class Rejected(Exception):
    """A request the launcher refuses; ``status`` is the HTTP status to answer with."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        valid: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.valid = valid
        self.headers = headers


@dataclass
class LiveSession:
    id: str
    room: str
    worker: WorkerProcess
    warm: bool
    accepted_at: float
    stop_reason: str | None = None
    candidate_joined: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task[None] | None = None


def pool_label(warm: bool) -> str:
    return "warm" if warm else "cold"


def final_status(value: Any, live: LiveSession) -> SessionStatus:
    """The bot's outcome as a session status. A bot stopped by DELETE or drain completed the
    interview if the candidate was there to hear the closing line; so did one whose outcome
    this launcher does not know (a newer bot), and otherwise it was abandoned."""
    try:
        outcome = Outcome(str(value))
    except ValueError:
        outcome = Outcome.STOPPED
    status = _STATUS_OF.get(outcome)
    if status is None:
        return SessionStatus.COMPLETED if live.candidate_joined else SessionStatus.ABANDONED
    return status


_STATUS_OF = {
    Outcome.COMPLETED: SessionStatus.COMPLETED,
    Outcome.ABANDONED: SessionStatus.ABANDONED,
    Outcome.FAILED: SessionStatus.FAILED,
}
