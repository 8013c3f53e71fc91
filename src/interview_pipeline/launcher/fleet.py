"""What launchers and worker hosts share in distributed mode: the job and the host registry.

A launcher in dispatch mode keeps no state of its own, and LiveKit's API does not tell it how
loaded the registered agent workers are (load is reported to the server, which uses it to pick
a worker but never shows it). So each worker host writes a heartbeat row into the shared store:
its capacity, its live sessions and whether it drains. Launchers read the rows for the 429
decision, and any launcher that finds a row whose lease has run out fails that host's sessions
(the bot died with its host; the turns it wrote stay). One table next to ``sessions`` in the same
database (SQLite or Postgres, through the store interface), so "the store is shared" is the only
thing a deployment has to get right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from interview_pipeline.launcher.models import TERMINAL, SessionStatus
from interview_pipeline.launcher.store import HostBeat, SessionStore

__all__ = ["Capacity", "DispatchedSession", "HostBeat", "WorkerRegistry", "capacity", "expired"]


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


class WorkerRegistry:
    """The ``workers`` heartbeat rows of a store (either backend: the table is one of the
    store's migrations). A view, not an owner: the store is closed by whoever opened it."""

    def __init__(self, store: SessionStore):
        self.store = store

    def beat(self, host: HostBeat) -> None:
        self.store.beat_worker(host)

    def hosts(self) -> list[HostBeat]:
        return self.store.workers()

    def remove(self, host_id: str) -> None:
        self.store.remove_worker(host_id)


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
