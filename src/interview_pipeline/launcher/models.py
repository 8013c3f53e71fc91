"""The launcher's HTTP shapes (pydantic), kept apart from routes so clients can read them alone.

Request models forbid unknown keys: a company backend that misspells ``candidate`` should get
a 422 naming the field, not a session created with defaults.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: LiveKit accepts far more, but these names end up in URLs, logs and file names.
RoomName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
#: Deliberately loose (no email-validator dependency): the address is only stored and shown.
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Identity = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")]


class SessionStatus(StrEnum):
    STARTING = "starting"
    WAITING_FOR_CANDIDATE = "waiting_for_candidate"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.ABANDONED})


class Candidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    email: Email | None = None
    #: The candidate's LiveKit identity; default ``candidate``.
    identity: Identity | None = None


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona: str = Field(min_length=1, max_length=64)
    candidate: Candidate
    room: RoomName | None = None
    metadata: dict[str, Any] | None = None


class SessionCreated(BaseModel):
    session_id: str
    room: str
    livekit_url: str
    candidate_token: str
    join_url: str
    status: SessionStatus


class TurnOut(BaseModel):
    seq: int
    speaker: str
    text: str
    start: float
    end: float
    question_id: str | None = None
    interrupted: bool = False
    kind: str = ""


class SessionOut(BaseModel):
    session_id: str
    room: str
    persona: str
    candidate_name: str
    candidate_email: str | None = None
    candidate_identity: str
    metadata: dict[str, Any] | None = None
    status: SessionStatus
    reason: str | None = None
    created_at: float
    updated_at: float
    bot_joined_at: float | None = None
    candidate_joined_at: float | None = None
    ended_at: float | None = None
    transcript: list[TurnOut] | None = None


class SessionList(BaseModel):
    sessions: list[SessionOut]


class Problem(BaseModel):
    """Every error body: a human sentence, plus the field at fault when there is one."""

    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    valid: list[str] | None = None
