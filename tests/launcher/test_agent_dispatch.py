"""Distributed mode with the real parts: a livekit-server, two ``interview-pipeline worker``
processes with their own pools registered as LiveKit agent workers, and a launcher that only
dispatches. Sessions spread over both hosts, a SIGKILLed host's session fails with the turns
said so far, new sessions go to the survivor, and SIGTERM drains a host.

The fake bot stands in for the real one (the point here is placement and failure, not speech).
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from interview_pipeline.config import Settings
from interview_pipeline.launcher.fleet import WorkerRegistry
from interview_pipeline.launcher.livekit import LocalLiveKitServer
from interview_pipeline.launcher.store import open_store
from tests.polling import session_status, until
from tests.real_parts import livekit_server_binary

from .candidate import SimulatedCandidate
from .conftest import (
    alive,
    await_gone,
    body,
    descendants,
    make_settings,
    running_launcher,
)
from .fleet_hosts import Host, Redis, host_of, hosts_ready
from .pg import LocalPostgres
from .test_webhooks import SECRET, Receiver, receiver  # noqa: F401 (receiver: a fixture)

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]

LEASE_S = 3.0


@pytest.fixture
def fleet_settings(tmp_path: Path, livekit_server: LocalLiveKitServer) -> Settings:
    # A fresh agent name per test: hosts of another test on the same server never get our jobs.
    return make_settings(
        tmp_path,
        livekit_server,
        dispatch="agents",
        agent_name=f"interviewer-{uuid.uuid4().hex[:8]}",
        worker_lease_s=LEASE_S,
    )


@pytest.fixture
def hosts(fleet_settings: Settings, tmp_path: Path) -> Iterator[dict[str, Host]]:
    started = {n: Host(n, fleet_settings, tmp_path / "hosts") for n in ("host-a", "host-b")}
    yield started
    for host in started.values():
        host.stop()


@pytest.fixture
async def registry(fleet_settings: Settings) -> AsyncIterator[WorkerRegistry]:
    store = open_store(fleet_settings)
    yield WorkerRegistry(store)
    store.close()


async def test_sessions_spread_and_a_killed_host_fails_its_session(
    fleet_settings: Settings, hosts: dict[str, Host], registry: WorkerRegistry
) -> None:
    await hosts_ready(registry, set(hosts))
    async with running_launcher(fleet_settings) as (_app, client):
        created = []
        for name in ("Sam", "Kim"):
            r = await client.post("/sessions", json=body(name))
            assert r.status_code == 201, r.text
            created.append(r.json())
            await session_status(client, created[-1]["session_id"], "waiting_for_candidate")
        first, second = (c["session_id"] for c in created)
        placed = {host_of(registry, first).name, host_of(registry, second).name}
        assert placed == set(hosts), "each host (capacity 1) got one session"

        r = await client.post("/sessions", json=body("Lee"))
        assert r.status_code == 429, r.text  # both hosts full, as their heartbeats say
        ready = (await client.get("/readyz")).json()
        assert ready["worker_hosts"] == 2 and ready["capacity_left"] is False, ready

        candidate = SimulatedCandidate(created[0]["livekit_url"], created[0]["candidate_token"])
        await candidate.join()
        try:
            await session_status(client, first, "in_progress")
            doomed = hosts[host_of(registry, first).name]
            survivor = hosts[host_of(registry, second).name]
            family = descendants(doomed.proc.pid)  # template, bots: they die with their host
            assert family
            doomed.proc.send_signal(signal.SIGKILL)
            data = await session_status(client, first, "failed", timeout_s=LEASE_S * 6)
        finally:
            await candidate.leave()
        assert doomed.name in data["reason"] and "heartbeat" in data["reason"], data["reason"]
        assert [t["text"] for t in data["transcript"]] == ["Hello Sam."]
        assert survivor.proc.poll() is None
        assert await await_gone(family) == []

        # The survivor's own session ends through DELETE (dispatch deleted → job terminated).
        r = await client.delete(f"/sessions/{second}")
        assert r.status_code == 200 and r.json()["status"] == "abandoned", r.text
        await hosts_ready(registry, {survivor.name})
        r = await client.post("/sessions", json=body("Ana"))
        assert r.status_code == 201, r.text
        third = r.json()["session_id"]
        await session_status(client, third, "waiting_for_candidate")
        assert host_of(registry, third).name == survivor.name


async def test_sigterm_drains_a_host(
    fleet_settings: Settings, hosts: dict[str, Host], registry: WorkerRegistry
) -> None:
    await hosts_ready(registry, set(hosts))
    hosts["host-b"].stop()  # one host is enough here
    await asyncio.sleep(LEASE_S + 1)
    async with running_launcher(fleet_settings) as (_app, client):
        r = await client.post("/sessions", json=body("Sam"))
        assert r.status_code == 201, r.text
        created = r.json()
        sid = created["session_id"]
        await session_status(client, sid, "waiting_for_candidate")
        host = hosts[host_of(registry, sid).name]
        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        try:
            await session_status(client, sid, "in_progress")
            host.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 5
            while not any(h.draining for h in registry.hosts()):
                assert time.monotonic() < deadline, "the host never said it drains"
                await asyncio.sleep(0.05)
            r = await client.post("/sessions", json=body("Kim"))
            assert r.status_code == 503, r.text  # the only host takes no new jobs
            # The live session had the drain grace (2 s), then its bot said its closing line.
            data = await session_status(client, sid, "completed", timeout_s=30)
        finally:
            await candidate.leave()
        assert [t["text"] for t in data["transcript"]][-1] == "Thank you, goodbye."
        assert host.proc.wait(30) == 0
        assert registry.hosts() == []
        assert not alive(host.proc.pid)


async def test_dispatch_on_a_shared_postgres(
    fleet_settings: Settings,
    postgres: LocalPostgres,
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811 (the fixture imported above)
) -> None:
    """Dispatch mode on Postgres: the host's heartbeat row, the bot's statuses and turns all go
    to the shared database (no SQLite file anywhere), the session is the launcher's row, and
    the events the host queues as the session ends (transcript, report) reach the webhook
    through the launcher, in order after the status changes."""
    settings = fleet_settings.model_copy(
        update={
            "database_url": SecretStr(postgres.new_database()),
            "launcher_id": "lb-1",
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(SECRET),
        }
    )
    host = Host("pg-host", settings, tmp_path / "hosts")
    store = open_store(settings)
    try:
        registry = WorkerRegistry(store)
        await hosts_ready(registry, {"pg-host"})
        async with running_launcher(settings) as (_app, client):
            r = await client.post("/sessions", json=body("Sam"))
            assert r.status_code == 201, r.text
            created = r.json()
            sid = created["session_id"]
            await session_status(client, sid, "waiting_for_candidate")
            assert host_of(registry, sid).name == "pg-host"
            candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
            await candidate.join()
            try:
                await session_status(client, sid, "in_progress")
                assert (await client.delete(f"/sessions/{sid}")).status_code in (200, 202, 204)
                data = await session_status(client, sid, "completed", timeout_s=30)
            finally:
                await candidate.leave()
            await until(
                lambda: any(g["body"]["type"] == "report.ready" for g in receiver.delivered()),
                30,
                0.1,
                what="report.ready to reach the webhook",
            )
        assert [t["text"] for t in data["transcript"]][-1] == "Thank you, goodbye."
        sent = [g["body"] for g in receiver.delivered() if g["body"]["session_id"] == sid]
        kinds = [e["type"] for e in sent]
        assert kinds[-2:] == ["session.transcript_ready", "report.ready"], kinds
        assert set(kinds[:-2]) == {"session.status_changed"}
        assert sent[-3]["data"]["status"] == "completed"
        assert all(g["signed_ok"] for g in receiver.got)
        record = store.get(sid)
        assert record is not None and record.owner == "lb-1"
        assert [t.turn.text for t in store.turns(sid)][-1] == "Thank you, goodbye."
        assert not (settings.resolved_store_path()).exists()
    finally:
        host.stop()
        store.close()


async def test_no_worker_host_means_503_and_not_ready(fleet_settings: Settings) -> None:
    async with running_launcher(fleet_settings) as (app, client):
        assert app.state.launcher.pool.pids == []  # a dispatching launcher starts no bots
        r = await client.post("/sessions", json=body())
        assert r.status_code == 503 and "no worker host" in r.json()["detail"], r.text
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["worker_hosts"] == 0, ready.text
        assert (await client.get("/sessions")).json()["sessions"] == []


async def test_two_livekit_nodes_over_redis_dispatch_across_nodes(tmp_path: Path) -> None:
    """LiveKit's multi-node mode: host A registered on node 1, host B on node 2, the launcher on
    node 1. Both hosts (capacity 1 each) get a session: dispatch reaches the workers of every
    node, whichever node LiveKit placed the room on (in the logs of one run, the room placed on
    node 1 went to the worker on node 2, whose bot joined through node 2)."""
    binary = livekit_server_binary()  # a missing binary fails, as every real part does
    redis = Redis(tmp_path / "redis.log")
    nodes = [
        LocalLiveKitServer(binary, log_path=tmp_path / f"node{i}.log", redis=redis.address)
        for i in (1, 2)
    ]
    started: list[Host] = []
    try:
        for node in nodes:
            node.start()
        settings = make_settings(
            tmp_path, nodes[0], dispatch="agents", agent_name="interviewer-mn",
            worker_lease_s=LEASE_S,
        )  # fmt: skip
        on_node2 = settings.model_copy(update={"livekit_url": nodes[1].url})
        started = [
            Host("on-node1", settings, tmp_path / "hosts"),
            Host("on-node2", on_node2, tmp_path / "hosts"),
        ]
        store = open_store(settings)
        registry = WorkerRegistry(store)
        await hosts_ready(registry, {"on-node1", "on-node2"})
        async with running_launcher(settings) as (_app, client):
            sids = []
            for name in ("Sam", "Kim"):
                r = await client.post("/sessions", json=body(name))
                assert r.status_code == 201, r.text
                sids.append(r.json()["session_id"])
                await session_status(client, sids[-1], "waiting_for_candidate")
            assert {host_of(registry, sid).name for sid in sids} == {"on-node1", "on-node2"}
        store.close()
    finally:
        for host in started:
            host.stop()
        for node in nodes:
            node.stop()
        redis.stop()
