"""Candidate drops, bot crashes: real livekit-server, launcher and bot (local engines).

* rejoin within ``reconnect_grace_s`` → the interviewer says "Welcome back" (and it is in the
  stored transcript);
* no rejoin → the session is abandoned, its transcript kept and a partial report made;
* the bot process killed mid-interview → status failed, the turns said so far still stored.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from interview_pipeline.launcher.livekit import LocalLiveKitServer
from tests.polling import session_status

from .candidate import SimulatedCandidate
from .conftest import await_gone, body, make_settings, running_launcher
from .test_e2e import _require_real_bot
from .test_transcript_report import wait_report

GRACE_S = 8.0

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


async def _turns(
    client: httpx.AsyncClient, sid: str, found: str, timeout_s: float
) -> list[dict[str, Any]]:
    """The stored transcript once some interviewer turn contains ``found``."""
    deadline = time.monotonic() + timeout_s
    while True:
        turns: list[dict[str, Any]] = (await client.get(f"/sessions/{sid}/transcript")).json()[
            "turns"
        ]
        if any(t["speaker"] == "interviewer" and found in t["text"] for t in turns):
            return turns
        assert time.monotonic() < deadline, turns
        await asyncio.sleep(0.2)


@pytest.fixture
async def greeted(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, dict[str, Any], SimulatedCandidate]]:
    """A launcher with a warm real bot, a session, and a candidate who heard the greeting."""
    _require_real_bot(tmp_path)
    settings = make_settings(
        tmp_path, livekit_server, pool_size=1, reconnect_grace_s=GRACE_S, whisper_shared=True
    )
    async with running_launcher(settings, bot="interview_pipeline.bot") as (app, client):
        launcher = app.state.launcher
        deadline = time.monotonic() + 60
        while launcher.pool.ready_count < 1:
            assert time.monotonic() < deadline, "pool never warmed up"
            await asyncio.sleep(0.1)
        created = (await client.post("/sessions", json=body(name="Sam"))).json()
        await session_status(client, created["session_id"], "waiting_for_candidate", timeout_s=30)
        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        await candidate.wait_utterance(0.0, timeout_s=15)
        await session_status(client, created["session_id"], "in_progress", timeout_s=5)
        try:
            yield app, client, created, candidate
        finally:
            await candidate.leave()


async def test_rejoin_within_grace_hears_welcome_back(greeted: Any) -> None:
    app, client, created, candidate = greeted
    sid = created["session_id"]
    await _turns(client, sid, "", 30)  # the greeting has ended and is stored
    await candidate.wait_quiet(quiet_s=1.0, timeout_s=30)
    await candidate.leave()
    await asyncio.sleep(1.0)
    back = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
    await back.join()
    try:
        turns = await _turns(client, sid, "Welcome back", 30)
        welcome = next(t for t in turns if "Welcome back" in t["text"])
        assert welcome["kind"] == "repeat" or welcome["question_id"], welcome
        assert (await client.get(f"/sessions/{sid}")).json()["status"] == "in_progress"
    finally:
        await back.leave()
    ended = (await client.delete(f"/sessions/{sid}")).json()
    assert ended["status"] in ("completed", "abandoned"), ended


async def test_no_rejoin_abandons_and_keeps_transcript_and_partial_report(greeted: Any) -> None:
    app, client, created, candidate = greeted
    sid = created["session_id"]
    await _turns(client, sid, "", 30)
    await candidate.leave()
    left = time.monotonic()
    await session_status(client, sid, "abandoned", timeout_s=GRACE_S + 20)
    assert time.monotonic() - left >= GRACE_S - 1.0  # the grace window was honoured
    data = (await client.get(f"/sessions/{sid}/transcript")).json()
    assert data["status"] == "abandoned" and data["turns"][0]["speaker"] == "interviewer"
    report = await wait_report(client, sid)
    assert report["status"] == "ready" and report["report"]["partial"] is True
    print(f"report ready {report['generated_in_s']:.2f} s after the session ended")


async def test_bot_killed_mid_interview_keeps_transcript(greeted: Any) -> None:
    app, client, created, candidate = greeted
    sid = created["session_id"]
    said = await _turns(client, sid, "", 30)
    pid = app.state.launcher.sessions.live[sid].worker.pid
    os.kill(pid, signal.SIGKILL)
    await session_status(client, sid, "failed", timeout_s=15)
    assert await await_gone([pid]) == []
    data = (await client.get(f"/sessions/{sid}")).json()
    assert data["reason"] == "bot process killed by SIGKILL", data
    kept = (await client.get(f"/sessions/{sid}/transcript")).json()["turns"]
    assert kept[: len(said)] == said and kept[0]["speaker"] == "interviewer"
    report = await wait_report(client, sid)
    assert report["report"]["partial"] is True
