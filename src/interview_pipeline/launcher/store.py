"""Session store: sessions and their transcript turns, behind one small interface.

The launcher and every bot process write to the store (bots append their own turns as they are
said, so a crash keeps them). The records, the protocol and the row decoding live here, shared by
the backends: SQLite (``store_sqlite``, the single-machine default).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.transcript import Speaker, Turn

SESSION_COLUMNS = (
    "id",
    "room",
    "persona",
    "candidate_name",
    "candidate_email",
    "candidate_identity",
    "metadata",
    "status",
    "reason",
    "created_at",
    "updated_at",
    "bot_joined_at",
    "candidate_joined_at",
    "ended_at",
)
UPDATABLE = frozenset(
    {"status", "reason", "bot_joined_at", "candidate_joined_at", "ended_at", "updated_at"}
)

#: A fetched row, by column name (``sqlite3.Row`` and psycopg's dict rows both are).
Row = Mapping[str, Any]


@dataclass
class SessionRecord:
    id: str
    room: str
    persona: str
    candidate_name: str
    candidate_identity: str
    status: SessionStatus = SessionStatus.STARTING
    candidate_email: str | None = None
    metadata: dict[str, Any] | None = None
    reason: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    bot_joined_at: float | None = None
    candidate_joined_at: float | None = None
    ended_at: float | None = None
    #: Stored values that could not be read back as written, with why (the field holds a
    #: stand-in): reads serve what they can instead of failing on one damaged row.
    damaged: dict[str, str] = field(default_factory=dict)


@dataclass
class StoredTurn:
    seq: int
    turn: Turn
    #: Wall clock when the turn reached the store (turn times are the pipeline's own clock).
    written_at: float = 0.0


class SessionStore(Protocol):
    """What the launcher and the bots need from persistence; nothing SQLite-specific."""

    def create(self, record: SessionRecord) -> None: ...
    def get(self, session_id: str) -> SessionRecord | None: ...
    def latest_in_room(self, room: str) -> SessionRecord | None: ...
    def list_sessions(
        self, status: SessionStatus | None = None, limit: int = 100
    ) -> list[SessionRecord]: ...
    def update(self, session_id: str, **changes: Any) -> SessionRecord | None: ...
    def append_turn(self, session_id: str, turn: Turn) -> int: ...
    def turns(self, session_id: str, after: int = 0) -> list[StoredTurn]: ...
    def count_by_status(self) -> dict[SessionStatus, int]: ...
    def close(self) -> None: ...


class SessionTranscriptSink:
    """The ``TranscriptSink`` a bot writes to: every turn lands in the store as it ends."""

    def __init__(self, store: SessionStore, session_id: str):
        self.store = store
        self.session_id = session_id

    def append(self, turn: Turn) -> None:
        self.store.append_turn(self.session_id, turn)


def read_record(row: Row) -> SessionRecord:
    """Never raises: a row another writer (or an older launcher) damaged is read with stand-ins
    and ``damaged`` saying why, so one bad row cannot take ``GET /sessions`` down."""
    damaged: dict[str, str] = {}
    metadata: dict[str, Any] | None = None
    if row["metadata"]:
        try:
            loaded = json.loads(_str(row["metadata"]))
        except (ValueError, RecursionError) as exc:
            damaged["metadata"] = f"stored metadata is not readable JSON ({type(exc).__name__})"
        else:
            if isinstance(loaded, dict):
                metadata = loaded
            else:
                damaged["metadata"] = "stored metadata is not a JSON object"
    status, known = read_status(row["status"])
    if not known:
        damaged["status"] = f"stored status {_text(row['status'])!r} is unknown; served as failed"
    return SessionRecord(
        id=_str(row["id"]),
        room=_str(row["room"]),
        persona=_str(row["persona"]),
        candidate_name=_str(row["candidate_name"]),
        candidate_email=_text(row["candidate_email"]),
        candidate_identity=_str(row["candidate_identity"]),
        metadata=metadata,
        status=status,
        reason=_text(row["reason"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        bot_joined_at=row["bot_joined_at"],
        candidate_joined_at=row["candidate_joined_at"],
        ended_at=row["ended_at"],
        damaged=damaged,
    )


def read_turn(row: Row) -> StoredTurn:
    """A stored turn; like ``read_record``, it never raises on a damaged row."""
    return StoredTurn(
        seq=row["seq"],
        turn=Turn(
            speaker=cast(Speaker, _str(row["speaker"])),
            text=_str(row["text"]),
            start=row["start"],
            end=row["end"],
            question_id=_text(row["question_id"]),
            interrupted=bool(row["interrupted"]),
            kind=_str(row["kind"]),
            meta=_turn_meta(row["meta"]),
        ),
        written_at=row["written_at"],
    )


def read_status(value: object) -> tuple[SessionStatus, bool]:
    """The stored status, or (failed, False) for one this launcher does not know."""
    try:
        return SessionStatus(_str(value)), True
    except ValueError:
        return SessionStatus.FAILED, False


def _text(value: object) -> str | None:
    """A TEXT column as str: a BLOB (or a number another writer stored) becomes text too."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return lenient_text(value)
    return str(value)


def _str(value: object) -> str:
    return _text(value) or ""


def lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _turn_meta(raw: object) -> dict[str, Any]:
    """A turn's meta is diagnostics only: unreadable meta reads as empty, never as an error."""
    if not raw:
        return {}
    try:
        meta = json.loads(_str(raw))
    except (ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def __getattr__(name: str) -> Any:
    """``SqliteSessionStore`` is still importable from here (it lived here before the split)."""
    if name == "SqliteSessionStore":
        from interview_pipeline.launcher.store_sqlite import SqliteSessionStore

        return SqliteSessionStore
    raise AttributeError(name)
