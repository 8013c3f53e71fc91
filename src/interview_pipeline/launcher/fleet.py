"""What launchers and worker hosts share in distributed mode: the job and the host registry.

A launcher in dispatch mode keeps no state of its own, and LiveKit's API does not tell it how
loaded the registered agent workers are (load is reported to the server, which uses it to pick
a worker but never shows it). So each worker host writes a heartbeat row into the shared store:
its capacity, its live sessions and whether it drains. Launchers read the rows for the 429
decision, and any launcher that finds a row whose lease has run out fails that host's sessions
(the bot died with its host; the turns it wrote stay). One table next to ``sessions`` in the same
database, so "the store is shared" is the only thing a deployment has to get right.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from interview_pipeline.launcher.models import TERMINAL, SessionStatus
from interview_pipeline.launcher.store import SessionStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (
    host_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    ready INTEGER NOT NULL DEFAULT 0,
    draining INTEGER NOT NULL DEFAULT 0,
    sessions TEXT NOT NULL DEFAULT '[]',
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL
);
"""


class DispatchedSession(BaseModel):
    """The job metadata of an agent dispatch: which session a worker host is to run.

    The launcher has already stored the session and created the room; the bot's token comes
    from LiveKit's job assignment, so nothing secret travels in the metadata.
    """

    model_config = ConfigDict(extra="ignore")

    session_id: str
    room: str
    persona: str
    candidate_name: str
    candidate_identity: str


@dataclass
class HostBeat:
    """One worker host as its last heartbeat described it."""

    host_id: str
    name: str
    capacity: int
    #: Warm bots idle in the pool: the host accepts a job only onto one of these.
    ready: int = 0
    draining: bool = False
    sessions: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    heartbeat_at: float = field(default_factory=time.time)

    @property
    def free(self) -> int:
        if self.draining:
            return 0
        return max(0, min(self.capacity - len(self.sessions), self.ready))


class WorkerRegistry:
    """The ``workers`` heartbeat table (SQLite; the same file as the session store)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path), timeout=10.0, isolation_level=None, check_same_thread=False
        )
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)

    def beat(self, host: HostBeat) -> None:
        host.heartbeat_at = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO workers (host_id, name, capacity, ready, draining, sessions,"
                " started_at, heartbeat_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(host_id) DO"
                " UPDATE SET capacity=excluded.capacity, ready=excluded.ready,"
                " draining=excluded.draining,"
                " sessions=excluded.sessions, heartbeat_at=excluded.heartbeat_at",
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

    def hosts(self) -> list[HostBeat]:
        with self._lock:
            rows = self._db.execute(
                "SELECT host_id, name, capacity, ready, draining, sessions, started_at,"
                " heartbeat_at"
                " FROM workers"
            ).fetchall()
        return [
            HostBeat(r[0], r[1], int(r[2]), int(r[3]), bool(r[4]), _ids(r[5]), r[6], r[7])
            for r in rows
        ]

    def remove(self, host_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM workers WHERE host_id = ?", (host_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _ids(raw: object) -> list[str]:
    try:
        ids = json.loads(str(raw))
    except ValueError:
        return []
    return [str(i) for i in ids] if isinstance(ids, list) else []


@dataclass
class Capacity:
    """Free sessions over the live hosts, for the 429 decision."""

    hosts: int
    free: int


def capacity(hosts: list[HostBeat], store: SessionStore, lease_s: float) -> Capacity:
    """Free slots over hosts alive within the lease, less sessions that no host has yet.

    A session is on no host's list between ``POST /sessions`` and a host's next heartbeat;
    counting those keeps a burst of requests from all being admitted against one free slot.
    """
    now = time.time()
    alive = [h for h in hosts if now - h.heartbeat_at <= lease_s]
    placed = {sid for h in alive for sid in h.sessions}
    unplaced = sum(
        1 for r in store.list_sessions(status=SessionStatus.STARTING, limit=10_000)
        if r.id not in placed and r.status not in TERMINAL
    )  # fmt: skip
    free = sum(h.free for h in alive) - unplaced
    return Capacity(hosts=sum(1 for h in alive if not h.draining), free=max(0, free))


def expired(hosts: list[HostBeat], lease_s: float) -> list[HostBeat]:
    now = time.time()
    return [h for h in hosts if now - h.heartbeat_at > lease_s]
