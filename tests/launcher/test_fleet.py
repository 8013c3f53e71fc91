"""The worker hosts' heartbeat table and the capacity launchers read from it, on both store
backends (SQLite file, real Postgres): dispatch mode must work on whichever store is shared."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from interview_pipeline.launcher.dispatch import DispatchSessionManager, no_pool
from interview_pipeline.launcher.fleet import HostBeat, WorkerRegistry, capacity, expired
from interview_pipeline.launcher.livekit import LiveKitCredentials
from interview_pipeline.launcher.metrics import LauncherMetrics
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionRecord, open_store

from .conftest import make_settings
from .pg import open_location


def test_capacity_counts_warm_slots_of_live_hosts_less_unplaced_sessions(
    store_location: str,
) -> None:
    store = open_location(store_location)
    registry = WorkerRegistry(store)
    registry.beat(HostBeat("a", "host-a", capacity=3, ready=2, sessions=["s1"]))
    registry.beat(HostBeat("b", "host-b", capacity=1, ready=1, sessions=["s2"]))  # full
    registry.beat(HostBeat("c", "host-c", capacity=5, ready=5, draining=True))
    hosts = registry.hosts()
    assert {h.name: h.free for h in hosts} == {"host-a": 2, "host-b": 0, "host-c": 0}
    assert capacity(hosts, store, lease_s=10).free == 2
    assert capacity(hosts, store, lease_s=10).hosts == 2  # the draining one does not count
    # A session just dispatched, on no host's list yet, holds a slot already.
    for sid in ("s1", "s3"):
        store.create(SessionRecord(sid, f"room-{sid}", "maya", "Sam", "candidate"))
    assert capacity(hosts, store, lease_s=10).free == 1
    store.close()


def test_heartbeat_rows_are_written_updated_listed_and_removed(store_location: str) -> None:
    """The three operations hosts and launchers use, across two connections (a host writes,
    a launcher reads), on each backend; a second beat updates the row instead of adding one."""
    host_side, launcher_side = open_location(store_location), open_location(store_location)
    beat = HostBeat("a", "host-a", capacity=2, ready=2, started_at=100.0)
    host_side.beat_worker(beat)
    first = beat.heartbeat_at
    host_side.beat_worker(HostBeat("b", "host-b", capacity=1, ready=1))
    beat.ready, beat.draining, beat.sessions = 1, True, ["s1", "s2"]
    time.sleep(0.01)
    host_side.beat_worker(beat)
    rows = {h.host_id: h for h in launcher_side.workers()}
    assert sorted(rows) == ["a", "b"]
    a = rows["a"]
    assert (a.name, a.capacity, a.ready, a.draining, a.sessions) == (
        "host-a", 2, 1, True, ["s1", "s2"],
    )  # fmt: skip
    assert a.started_at == 100.0 and a.heartbeat_at > first
    launcher_side.remove_worker("a")
    assert [h.host_id for h in host_side.workers()] == ["b"]
    launcher_side.remove_worker("a")  # removing a gone row is no error
    host_side.close()
    launcher_side.close()


def test_a_silent_host_expires_and_a_removed_one_is_gone(store_location: str) -> None:
    store = open_location(store_location)
    registry = WorkerRegistry(store)
    registry.beat(HostBeat("a", "host-a", capacity=1, ready=1, sessions=["s1"]))
    time.sleep(0.3)
    registry.beat(HostBeat("b", "host-b", capacity=1, ready=1))
    hosts = registry.hosts()
    assert [h.name for h in expired(hosts, lease_s=0.2)] == ["host-a"]
    assert [h.sessions for h in hosts if h.name == "host-a"] == [["s1"]]
    registry.remove("a")
    assert [h.name for h in registry.hosts()] == ["host-b"]
    store.close()


async def test_a_restarted_dispatch_launcher_fails_none_and_adopts_a_dead_peers_rows(
    store_location: str, tmp_path: Path
) -> None:
    """Dispatch launchers own their rows (they deliver the webhooks) but the bots run on hosts:
    restart recovery must not fail them, and a dead dispatching peer's rows move, still live,
    to a launcher that is alive. Dead hosts are the sweeper's business, not the lease's."""
    where: dict[str, Any] = (
        {"database_url": store_location}
        if store_location.startswith("postgresql://")
        else {"store_path": Path(store_location)}
    )
    settings = make_settings(
        tmp_path, None, dispatch="agents", launcher_id="a", launcher_lease_s=2.0, **where
    )
    store = open_store(settings)
    store.heartbeat("b", now=time.time() - 60)  # a peer that stopped renewing its lease
    for sid, owner in (("mine", "a"), ("peers", "b")):
        store.create(SessionRecord(sid, f"room-{sid}", "maya", "Sam", "candidate", owner=owner))
    creds = LiveKitCredentials.from_settings(settings)
    sessions = DispatchSessionManager(settings, creds, store, no_pool(settings), LauncherMetrics())
    try:
        await sessions.recover(own=True)
        await sessions.recover(own=False)  # the lease's later rounds: still nothing failed
        got = {sid: store.get(sid) for sid in ("mine", "peers")}
        assert {sid: r.status if r else None for sid, r in got.items()} == {
            "mine": SessionStatus.STARTING,
            "peers": SessionStatus.STARTING,
        }
        assert {sid: r.owner if r else None for sid, r in got.items()} == {
            "mine": "a",
            "peers": "a",
        }
    finally:
        await sessions.drain(0.0)
        store.close()
