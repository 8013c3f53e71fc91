"""The ``SessionStore`` queries, written once for both backends.

SQLite and Postgres differ here only in how a statement runs (``_rows``) and how a write
transaction is made exclusive (``_tx``): SQLite takes the database's write lock (``BEGIN
IMMEDIATE``), Postgres an advisory lock on the session, so that a read-then-write (the next turn
number, a status change and its webhook event) is atomic across processes and hosts. Statements
use ``?`` marks; the Postgres backend turns them into its own.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from interview_pipeline.launcher.models import TERMINAL, SessionStatus
from interview_pipeline.launcher.store import (
    SESSION_COLUMNS,
    UPDATABLE,
    ConsentRecord,
    OutboxEvent,
    Row,
    SessionRecord,
    SessionTranscriptSink,
    StoredTurn,
    WebhookState,
    event_body,
    read_consent,
    read_record,
    read_status,
    read_turn,
)
from interview_pipeline.launcher.store_workers import WorkerRows
from interview_pipeline.transcript import Turn

_TERMINAL = tuple(str(s) for s in TERMINAL)
_LIVE = f"status NOT IN ({', '.join('?' for _ in _TERMINAL)})"
#: Statuses of a session with a bot (a status this launcher does not know is left alone).
_ACTIVE_ARGS = tuple(str(s) for s in SessionStatus if s not in TERMINAL)
_ACTIVE = f"status IN ({', '.join('?' for _ in _ACTIVE_ARGS)})"

#: An event still to deliver (neither delivered nor given up).
_OPEN = "delivered_at IS NULL AND dead_at IS NULL"


class SqlSessionStore(WorkerRows):
    """Every store operation; a backend supplies ``_rows`` and ``_tx``."""

    #: Where the store is, for logs: never a password.
    where: str = "store"

    def __init__(self) -> None:
        # One connection per store object, used by one thread at a time; re-entrant so that a
        # statement inside a transaction takes the lock the transaction already holds.
        self._lock = threading.RLock()

    # --- what a backend provides ------------------------------------------------------------
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def _tx(self, key: str) -> contextlib.AbstractContextManager[None]:
        """An exclusive write transaction for ``key`` (a session id, or a named job)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

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
            record.owner,
            record.webhook,
        ]
        marks = ",".join("?" for _ in SESSION_COLUMNS)
        self._rows(f"INSERT INTO sessions ({','.join(SESSION_COLUMNS)}) VALUES ({marks})", values)

    def get(self, session_id: str) -> SessionRecord | None:
        rows = self._rows("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return read_record(rows[0]) if rows else None

    def latest_in_room(self, room: str) -> SessionRecord | None:
        """The newest session ever made in ``room``, live or ended (its tokens may be alive)."""
        rows = self._rows(
            "SELECT * FROM sessions WHERE room = ? ORDER BY created_at DESC LIMIT 1", (room,)
        )
        return read_record(rows[0]) if rows else None

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
        return [read_record(r) for r in self._rows(query, args)]

    def update(self, session_id: str, **changes: Any) -> SessionRecord | None:
        """Apply changes, except that a session already ended stays as it ended. A status
        change of a session with webhooks queues its event in the same transaction."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        now = time.time()
        changes.setdefault("updated_at", now)
        cols = ", ".join(f"{k} = ?" for k in changes)
        args = [str(v) if isinstance(v, SessionStatus) else v for v in changes.values()]
        with self._tx(session_id):
            before = self._rows(
                f"SELECT status, webhook, reason FROM sessions WHERE id = ? AND {_LIVE}",
                (session_id, *_TERMINAL),
            )
            if before:
                self._rows(f"UPDATE sessions SET {cols} WHERE id = ?", [*args, session_id])
                old, new = str(before[0]["status"]), changes.get("status")
                if new is not None and str(new) != old and before[0]["webhook"] is not None:
                    data = {
                        "status": str(new),
                        "previous": old,
                        "reason": changes.get("reason", before[0]["reason"]),
                    }
                    self._insert_event(session_id, "session.status_changed", data, now)
        return self.get(session_id)

    def count_by_status(self) -> dict[SessionStatus, int]:
        rows = self._rows("SELECT status, COUNT(*) AS n FROM sessions GROUP BY status")
        counts = {s: 0 for s in SessionStatus}
        for row in rows:
            counts[read_status(row["status"])[0]] += int(row["n"])
        return counts

    # --- transcript --------------------------------------------------------------------------
    def append_turn(self, session_id: str, turn: Turn) -> int:
        with self._tx(session_id):
            (row,) = self._rows(
                "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM turns WHERE session_id = ?",
                (session_id,),
            )
            seq = int(row["seq"])
            self._rows(
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
        return seq

    def turns(self, session_id: str, after: int = 0) -> list[StoredTurn]:
        rows = self._rows(
            "SELECT * FROM turns WHERE session_id = ? AND seq > ? ORDER BY seq",
            (session_id, after),
        )
        return [read_turn(r) for r in rows]

    def sink(self, session_id: str) -> SessionTranscriptSink:
        return SessionTranscriptSink(self, session_id)

    # --- several launchers on one store --------------------------------------------------------
    def heartbeat(self, launcher_id: str, now: float | None = None) -> None:
        """Renew this launcher's lease (it is alive, its live sessions are its own)."""
        self._rows(
            "INSERT INTO launchers (id, heartbeat_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE"
            " SET heartbeat_at = excluded.heartbeat_at",
            (launcher_id, time.time() if now is None else now),
        )

    def take_over(
        self, launcher_id: str, lease_s: float, *, own: bool, now: float | None = None
    ) -> list[SessionRecord]:
        """The live sessions ``launcher_id`` must now close (returned with their previous
        owner), made its own: those of launchers
        whose lease ran out (or of none: rows from before owners), and with ``own`` (start-up,
        when its bots died with it) its own. Ended sessions of dead launchers whose webhooks
        are still pending move to it too, so someone delivers them. A live launcher's sessions
        are never taken."""
        now = time.time() if now is None else now
        orphan = (
            "(owner IS NULL OR (owner <> ? AND owner NOT IN"
            " (SELECT id FROM launchers WHERE heartbeat_at >= ?)))"
        )
        whose = f"({orphan} OR owner = ?)" if own else orphan
        whose_args = [launcher_id, now - lease_s, *([launcher_id] if own else [])]
        with self._tx("take_over"):
            rows = self._rows(
                f"SELECT * FROM sessions WHERE {_ACTIVE} AND {whose}", [*_ACTIVE_ARGS, *whose_args]
            )
            self._rows(
                f"UPDATE sessions SET owner = ? WHERE NOT {_LIVE} AND {orphan} AND EXISTS"
                f" (SELECT 1 FROM webhook_events e WHERE e.session_id = sessions.id AND {_OPEN})",
                [launcher_id, *_TERMINAL, launcher_id, now - lease_s],
            )
            for row in rows:
                self._rows("UPDATE sessions SET owner = ? WHERE id = ?", (launcher_id, row["id"]))
        return [read_record(row) for row in rows]  # as they were: ``owner`` says whose

    # --- webhook outbox ------------------------------------------------------------------------
    def add_event(self, session_id: str, type: str, data: dict[str, Any]) -> str | None:
        """Queue an event for the session's webhook; None (nothing queued) if it has none."""
        with self._tx(session_id):
            rows = self._rows("SELECT webhook FROM sessions WHERE id = ?", (session_id,))
            if not rows or rows[0]["webhook"] is None:
                return None
            return self._insert_event(session_id, type, data, time.time())

    def _insert_event(self, session_id: str, type: str, data: dict[str, Any], now: float) -> str:
        event_id = uuid.uuid4().hex
        self._rows(
            "INSERT INTO webhook_events (event_id, session_id, type, body, created_at, retry_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                event_id,
                session_id,
                type,
                event_body(event_id, type, session_id, now, data),
                now,
                now,
            ),
        )
        return event_id

    def due_events(self, launcher_id: str, now: float, limit: int = 50) -> list[OutboxEvent]:
        """Each of this launcher's sessions' oldest undelivered event, if its retry is due: a
        session's next event waits until the one before it is delivered (or given up)."""
        rows = self._rows(
            "SELECT e.n, e.event_id, e.session_id, e.type, e.body, e.attempts, s.webhook"
            " FROM webhook_events e JOIN sessions s ON s.id = e.session_id"
            " WHERE s.owner = ? AND e.retry_at <= ? AND e.n IN (SELECT MIN(n) FROM webhook_events"
            f" WHERE {_OPEN} GROUP BY session_id)"
            " ORDER BY e.n LIMIT ?",
            (launcher_id, now, limit),
        )
        return [
            OutboxEvent(
                n=int(r["n"]),
                event_id=str(r["event_id"]),
                session_id=str(r["session_id"]),
                type=str(r["type"]),
                body=str(r["body"]),
                webhook=r["webhook"],
                attempts=int(r["attempts"]),
            )
            for r in rows
        ]

    def event_result(
        self, n: int, *, delivered: bool, error: str | None = None, retry_at: float | None = None
    ) -> None:
        """One attempt's outcome: delivered; failed, retried at ``retry_at``; or (failed with
        no ``retry_at``) given up."""
        now = time.time()
        args: list[Any]
        if delivered:
            sql, args = "delivered_at = ?", [now]
        elif retry_at is not None:
            sql, args = "retry_at = ?, last_error = ?", [retry_at, error]
        else:
            sql, args = "dead_at = ?, last_error = ?", [now, error]
        self._rows(
            f"UPDATE webhook_events SET attempts = attempts + 1, {sql} WHERE n = ?", [*args, n]
        )

    def webhook_state(self, session_id: str) -> WebhookState:
        counts = self._webhook_counts("WHERE session_id = ?", (session_id,))
        rows = self._rows(
            "SELECT last_error FROM webhook_events WHERE session_id = ? AND last_error IS NOT NULL"
            " ORDER BY n DESC LIMIT 1",
            (session_id,),
        )
        return WebhookState(
            delivered=counts["delivered"],
            pending=counts["pending"],
            dead=counts["dead"],
            failing=counts["failing"] > 0,
            last_error=str(rows[0]["last_error"]) if rows else None,
        )

    # --- the candidate's consent ----------------------------------------------------------
    def record_consent(self, session_id: str, consent: ConsentRecord) -> ConsentRecord:
        """Keep the first acceptance: a reloaded page accepting again does not move its time."""
        self._rows(
            "INSERT INTO consents (session_id, version, text_sha256, accepted_at)"
            " VALUES (?,?,?,?) ON CONFLICT (session_id) DO NOTHING",
            (session_id, consent.version, consent.text_sha256, consent.accepted_at),
        )
        return self.consent(session_id) or consent

    def consent(self, session_id: str) -> ConsentRecord | None:
        rows = self._rows("SELECT * FROM consents WHERE session_id = ?", (session_id,))
        return read_consent(rows[0]) if rows else None

    # --- review pages: keyset pagination --------------------------------------------------
    def list_page(
        self,
        *,
        status: SessionStatus | None = None,
        persona: str | None = None,
        before: tuple[float | str, str] | None = None,
        limit: int = 100,
    ) -> list[SessionRecord]:
        """Newest first by (created_at, id); ``before``: the key of the last row of the previous
        page. An index per filter (migration step 4) keeps every page as fast as the first."""
        where: list[str] = []
        args: list[Any] = []
        if status is not None:
            where.append("status = ?")
            args.append(str(status))
        if persona is not None:
            where.append("persona = ?")
            args.append(persona)
        if before is not None:
            where.append("(created_at, id) < (?, ?)")
            args.extend(before)
        query = "SELECT * FROM sessions"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY created_at DESC, id DESC LIMIT ?"
        args.append(limit)
        return [read_record(r) for r in self._rows(query, args)]

    def webhook_counts(self) -> dict[str, int]:
        """Events in the whole store: delivered, pending, failing (pending, tried), dead."""
        return self._webhook_counts("", ())

    def _webhook_counts(self, where: str, args: Sequence[Any]) -> dict[str, int]:
        (row,) = self._rows(
            "SELECT"
            " SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS delivered,"
            f" SUM(CASE WHEN {_OPEN} THEN 1 ELSE 0 END) AS pending,"
            f" SUM(CASE WHEN {_OPEN} AND attempts > 0 THEN 1 ELSE 0 END) AS failing,"
            " SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END) AS dead"
            f" FROM webhook_events {where}",
            args,
        )
        return {k: int(row[k] or 0) for k in ("delivered", "pending", "failing", "dead")}
