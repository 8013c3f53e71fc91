"""Postgres backend of the ``SessionStore``: one store for launchers and bot hosts on many machines.

psycopg 3's synchronous connection, because the store interface is synchronous (the SQLite
backend is, and the bots write turns from pipeline callbacks): each call is one short statement
or transaction on the launcher's or bot's own connection. Exclusive read-then-write sections
take a transaction-scoped advisory lock named by the session, so a launcher on one host and a
bot on another never hand out the same turn number or lose a status change's webhook event.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from interview_pipeline.launcher import migrations
from interview_pipeline.launcher.store import Row
from interview_pipeline.launcher.store_sql import SqlSessionStore


def describe_dsn(dsn: str) -> str:
    """Where a DSN points, for logs and errors: never its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgres (unparsable INTERVIEW_DATABASE_URL)"
    host, port, db = parts.get("host", "localhost"), parts.get("port", "5432"), parts.get("dbname")
    return f"postgres {parts.get('user') or '-'}@{host}:{port}/{db or '-'}"


class PostgresSessionStore(SqlSessionStore):
    def __init__(self, dsn: str, *, connect_timeout_s: int = 10):
        super().__init__()
        self._dsn = dsn
        self._timeout = connect_timeout_s
        self.where = describe_dsn(dsn)
        self._db: psycopg.Connection[dict[str, Any]] | None = None
        with self._tx("migrate"):
            migrations.migrate("postgres", self._rows, time.time())

    def _conn(self) -> psycopg.Connection[dict[str, Any]]:
        """The connection, opened again if the last one broke (a database restart, a network
        blip): the call that saw it break failed, the next one works."""
        if self._db is None or self._db.closed or self._db.broken:
            try:
                self._db = psycopg.connect(
                    self._dsn,
                    autocommit=True,
                    row_factory=dict_row,
                    connect_timeout=self._timeout,
                    application_name="interview_pipeline",
                )
            except psycopg.OperationalError as exc:
                # The driver's message may quote the DSN; say where, not how.
                raise psycopg.OperationalError(
                    f"cannot connect to {self.where}: {type(exc).__name__}"
                ) from None
        return self._db

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            cur = self._conn().execute(sql.replace("?", "%s"), [_clean(a) for a in args])
            return list(cur.fetchall()) if cur.description is not None else []

    @contextlib.contextmanager
    def _tx(self, key: str) -> Iterator[None]:
        with self._lock, self._conn().transaction():
            self._rows("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (key,))
            yield

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()


def _clean(value: Any) -> Any:
    """Postgres text cannot hold NUL, which SQLite (and so earlier launchers) accepted: store a
    replacement character instead of failing the write."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value
