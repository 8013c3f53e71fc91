"""Session store: sessions and their transcript turns, behind a small interface.

SQLite in WAL mode is the default because both the launcher and the bot processes write to it:
each bot appends its own turns directly (one short transaction per turn), so a bot that crashes
mid-interview still leaves every turn said so far, and a launcher restart loses nothing. A shared
database for several launcher machines would implement the same ``SessionStore`` protocol.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

from interview_pipeline.launcher.models import TERMINAL, SessionStatus
from interview_pipeline.transcript import Speaker, Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    persona TEXT NOT NULL,
    candidate_name TEXT NOT NULL,
    candidate_email TEXT,
    candidate_identity TEXT NOT NULL,
    metadata TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    bot_joined_at REAL,
    candidate_joined_at REAL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions(status);
CREATE INDEX IF NOT EXISTS sessions_room ON sessions(room, created_at);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id),
    seq INTEGER NOT NULL,
    speaker TEXT NOT NULL,
    text TEXT NOT NULL,
    start REAL NOT NULL,
    "end" REAL NOT NULL,
    question_id TEXT,
    interrupted INTEGER NOT NULL DEFAULT 0,
    kind TEXT NOT NULL DEFAULT '',
    meta TEXT,
    written_at REAL NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""

#: Its own table, not columns of ``sessions``: existing stores need no migration for it.
_CONSENT_SCHEMA = """CREATE TABLE IF NOT EXISTS consents (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id),
    version TEXT NOT NULL, text_sha256 TEXT NOT NULL, accepted_at REAL NOT NULL);"""

_SESSION_COLUMNS = (
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
_UPDATABLE = frozenset(
    {"status", "reason", "bot_joined_at", "candidate_joined_at", "ended_at", "updated_at"}
)


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


@dataclass(frozen=True)
class ConsentRecord:
    """What the candidate accepted on their page before joining, and when (server clock)."""

    version: str
    text_sha256: str  # of the notice as shown (placeholders filled): which wording it was
    accepted_at: float


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
    def record_consent(self, session_id: str, consent: ConsentRecord) -> ConsentRecord: ...
    def consent(self, session_id: str) -> ConsentRecord | None: ...
    def close(self) -> None: ...


class SessionTranscriptSink:
    """The ``TranscriptSink`` a bot writes to: every turn lands in the store as it ends."""

    def __init__(self, store: SessionStore, session_id: str):
        self.store = store
        self.session_id = session_id

    def append(self, turn: Turn) -> None:
        self.store.append_turn(self.session_id, turn)


class SqliteSessionStore:
    """SQLite (WAL) store; safe to open from the launcher and from every bot process at once."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # isolation_level=None: autocommit, explicit BEGIN IMMEDIATE where a read-then-write
        # must be atomic across processes (turn sequence numbers).
        self._db = sqlite3.connect(
            str(path), timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        # Invalid UTF-8 written by another writer must not make a read raise.
        self._db.text_factory = _lenient_text
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            self._db.executescript(_CONSENT_SCHEMA)

    # --- sessions --------------------------------------------------------------------------
    def create(self, record: SessionRecord) -> None:
        values = [
            record.id,
            record.room,
            record.persona,
            record.candidate_name,
            record.candidate_email,
            record.candidate_identity,
            json.dumps(record.metadata, allow_nan=False) if record.metadata is not None else None,
            str(record.status),
            record.reason,
            record.created_at,
            record.updated_at,
            record.bot_joined_at,
            record.candidate_joined_at,
            record.ended_at,
        ]
        marks = ",".join("?" for _ in _SESSION_COLUMNS)
        with self._lock:
            self._db.execute(
                f"INSERT INTO sessions ({','.join(_SESSION_COLUMNS)}) VALUES ({marks})", values
            )

    def get(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return _record(row) if row else None

    def latest_in_room(self, room: str) -> SessionRecord | None:
        """The newest session ever made in ``room``, live or ended (its tokens may be alive)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM sessions WHERE room = ? ORDER BY created_at DESC LIMIT 1", (room,)
            ).fetchone()
        return _record(row) if row else None

    def list_sessions(
        self, status: SessionStatus | None = None, limit: int = 100
    ) -> list[SessionRecord]:
        query = "SELECT * FROM sessions"
        args: list[Any] = []
        if status is not None:
            query += " WHERE status = ?"
            args.append(str(status))
        query += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [_record(r) for r in rows]

    def update(self, session_id: str, **changes: Any) -> SessionRecord | None:
        """Apply changes, except that a session already ended stays as it ended."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        changes.setdefault("updated_at", time.time())
        cols = ", ".join(f"{k} = ?" for k in changes)
        args = [str(v) if isinstance(v, SessionStatus) else v for v in changes.values()]
        terminal = tuple(str(s) for s in TERMINAL)
        with self._lock:
            self._db.execute(
                f"UPDATE sessions SET {cols} WHERE id = ? AND status NOT IN (?, ?, ?)",
                [*args, session_id, *terminal],
            )
        return self.get(session_id)

    def count_by_status(self) -> dict[SessionStatus, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT status, COUNT(*) FROM sessions GROUP BY status"
            ).fetchall()
        counts = {s: 0 for s in SessionStatus}
        for status, n in rows:
            counts[_status(status)[0]] += n
        return counts

    # --- transcript --------------------------------------------------------------------------
    def append_turn(self, session_id: str, turn: Turn) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                (seq,) = self._db.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE session_id = ?",
                    (session_id,),
                ).fetchone()
                self._db.execute(
                    'INSERT INTO turns (session_id, seq, speaker, text, start, "end", question_id,'
                    " interrupted, kind, meta, written_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        session_id,
                        seq,
                        turn.speaker,
                        turn.text,
                        turn.start,
                        turn.end,
                        turn.question_id,
                        int(turn.interrupted),
                        turn.kind,
                        json.dumps(turn.meta, default=str) if turn.meta else None,
                        time.time(),
                    ),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return int(seq)

    def turns(self, session_id: str, after: int = 0) -> list[StoredTurn]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM turns WHERE session_id = ? AND seq > ? ORDER BY seq",
                (session_id, after),
            ).fetchall()
        return [
            StoredTurn(
                seq=r["seq"],
                turn=Turn(
                    speaker=cast(Speaker, _str(r["speaker"])),
                    text=_str(r["text"]),
                    start=r["start"],
                    end=r["end"],
                    question_id=_text(r["question_id"]),
                    interrupted=bool(r["interrupted"]),
                    kind=_str(r["kind"]),
                    meta=_turn_meta(r["meta"]),
                ),
                written_at=r["written_at"],
            )
            for r in rows
        ]

    # --- consent ---------------------------------------------------------------------------
    def record_consent(self, session_id: str, consent: ConsentRecord) -> ConsentRecord:
        """Keep the first acceptance: a reloaded page accepting again does not move its time."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO consents (session_id, version, text_sha256, accepted_at)"
                " VALUES (?,?,?,?)",
                (session_id, consent.version, consent.text_sha256, consent.accepted_at),
            )
        return self.consent(session_id) or consent

    def consent(self, session_id: str) -> ConsentRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM consents WHERE session_id = ?", (session_id,)
            ).fetchone()
        if row is None:
            return None
        return ConsentRecord(_str(row["version"]), _str(row["text_sha256"]), row["accepted_at"])

    def sink(self, session_id: str) -> SessionTranscriptSink:
        return SessionTranscriptSink(self, session_id)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: sqlite3.Row) -> SessionRecord:
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
    status, known = _status(row["status"])
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


def _status(value: object) -> tuple[SessionStatus, bool]:
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
        return _lenient_text(value)
    return str(value)


def _str(value: object) -> str:
    return _text(value) or ""


def _lenient_text(raw: bytes) -> str:
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
