"""Session store, each test on both backends (SQLite file, real Postgres): concurrent writers
(launcher + bots), restarts, terminal states."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time

import psycopg
import pytest

from interview_pipeline.launcher import migrations
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionRecord
from interview_pipeline.transcript import Turn

from .pg import open_location


def record(sid: str = "s1", **kw: object) -> SessionRecord:
    return SessionRecord(
        id=sid, room=f"room-{sid}", persona="maya", candidate_name="Sam",
        candidate_identity="candidate", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _bot_writes(location: str, sid: str, n: int, die: bool) -> None:
    sink = open_location(location).sink(sid)
    for i in range(n):
        sink.append(Turn("candidate", f"{sid} turn {i}", float(i), i + 0.5, kind="answer"))
    if die:
        os.kill(os.getpid(), signal.SIGKILL)  # a crashed bot: no close, no flush


def test_turns_from_several_processes_survive_a_crash(store_location: str) -> None:
    path = store_location
    store = open_location(path)
    for sid in ("a", "b", "c"):
        store.create(record(sid))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bot_writes, args=(path, sid, 25, sid == "b")) for sid in "abc"]
    for p in procs:
        p.start()
    for i in range(25):  # the launcher writes at the same time
        store.update("a", reason=f"tick {i}")
    for p in procs:
        p.join(60)
    assert procs[1].exitcode == -signal.SIGKILL
    for sid in "abc":
        turns = store.turns(sid)
        assert [t.seq for t in turns] == list(range(1, 26))
        assert turns[-1].turn.text == f"{sid} turn 24"
    assert [t.seq for t in store.turns("a", after=20)] == [21, 22, 23, 24, 25]
    store.close()


def test_sessions_survive_reopen_and_ended_sessions_stay_ended(store_location: str) -> None:
    store = open_location(store_location)
    store.create(record("s1", metadata={"req": 7}))
    store.append_turn("s1", Turn("interviewer", "Hello", 0.0, 1.0, meta={"q": "x"}))
    store.update("s1", status=SessionStatus.COMPLETED, reason="done", ended_at=5.0)
    store.update("s1", status=SessionStatus.FAILED, reason="late crash report")
    store.close()

    again = open_location(store_location)
    got = again.get("s1")
    assert got is not None
    assert (got.status, got.reason, got.ended_at) == (SessionStatus.COMPLETED, "done", 5.0)
    assert got.metadata == {"req": 7}
    assert again.turns("s1")[0].turn.meta == {"q": "x"}
    assert again.count_by_status()[SessionStatus.COMPLETED] == 1
    assert [r.id for r in again.list_sessions(status=SessionStatus.COMPLETED)] == ["s1"]
    assert again.list_sessions(status=SessionStatus.FAILED) == []
    assert again.get("nope") is None
    again.close()


def test_latest_in_room_sees_ended_sessions_and_survives_reopen(store_location: str) -> None:
    """The room-reuse check asks this; it must count sessions already ended, and restarts."""
    store = open_location(store_location)
    for sid, room, created in [
        ("old", "panel-1", 100.0),
        ("new", "panel-1", 200.0),
        ("other", "panel-2b", 300.0),
    ]:
        store.create(
            SessionRecord(
                id=sid,
                room=room,
                persona="maya",
                candidate_name="Sam",
                candidate_identity="candidate",
                created_at=created,
            )
        )
    store.update("new", status=SessionStatus.COMPLETED, ended_at=250.0)
    store.close()
    again = open_location(store_location)
    latest = again.latest_in_room("panel-1")
    assert latest is not None and latest.id == "new"
    assert again.latest_in_room("panel-2") is None
    again.close()


def _raw(location: str, statements: list[str]) -> list[tuple[object, ...]]:
    """Run SQL on the store's database without the store (as an older launcher would have);
    the last statement's rows."""
    rows: list[tuple[object, ...]] = []
    if location.startswith("postgresql://"):
        with psycopg.connect(location, autocommit=True) as conn:
            for sql in statements:
                cur = conn.execute(sql)
                rows = list(cur.fetchall()) if cur.description else []
        return rows
    db = sqlite3.connect(location, isolation_level=None)
    for sql in statements:
        rows = db.execute(sql).fetchall()
    db.close()
    return rows


def test_migrates_from_empty_and_from_the_schema_before_versioning(store_location: str) -> None:
    """A data dir made before the store was versioned has sessions and turns but no
    schema_migrations: its rows are kept and the later steps applied."""
    dialect = "postgres" if store_location.startswith("postgresql://") else "sqlite"
    old_schema = migrations.STEPS[0].sql[dialect].split(";\n")
    _raw(
        store_location,
        [
            *old_schema,
            "INSERT INTO sessions (id, room, persona, candidate_name, candidate_identity, status,"
            " created_at, updated_at) VALUES ('old', 'r', 'maya', 'Sam', 'candidate',"
            " 'in_progress', 1.0, 1.0)",
        ],
    )
    store = open_location(store_location)
    got = store.get("old")
    assert got is not None and got.status is SessionStatus.IN_PROGRESS and got.owner is None
    store.append_turn("old", Turn("candidate", "still here", 0.0, 1.0))
    store.close()
    again = open_location(store_location)  # opening a migrated store applies nothing
    assert [t.turn.text for t in again.turns("old")] == ["still here"]
    again.close()
    versions = _raw(store_location, ["SELECT version FROM schema_migrations ORDER BY version"])
    assert [v[0] for v in versions] == [s.version for s in migrations.STEPS]


def test_a_store_newer_than_this_launcher_is_refused(store_location: str) -> None:
    open_location(store_location).close()
    _raw(
        store_location,
        [
            f"INSERT INTO schema_migrations (version, applied_at) VALUES ({migrations.LATEST + 1}, 0)"
        ],
    )
    with pytest.raises(RuntimeError, match="newer than this launcher"):
        open_location(store_location)


def test_two_launchers_close_only_their_own_or_expired_sessions(store_location: str) -> None:
    """Launchers a and b share one store (two connections): a restarting launcher closes its
    own live sessions, never a live peer's; a peer's become its to close once the peer's lease
    has run out, along with the ended ones whose webhooks are still pending."""
    a, b = open_location(store_location), open_location(store_location)
    a.heartbeat("a", now=1000.0)
    b.heartbeat("b", now=1000.0)
    a.create(record("a1", owner="a", webhook="*"))
    a.create(record("a2", owner="a", webhook="*"))
    b.create(record("b1", owner="b"))
    b.create(record("legacy"))  # a row from before owners: nobody's, so anyone's to close
    a.update("a2", status=SessionStatus.COMPLETED)  # ended, its webhook event still pending

    taken = b.take_over("b", 30.0, own=True, now=1010.0)
    assert sorted(r.id for r in taken) == ["b1", "legacy"]
    assert [r.owner for r in sorted(taken, key=lambda r: r.id)] == ["b", None]
    assert a.get("a1").owner == "a"  # type: ignore[union-attr]
    assert b.take_over("b", 30.0, own=False, now=1010.0) == []  # a is alive: nothing more

    a.heartbeat("a", now=1025.0)  # a renews, so at 1050 it is still alive
    assert b.take_over("b", 30.0, own=False, now=1050.0) == []
    taken = b.take_over("b", 30.0, own=False, now=1100.0)  # a's lease ran out at 1055
    assert [r.id for r in taken] == ["a1"]
    assert {r.id: r.owner for r in b.list_sessions()} == {
        "a1": "b", "a2": "b", "b1": "b", "legacy": "b",
    }  # fmt: skip
    assert [e.session_id for e in b.due_events("b", now=time.time() + 1)] == ["a2"]
    a.close()
    b.close()


def _open_and_close(location: str) -> None:
    open_location(location).close()


def test_processes_opening_an_empty_store_at_once_migrate_it_once(store_location: str) -> None:
    """The launcher and its bots all migrate on open; racing opens apply each step once."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_open_and_close, args=(store_location,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    versions = _raw(store_location, ["SELECT version FROM schema_migrations ORDER BY version"])
    assert [v[0] for v in versions] == [s.version for s in migrations.STEPS]
