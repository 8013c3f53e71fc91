"""SQLite (WAL) backend of the ``SessionStore``: the single-machine default.

Both the launcher and the bot processes write to it: each bot appends its own turns directly
(one short transaction per turn), so a bot that crashes mid-interview still leaves every turn
said so far, and a launcher restart loses nothing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from interview_pipeline.launcher import migrations
from interview_pipeline.launcher.store import Row, lenient_text
from interview_pipeline.launcher.store_sql import SqlSessionStore


class SqliteSessionStore(SqlSessionStore):
    """SQLite (WAL) store; safe to open from the launcher and from every bot process at once."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.where = f"sqlite {path}"
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: autocommit, explicit BEGIN IMMEDIATE where a read-then-write
        # must be atomic across processes (turn sequence numbers, status and its event).
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
        with self._tx("migrate"):
            migrations.migrate("sqlite", self._rows, time.time())

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @contextlib.contextmanager
    def _tx(self, key: str) -> Iterator[None]:
        # SQLite has one writer at a time: BEGIN IMMEDIATE takes that lock for any key.
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
