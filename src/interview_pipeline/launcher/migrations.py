"""Versioned schema for both store backends: numbered steps and a ``schema_migrations`` table.

Why not alembic: the schema is a handful of tables, written by the launcher and by every bot
process, which all migrate on open. Each step is plain SQL per dialect, applied once, in order,
inside one transaction that also holds the backend's migration lock (SQLite: ``BEGIN
IMMEDIATE``; Postgres: an advisory lock), so processes opening a store at the same moment apply
it once. Step 1 is the schema the launcher had before versioning (``IF NOT EXISTS``), so a data
directory from before is adopted as version 1 and moved on from there.

A step is never edited once released; a change is a new step at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Step:
    version: int
    why: str
    sql: dict[Dialect, str]


def _both(sql: str) -> dict[Dialect, str]:
    return {"sqlite": sql, "postgres": sql.replace(" REAL", " DOUBLE PRECISION")}


#: Per dialect: its floating-point type and its auto-numbered primary key.
_DIALECT_TYPES: tuple[tuple[Dialect, str, str], ...] = (
    ("sqlite", "REAL", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("postgres", "DOUBLE PRECISION", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
)

STEPS: Sequence[Step] = (
    Step(
        1,
        "sessions and their turns (the schema before versioning)",
        _both(
            """
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
)
"""
        ),
    ),
    Step(
        2,
        "several launchers (session owner, leases) and the webhook outbox",
        {
            dialect: f"""
ALTER TABLE sessions ADD COLUMN owner TEXT;
ALTER TABLE sessions ADD COLUMN webhook TEXT;
CREATE INDEX sessions_owner ON sessions(owner, status);
CREATE TABLE launchers (
    id TEXT PRIMARY KEY,
    heartbeat_at {real} NOT NULL
);
CREATE TABLE webhook_events (
    n {serial},
    event_id TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at {real} NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_at {real} NOT NULL,
    delivered_at {real},
    dead_at {real},
    last_error TEXT
);
CREATE INDEX webhook_events_open ON webhook_events(session_id, n) WHERE delivered_at IS NULL
    AND dead_at IS NULL
"""
            for dialect, real, serial in _DIALECT_TYPES
        },
    ),
    Step(
        3,
        "the candidate's consent (its own table: one row per session, the first acceptance)",
        _both(
            """
CREATE TABLE consents (
    session_id TEXT PRIMARY KEY REFERENCES sessions(id),
    version TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    accepted_at REAL NOT NULL
)
"""
        ),
    ),
    Step(
        4,
        "worker hosts' heartbeat rows (dispatch mode: capacity and dead-host detection)",
        # IF NOT EXISTS: a SQLite file a pre-store worker host already wrote this table into.
        _both(
            """
CREATE TABLE IF NOT EXISTS workers (
    host_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    ready INTEGER NOT NULL DEFAULT 0,
    draining INTEGER NOT NULL DEFAULT 0,
    sessions TEXT NOT NULL DEFAULT '[]',
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
)
"""
        ),
    ),
    Step(
        5,
        "keyset pagination of the session list, newest first, optionally by status or persona",
        _both(
            """
CREATE INDEX sessions_page ON sessions(created_at, id);
CREATE INDEX sessions_status_page ON sessions(status, created_at, id);
CREATE INDEX sessions_persona_page ON sessions(persona, created_at, id)
"""
        ),
    ),
)

LATEST = STEPS[-1].version

_TABLE = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)",
    "postgres": "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
}


def migrate(
    dialect: Dialect,
    execute: Callable[[str, Sequence[Any]], list[Any]],
    now: float,
    steps: Sequence[Step] = STEPS,
) -> list[int]:
    """Apply the steps not yet applied; the versions applied. The caller holds the migration
    lock and the transaction (``execute`` runs one statement inside it and returns its rows)."""
    mark = "?" if dialect == "sqlite" else "%s"
    execute(_TABLE[dialect], ())
    rows = execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations", ())
    current = int(rows[0]["v"])
    if current > steps[-1].version:
        raise RuntimeError(
            f"store schema is version {current}, newer than this launcher knows "
            f"({steps[-1].version}): upgrade the launcher, or point it at another store"
        )
    applied = []
    for step in steps:
        if step.version <= current:
            continue
        for statement in step.sql[dialect].split(";\n"):
            if statement.strip():
                execute(statement, ())
        execute(
            f"INSERT INTO schema_migrations (version, applied_at) VALUES ({mark}, {mark})",
            (step.version, now),
        )
        applied.append(step.version)
    return applied
