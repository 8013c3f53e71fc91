"""The worker hosts' heartbeat table and the capacity launchers read from it (real SQLite)."""

from __future__ import annotations

import time
from pathlib import Path

from interview_pipeline.launcher.fleet import HostBeat, WorkerRegistry, capacity, expired
from interview_pipeline.launcher.store import SessionRecord, SqliteSessionStore


def test_capacity_counts_warm_slots_of_live_hosts_less_unplaced_sessions(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    store, registry = SqliteSessionStore(path), WorkerRegistry(path)
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
    registry.close()


def test_a_silent_host_expires_and_a_removed_one_is_gone(tmp_path: Path) -> None:
    registry = WorkerRegistry(tmp_path / "sessions.sqlite3")
    registry.beat(HostBeat("a", "host-a", capacity=1, ready=1, sessions=["s1"]))
    time.sleep(0.3)
    registry.beat(HostBeat("b", "host-b", capacity=1, ready=1))
    hosts = registry.hosts()
    assert [h.name for h in expired(hosts, lease_s=0.2)] == ["host-a"]
    assert [h.sessions for h in hosts if h.name == "host-a"] == [["s1"]]
    registry.remove("a")
    assert [h.name for h in registry.hosts()] == ["host-b"]
    registry.close()
