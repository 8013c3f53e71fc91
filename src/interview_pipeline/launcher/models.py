"""The launcher's HTTP shapes (pydantic), kept apart from routes so clients can read them alone.

Request models forbid unknown keys: a company backend that misspells ``candidate`` should get
a 422 naming the field, not a session created with defaults. Everything a request may carry is
bounded here so that whatever is accepted can be stored and served back on every later read.
"""

from __future__ import annotations

import json
import math
import unicodedata
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

#: Metadata is the company's own JSON, stored with the session and returned on every read; these
#: bound what one session costs to store and serve (a 900-deep object once made every read 500).
MAX_METADATA_DEPTH = 8
MAX_METADATA_BYTES = 16 * 1024

#: Unicode categories no text field may hold: controls (Cc: C0, DEL, C1; a NUL in a name made
#: Piper fail and the greeting silently empty), lone surrogates (Cs: not UTF-8, so not storable)
#: and the line and paragraph separators (Zl, Zp: these fields are one line). Format characters
#: (Cf, e.g. ZWJ, ZWNJ) stay: real names and emoji need them.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _printable(value: str) -> str:
    """Refuse rather than strip: a silently altered name would greet the candidate wrongly."""
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in REFUSED_CATEGORIES:
            raise ValueError(
                f"character U+{ord(ch):04X} ({category}) at position {i} is not allowed: "
                "no control characters, lone surrogates or line breaks"
            )
    return value


def metadata_problem(value: object) -> str | None:
    """Why ``value`` cannot be stored and served back as metadata; None when it can.

    The one rule for both directions: requests that break it get a 422, and a stored record that
    breaks it (written before the rule, or by another writer) is served with its metadata
    withheld. Iterative, so a deeply nested value is measured without recursing.
    """
    if not isinstance(value, dict):
        return "must be a JSON object"
    stack: list[tuple[dict[Any, Any] | list[Any], int, str]] = [(value, 1, "metadata")]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            return f"nests deeper than {MAX_METADATA_DEPTH} levels (at {path})"
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(node, dict) and not isinstance(key, str):
                return f"keys must be strings (at {path})"
            where = f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]"
            if isinstance(key, str) and _has_surrogate(key):
                return f"keys must be valid Unicode (at {path})"
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, where))
            elif isinstance(child, float) and not math.isfinite(child):
                return f"NaN and Infinity are not JSON (at {where})"
            elif isinstance(child, str) and _has_surrogate(child):
                return f"strings must be valid Unicode, no lone surrogates (at {where})"
            elif child is not None and not isinstance(child, bool | int | float | str):
                return f"{type(child).__name__} is not a JSON value (at {where})"
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_METADATA_BYTES:
        return f"is {size} bytes as JSON; at most {MAX_METADATA_BYTES}"
    return None


def _has_surrogate(text: str) -> bool:
    """Lone surrogates are the only code points strict UTF-8 cannot encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    problem = metadata_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


#: One line of human text (a name): surrounding whitespace stripped, controls refused.
Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(_printable),
    Field(
        description="One line of text; surrounding whitespace is stripped, control characters "
        "(C0, DEL, C1), lone surrogates and line/paragraph separators are refused (422)."
    ),
]
Metadata = Annotated[
    dict[str, Any],
    AfterValidator(_metadata),
    Field(
        description=f"Any JSON object, returned as given: at most {MAX_METADATA_DEPTH} levels "
        f"deep and {MAX_METADATA_BYTES} bytes as JSON; no NaN or Infinity."
    ),
]

#: LiveKit accepts far more, but these names end up in URLs, logs and file names.
RoomName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
#: Deliberately loose (no email-validator dependency): the address is only stored and shown.
Email = Annotated[
    str,
    StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254),
    AfterValidator(_printable),
]
Identity = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")]
#: The bot's identity in every room; a candidate may not take it (the page and the bot tell the
#: two apart by identity). Here, not in livekit.py, so the request model can refuse it.
BOT_IDENTITY = "interviewer"
#: The launcher's ids are 32 hex digits; the bound keeps a 404 from echoing a megabyte back.
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


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

    #: Spoken in the greeting (TTS) and shown on the page; control characters are refused.
    name: Line
    email: Email | None = None
    #: The candidate's LiveKit identity; default ``candidate``.
    identity: Identity | None = None

    @field_validator("identity")
    @classmethod
    def _not_the_bot(cls, value: str | None) -> str | None:
        if value == BOT_IDENTITY:
            raise ValueError(f"identity {BOT_IDENTITY!r} is reserved for the interviewer")
        return value


class CreateSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    persona: str = Field(min_length=1, max_length=64)
    candidate: Candidate
    room: RoomName | None = None
    metadata: Metadata | None = None


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


class WebhooksOut(BaseModel):
    """This session's webhook events (only for a session that has a webhook endpoint)."""

    delivered: int
    pending: int
    #: Given up after INTERVIEW_WEBHOOK_MAX_ATTEMPTS.
    dead: int
    #: The next event to deliver has failed at least once and is being retried.
    failing: bool
    last_error: str | None = None


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
    webhooks: WebhooksOut | None = None
    #: Stored fields not served as stored, with why: a record damaged in the store (written
    #: before today's limits, or by another writer) is served without them rather than not at all.
    withheld: dict[str, str] | None = None


class SessionList(BaseModel):
    sessions: list[SessionOut]
    #: Pass as ``cursor`` for the next page; ``None`` on the last page.
    next_cursor: str | None = None


class Problem(BaseModel):
    """Every error body: a human sentence, plus the field at fault when there is one."""

    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None
    valid: list[str] | None = None


def problems(
    descriptions: dict[int, str], *, retry_after: tuple[int, ...] = ()
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the error statuses a route really answers (each a ``Problem``);
    the statuses listed in ``retry_after`` always carry a Retry-After header."""
    docs: dict[int | str, dict[str, Any]] = {}
    for status, description in descriptions.items():
        doc: dict[str, Any] = {"model": Problem, "description": description}
        if status in retry_after:
            doc["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "string"},
                }
            }
        docs[status] = doc
    return docs


#: The statuses several routes share, worded once.
UNAUTHORISED = "missing or wrong API key"
INVALID = "invalid request; `field` names the culprit"
TOO_LARGE = "request body larger than INTERVIEW_MAX_BODY_BYTES (any route; `field` is `body`)"
NO_SESSION = "no such session"
