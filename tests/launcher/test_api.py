"""The launcher API against a real livekit-server, with a stand-in bot (tests/launcher/fakebot.py).

The real bot's speech path is covered by test_e2e.py; here the bot only has to keep the
``run_bot`` contract, so each test takes seconds.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import jwt
import pytest
from loguru import logger

from interview_pipeline.launcher.livekit import (
    SESSION_ATTRIBUTE,
    LiveKitRooms,
    LocalLiveKitServer,
    mint_token,
)
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionRecord, SqliteSessionStore
from interview_pipeline.transcript import Turn
from tests.polling import session_status

from .candidate import SimulatedCandidate
from .conftest import (
    API_KEY,
    await_gone,
    body,
    make_settings,
    running_launcher,
)

pytestmark = [
    pytest.mark.livekit,
    # livekit-server's dev secret is the 6-byte "secret"; PyJWT warns on every token.
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


async def test_session_lifecycle(tmp_path: Path, livekit_server: LocalLiveKitServer) -> None:
    settings = make_settings(tmp_path, livekit_server)
    async with running_launcher(settings) as (app, client):
        launcher = app.state.launcher
        r = await client.post("/sessions", json=body(candidate={"name": "Sam", "email": "s@x.io"}))
        assert r.status_code == 201, r.text
        created = r.json()
        sid, room = created["session_id"], created["room"]
        assert created["status"] == "starting"
        assert created["livekit_url"] == livekit_server.url
        assert created["join_url"].endswith(f"/join/{sid}#token={created['candidate_token']}")
        rooms = LiveKitRooms(livekit_server.credentials, empty_timeout_s=60)
        assert await rooms.exists(room)

        claims = jwt.decode(created["candidate_token"], options={"verify_signature": False})
        assert claims["sub"] == "candidate" and claims["name"] == "Sam"
        assert claims["exp"] - claims["nbf"] == settings.token_ttl_s == 7200
        video = claims["video"]
        assert video["room"] == room and video["roomJoin"] and video["canPublish"]
        assert not {"roomAdmin", "roomCreate", "roomList", "agent"} & set(video)

        await session_status(client, sid, "waiting_for_candidate")
        assert "interviewer" in await rooms.participants(room)
        pid = launcher.sessions.live[sid].worker.pid

        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        data = await session_status(client, sid, "in_progress")
        assert data["bot_joined_at"] <= data["candidate_joined_at"]
        await candidate.wait_utterance(0.0, timeout_s=10)  # the fake greeting tone

        r = await client.delete(f"/sessions/{sid}")
        assert r.status_code == 200, r.text
        ended = r.json()
        assert ended["status"] == "completed"
        assert ended["reason"] == "stopped via DELETE"
        assert [t["kind"] for t in ended["transcript"]] == ["opening", "closing"]
        assert not await rooms.exists(room)
        assert await await_gone([pid]) == []
        await candidate.leave()

        listed = (await client.get("/sessions", params={"status": "completed"})).json()
        assert [s["session_id"] for s in listed["sessions"]] == [sid]
        assert (await client.delete(f"/sessions/{sid}")).json()["status"] == "completed"
        metrics = (await client.get("/metrics")).text
        assert 'interview_sessions{status="completed"} 1.0' in metrics
        assert "interview_bot_spawn_seconds_bucket" in metrics
        assert "interview_pool_idle_workers" in metrics
        pool_pids = launcher.pool.pids
    assert await await_gone(pool_pids) == []


async def test_auth_on_every_sessions_route(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (_, client):
        calls = [
            ("POST", "/sessions"),
            ("GET", "/sessions"),
            ("GET", "/sessions/abc"),
            ("DELETE", "/sessions/abc"),
        ]
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
            for method, url in calls:
                r = await client.request(method, url, json=body(), headers=headers)
                assert r.status_code == 401, (method, url, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
                assert "nope" not in r.text
        r = await client.get("/sessions", headers={"Authorization": "Bearer second-key"})
        assert r.status_code == 200
        assert (await client.get("/healthz")).status_code == 200


async def test_bad_input(tmp_path: Path, livekit_server: LocalLiveKitServer) -> None:
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    async with running_launcher(settings) as (_, client):
        r = await client.post("/sessions", json=body(persona="nobody"))
        assert r.status_code == 404
        assert r.json()["field"] == "persona"
        assert r.json()["valid"] == ["alex", "maya"]

        r = await client.post("/sessions", json={"persona": "maya", "candidate": {}})
        assert r.status_code == 422
        assert r.json()["field"] == "candidate.name"

        r = await client.post("/sessions", json=body(room="bad room/../x"))
        assert r.status_code == 422
        assert r.json()["field"] == "room"

        r = await client.post("/sessions", json=body(colour="blue"))
        assert r.status_code == 422 and r.json()["field"] == "colour"

        r = await client.post(
            "/sessions", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 422

        r = await client.post(
            "/sessions", json=body(candidate={"name": "x", "identity": "interviewer"})
        )
        assert r.status_code == 422 and r.json()["field"] == "candidate.identity"

        r = await client.get("/sessions", params={"status": "sleeping"})
        assert r.status_code == 422 and r.json()["field"] == "status"

        r = await client.get("/sessions/nope")
        assert r.status_code == 404
        assert (await client.get("/sessions")).json()["sessions"] == []


async def test_livekit_unreachable_leaves_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)  # ws://127.0.0.1:9: nothing listens
    async with running_launcher(settings) as (app, client):
        r = await client.post("/sessions", json=body())
        assert r.status_code == 503
        assert "unreachable" in r.json()["detail"]
        assert API_KEY not in r.text and "secret" not in r.text
        assert (await client.get("/sessions")).json()["sessions"] == []
        assert app.state.launcher.pool.pids == []
        assert (await client.get("/readyz")).status_code == 503


async def test_capacity_429(tmp_path: Path, livekit_server: LocalLiveKitServer) -> None:
    settings = make_settings(tmp_path, livekit_server, max_sessions=1, pool_size=0)
    async with running_launcher(settings) as (_, client):
        first = await client.post("/sessions", json=body())
        assert first.status_code == 201
        r = await client.post("/sessions", json=body())
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        assert (await client.get("/readyz")).json()["ready"] is False
        sid = first.json()["session_id"]
        await session_status(client, sid, "waiting_for_candidate")
        ended = (await client.delete(f"/sessions/{sid}")).json()
        assert ended["status"] == "abandoned"  # nobody came
        assert (await client.post("/sessions", json=body())).status_code == 201


async def test_one_live_session_per_room(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    async with running_launcher(settings) as (_, client):
        first, second = await asyncio.gather(
            client.post("/sessions", json=body(room="panel-7")),
            client.post("/sessions", json=body(room="panel-7")),
        )
        assert sorted([first.status_code, second.status_code]) == [201, 409]
        loser = first if first.status_code == 409 else second
        assert loser.json()["field"] == "room"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("crash", "bot process exited with code 7"), ("raise", "RuntimeError: scripted failure")],
)
async def test_bot_failure_marks_failed_and_cleans_up(
    tmp_path: Path, livekit_server: LocalLiveKitServer, name: str, reason: str
) -> None:
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    async with running_launcher(settings) as (app, client):
        r = await client.post("/sessions", json=body(name=name))
        sid, room = r.json()["session_id"], r.json()["room"]
        pid = app.state.launcher.sessions.live[sid].worker.pid
        data = await session_status(client, sid, "failed")
        assert data["reason"].startswith(reason)
        assert data["ended_at"] is not None
        rooms = LiveKitRooms(livekit_server.credentials, empty_timeout_s=60)
        # The status is written just before the room is deleted: give the delete a moment.
        for _ in range(50):
            if not await rooms.exists(room):
                break
            await asyncio.sleep(0.1)
        assert not await rooms.exists(room)
        assert await await_gone([pid]) == []
        assert "interview_bot_failures_total 1.0" in (await client.get("/metrics")).text


async def test_stop_kills_a_bot_that_will_not_leave(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    async with running_launcher(settings) as (app, client):
        app.state.launcher.sessions.stop_grace_s = 1.0
        r = await client.post("/sessions", json=body(name="deaf"))
        created = r.json()
        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        await session_status(client, created["session_id"], "in_progress")
        pid = app.state.launcher.sessions.live[created["session_id"]].worker.pid
        ended = (await client.delete(f"/sessions/{created['session_id']}")).json()
        assert ended["status"] == "abandoned"
        assert await await_gone([pid]) == []
        await candidate.leave()


async def test_sessions_and_turns_survive_restart(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    """A launcher that died mid-session (see test_process for the real kill) left a live record
    and some turns; the next launcher closes the record and keeps the turns."""
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    store = SqliteSessionStore(settings.resolved_store_path())
    store.create(
        SessionRecord(
            id="s1", room="r1", persona="maya", candidate_name="Sam",
            candidate_identity="candidate", status=SessionStatus.IN_PROGRESS,
        )
    )  # fmt: skip
    store.append_turn("s1", Turn("interviewer", "Hello Sam.", 0.0, 1.0, kind="opening"))
    store.close()
    async with running_launcher(settings) as (_, client):
        data = (await client.get("/sessions/s1")).json()
        assert data["status"] == "failed"
        assert data["reason"] == "launcher restarted while the session was live"
        assert [t["text"] for t in data["transcript"]] == ["Hello Sam."]


async def test_burst_at_capacity(tmp_path: Path, livekit_server: LocalLiveKitServer) -> None:
    """40 POSTs at once at capacity 3: exactly 3 sessions, 37 told when to come back."""
    settings = make_settings(tmp_path, livekit_server, max_sessions=3, pool_size=0)
    async with running_launcher(settings) as (_, client):
        answers = await asyncio.gather(*(client.post("/sessions", json=body()) for _ in range(40)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [201] * 3 + [429] * 37, codes
        assert all(int(r.headers["retry-after"]) > 0 for r in answers if r.status_code == 429)
        for r in answers:
            if r.status_code == 201:
                assert (
                    await client.delete(f"/sessions/{r.json()['session_id']}")
                ).status_code == 200


async def test_accepted_input_is_served_back_as_sent(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    """Metadata at the limits and a name in several scripts round-trip through the store."""
    metadata: dict[str, object] = {"ids": [1, 2**63, -0.5, True, None], "note": "line\nbreak\u0000"}
    for _ in range(6):
        metadata = {"level": metadata, "é": "李"}
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    async with running_launcher(settings) as (_, client):
        name = "  José 李 محمد 👩‍💻 "
        r = await client.post("/sessions", json=body(name=name, metadata=metadata))
        assert r.status_code == 201, r.text
        sid = r.json()["session_id"]
        for served in (
            (await client.get(f"/sessions/{sid}")).json(),
            (await client.get("/sessions")).json()["sessions"][0],
            (await client.delete(f"/sessions/{sid}")).json(),
        ):
            assert served["metadata"] == metadata and served["withheld"] is None
            assert served["candidate_name"] == name.strip()


async def test_candidate_token_is_bound_to_its_session(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    """A token opens its own session's /join routes only; a room name is not reused while an
    earlier session's tokens for it are valid (LiveKit cannot revoke them)."""
    settings = make_settings(tmp_path, livekit_server, pool_size=0)
    creds = livekit_server.credentials
    store = SqliteSessionStore(settings.resolved_store_path())
    # A session in panel-10 three hours ago: its tokens (TTL 2 h) have expired.
    store.create(
        SessionRecord(
            id="old10", room="panel-10", persona="maya", candidate_name="Old",
            candidate_identity="candidate", status=SessionStatus.COMPLETED,
            created_at=time.time() - 3 * 3600,
        )
    )  # fmt: skip
    store.close()
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    async with running_launcher(settings) as (_, client):
        first = (await client.post("/sessions", json=body(room="panel-9"))).json()
        claims = jwt.decode(first["candidate_token"], options={"verify_signature": False})
        assert claims["attributes"] == {SESSION_ATTRIBUTE: first["session_id"]}
        assert (await client.delete(f"/sessions/{first['session_id']}")).status_code == 200

        r = await client.post("/sessions", json=body(room="panel-9"))
        assert r.status_code == 409 and r.json()["field"] == "room"
        assert 7000 < int(r.headers["retry-after"]) <= 7200
        assert first["candidate_token"] not in r.text

        r = await client.post("/sessions", json=body(room="panel-10"))  # old tokens expired
        assert r.status_code == 201, r.text
        new = r.json()
        sid = new["session_id"]

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        for route in ("session", "transcript"):
            url = f"/join/{sid}/{route}"
            assert (
                await client.get(url, headers=bearer(new["candidate_token"]))
            ).status_code == 200
            refused = [
                first["candidate_token"],  # another session's token, other room
                # Right room, signed by us, but for the old session there / for no session.
                mint_token(creds, room="panel-10", identity="candidate", name="Old", ttl_s=60,
                           session_id="old10"),
                mint_token(creds, room="panel-10", identity="candidate", name="Old", ttl_s=60),
                # Right claim, wrong room.
                mint_token(creds, room="panel-9", identity="candidate", name="x", ttl_s=60,
                           session_id=sid),
            ]  # fmt: skip
            for token in refused:
                r = await client.get(url, headers=bearer(token))
                assert r.status_code == 401, (route, r.text)
                assert token not in r.text
        await client.delete(f"/sessions/{sid}")
    logger.remove(sink)
    # No key or token in the launcher's log, nor in the bots' logs.
    logs = "".join(lines) + "".join(
        f.read_text(errors="replace") for f in (settings.data_dir / "logs").glob("*.log")
    )
    assert lines
    for secret in (API_KEY, first["candidate_token"], new["candidate_token"]):
        assert secret not in logs
