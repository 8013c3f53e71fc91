"""Two launchers on one real Postgres: a bot writes its turns there from its own process, the
peer serves them, and restart recovery closes only a launcher's own sessions, or a peer's once
that peer has stopped renewing its lease."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import psycopg
import pytest
from loguru import logger

from interview_pipeline.launcher.livekit import LocalLiveKitServer
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store_postgres import PostgresSessionStore
from interview_pipeline.launcher.webhooks import key_id
from interview_pipeline.transcript import Turn

from .candidate import SimulatedCandidate
from .conftest import API_KEY, body, make_settings, running_launcher
from .pg import LocalPostgres, free_port
from .test_store import record

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


async def status_of(client: httpx.AsyncClient, sid: str) -> dict[str, object]:
    r = await client.get(f"/sessions/{sid}")
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


async def until(client: httpx.AsyncClient, sid: str, status: str, timeout_s: float = 30) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout_s
    while True:
        data = await status_of(client, sid)
        if data["status"] == status or time.monotonic() > deadline:
            return data
        await asyncio.sleep(0.1)


@pytest.mark.livekit
async def test_a_bot_writes_to_postgres_and_a_peer_serves_it(
    tmp_path: Path, postgres: LocalPostgres, livekit_server: LocalLiveKitServer
) -> None:
    dsn = postgres.new_database()
    common = {"database_url": dsn, "launcher_lease_s": 3.0}
    # Sessions made with API_KEY send their events to its own endpoint (nobody listens there).
    hooks = json.dumps({API_KEY: {"url": f"http://127.0.0.1:{free_port()}/", "secret": "s"}})
    a = make_settings(
        tmp_path / "a", livekit_server, launcher_id="a", webhook_endpoints=hooks, **common
    )
    b = make_settings(tmp_path / "b", livekit_server, launcher_id="b", pool_size=0, **common)
    async with running_launcher(a) as (_, on_a), running_launcher(b) as (_, on_b):
        r = await on_a.post("/sessions", json=body())
        assert r.status_code == 201, r.text
        created = r.json()
        sid = created["session_id"]
        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        try:
            seen = await until(on_b, sid, "in_progress")  # b serves a's session from the store
            assert seen["status"] == "in_progress", seen
            for _ in range(100):  # the fake bot's greeting turn, written by its own process
                transcript = (await status_of(on_b, sid))["transcript"]
                if transcript:
                    break
                await asyncio.sleep(0.1)
            assert [t["kind"] for t in transcript] == ["opening"]  # type: ignore[union-attr, index]
            await asyncio.sleep(3.5)  # more than a lease: b must leave a's live session alone
            assert (await status_of(on_b, sid))["status"] == "in_progress"
            ended = (await on_a.delete(f"/sessions/{sid}")).json()
        finally:
            await candidate.leave()
        assert ended["status"] == "completed"
        assert [t["kind"] for t in ended["transcript"]] == ["opening", "closing"]
        assert (await status_of(on_b, sid))["status"] == "completed"
    store = PostgresSessionStore(dsn)
    stored = store.get(sid)
    assert stored is not None and (stored.owner, stored.webhook) == ("a", key_id(API_KEY))
    assert store.webhook_state(sid).pending >= 1  # undelivered: still queued for a
    store.close()


async def test_restart_closes_its_own_and_a_dead_peers_sessions_only(
    tmp_path: Path, postgres: LocalPostgres
) -> None:
    dsn = postgres.new_database()
    common = {"database_url": dsn, "launcher_lease_s": 2.0, "pool_size": 0}
    a = make_settings(tmp_path / "a", None, launcher_id="a", **common)
    b = make_settings(tmp_path / "b", None, launcher_id="b", **common)
    seed = PostgresSessionStore(dsn)
    peer_b = running_launcher(b)
    await peer_b.__aenter__()
    b_running = True
    # What launcher a's previous process left live, and b's own live session.
    seed.create(record("of-a", owner="a", status=SessionStatus.IN_PROGRESS))
    seed.create(record("of-b", owner="b", status=SessionStatus.IN_PROGRESS))
    seed.append_turn("of-a", Turn("interviewer", "Hello Sam.", 0.0, 1.0, kind="opening"))
    try:
        async with running_launcher(a) as (_, on_a):
            mine = await status_of(on_a, "of-a")
            assert (mine["status"], mine["reason"]) == (
                "failed",
                "launcher restarted while the session was live",
            )
            assert [t["text"] for t in mine["transcript"]] == ["Hello Sam."]  # type: ignore[attr-defined]
            await asyncio.sleep(2.5)  # more than a lease, b renewing: a never takes its session
            assert (await status_of(on_a, "of-b"))["status"] == "in_progress"
            assert seed.get("of-b").owner == "b"  # type: ignore[union-attr]
            # b stops without closing of-b (as if its host died): its lease runs out.
            await peer_b.__aexit__(None, None, None)
            b_running = False
            peer = await until(on_a, "of-b", "failed", timeout_s=10)
    finally:
        if b_running:
            await peer_b.__aexit__(None, None, None)
    assert peer["reason"] == "launcher b stopped renewing its lease while it was live"
    assert seed.get("of-b").owner == "a"  # type: ignore[union-attr]
    seed.close()


async def test_the_database_password_never_shows(tmp_path: Path, postgres: LocalPostgres) -> None:
    """In settings reprs, start-up logs, and the error of a database that cannot be reached."""
    password = "hunter2-not-for-logs"
    dsn = postgres.new_database().replace(
        "postgresql://postgres@", f"postgresql://postgres:{password}@"
    )
    settings = make_settings(tmp_path, None, database_url=dsn, pool_size=0)
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        async with running_launcher(settings) as (_, client):
            assert (await client.get("/sessions")).status_code == 200
    finally:
        logger.remove(sink)
    assert any("store: postgres postgres@127.0.0.1" in line for line in lines), lines
    assert not any(password in line for line in lines)
    assert password not in repr(settings)
    closed = f"postgresql://postgres:{password}@127.0.0.1:{free_port()}/nope"
    with pytest.raises(psycopg.OperationalError) as err:
        PostgresSessionStore(closed, connect_timeout_s=2)
    assert password not in str(err.value) and "127.0.0.1" in str(err.value)
