"""SQLite session store: concurrent writers (launcher + bots), restarts, terminal states."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionRecord, SqliteSessionStore
from interview_pipeline.transcript import Turn


def record(sid: str = "s1", **kw: object) -> SessionRecord:
    return SessionRecord(
        id=sid, room=f"room-{sid}", persona="maya", candidate_name="Sam",
        candidate_identity="candidate", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _bot_writes(path: str, sid: str, n: int, die: bool) -> None:
    sink = SqliteSessionStore(Path(path)).sink(sid)
    for i in range(n):
        sink.append(Turn("candidate", f"{sid} turn {i}", float(i), i + 0.5, kind="answer"))
    if die:
        os.kill(os.getpid(), signal.SIGKILL)  # a crashed bot: no close, no flush


def test_turns_from_several_processes_survive_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteSessionStore(path)
    for sid in ("a", "b", "c"):
        store.create(record(sid))
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_bot_writes, args=(str(path), sid, 25, sid == "b")) for sid in "abc"
    ]
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


def test_sessions_survive_reopen_and_ended_sessions_stay_ended(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = SqliteSessionStore(path)
    store.create(record("s1", metadata={"req": 7}))
    store.append_turn("s1", Turn("interviewer", "Hello", 0.0, 1.0, meta={"q": "x"}))
    store.update("s1", status=SessionStatus.COMPLETED, reason="done", ended_at=5.0)
    store.update("s1", status=SessionStatus.FAILED, reason="late crash report")
    store.close()

    again = SqliteSessionStore(path)
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


def test_latest_in_room_sees_ended_sessions_and_survives_reopen(tmp_path: Path) -> None:
    """The room-reuse check asks this; it must count sessions already ended, and restarts."""
    path = tmp_path / "s.sqlite3"
    store = SqliteSessionStore(path)
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
    again = SqliteSessionStore(path)
    latest = again.latest_in_room("panel-1")
    assert latest is not None and latest.id == "new"
    assert again.latest_in_room("panel-2") is None
    again.close()
