"""The worker hosts' heartbeat rows (dispatch mode), part of ``SqlSessionStore``.

A mixin so the store keeps one class per backend while each file stays about one concept;
it needs only the backend's ``_rows``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from interview_pipeline.launcher.store import HostBeat, Row


class WorkerRows:
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        raise NotImplementedError

    def beat_worker(self, host: HostBeat) -> None:
        """Write a host's heartbeat row (its first one creates it); ``heartbeat_at`` is now."""
        host.heartbeat_at = time.time()
        self._rows(
            "INSERT INTO workers (host_id, name, capacity, ready, draining, sessions, started_at,"
            " heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET"
            " capacity = excluded.capacity, ready = excluded.ready,"
            " draining = excluded.draining, sessions = excluded.sessions,"
            " heartbeat_at = excluded.heartbeat_at",
            (
                host.host_id,
                host.name,
                host.capacity,
                host.ready,
                int(host.draining),
                json.dumps(host.sessions),
                host.started_at,
                host.heartbeat_at,
            ),
        )

    def workers(self) -> list[HostBeat]:
        """Every host's last row, live or not: the caller decides by its lease (``fleet``)."""
        rows = self._rows(
            "SELECT host_id, name, capacity, ready, draining, sessions, started_at, heartbeat_at"
            " FROM workers ORDER BY host_id"
        )
        return [
            HostBeat(
                host_id=str(r["host_id"]),
                name=str(r["name"]),
                capacity=int(r["capacity"]),
                ready=int(r["ready"]),
                draining=bool(r["draining"]),
                sessions=_ids(r["sessions"]),
                started_at=float(r["started_at"]),
                heartbeat_at=float(r["heartbeat_at"]),
            )
            for r in rows
        ]

    def remove_worker(self, host_id: str) -> None:
        self._rows("DELETE FROM workers WHERE host_id = ?", (host_id,))


def _ids(raw: object) -> list[str]:
    """A host's session list; a damaged one reads as empty rather than failing every launcher."""
    try:
        ids = json.loads(str(raw))
    except (ValueError, RecursionError):
        return []
    return [str(i) for i in ids] if isinstance(ids, list) else []
