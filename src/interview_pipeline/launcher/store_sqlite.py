"""SQLite (WAL) implementation of the ``SessionStore`` protocol: the single-machine default.

Both the launcher and the bot processes write to it: each bot appends its own turns directly
(one short transaction per turn), so a bot that crashes mid-interview still leaves every turn
said so far, and a launcher restart loses nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from interview_pipeline.launcher.models import TERMINAL, SessionStatus
from interview_pipeline.launcher.store import (
    SESSION_COLUMNS,
    UPDATABLE,
    SessionRecord,
    SessionTranscriptSink,
    StoredTurn,
    lenient_text,
    read_record,
    read_status,
    read_turn,
)
from interview_pipeline.transcript import Turn

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
        self._db.text_factory = lenient_text
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)

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
        marks = ",".join("?" for _ in SESSION_COLUMNS)
        with self._lock:
            self._db.execute(
                f"INSERT INTO sessions ({','.join(SESSION_COLUMNS)}) VALUES ({marks})", values
            )

    def get(self, session_id: str) -> SessionRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return read_record(row) if row else None

    def latest_in_room(self, room: str) -> SessionRecord | None:
        """The newest session ever made in ``room``, live or ended (its tokens may be alive)."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM sessions WHERE room = ? ORDER BY created_at DESC LIMIT 1", (room,)
            ).fetchone()
        return read_record(row) if row else None

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
        return [read_record(r) for r in rows]

    def update(self, session_id: str, **changes: Any) -> SessionRecord | None:
        """Apply changes, except that a session already ended stays as it ended."""
        unknown = set(changes) - UPDATABLE
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
            counts[read_status(status)[0]] += n
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
        return [read_turn(r) for r in rows]

    def sink(self, session_id: str) -> SessionTranscriptSink:
        return SessionTranscriptSink(self, session_id)

    def close(self) -> None:
        with self._lock:
            self._db.close()
