"""Transcript, recording and report routes, with the stand-in bot (fast; no speech engines).

The report is the offline heuristic one here (no OpenAI key in tests); what matters is that it
is made once, after the session ends, from what the store holds, and served as JSON and HTML.
"""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest

from interview_pipeline.launcher.livekit import LocalLiveKitServer
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionRecord, SqliteSessionStore
from interview_pipeline.transcript import Turn
from tests.polling import session_status

from .candidate import SimulatedCandidate
from .conftest import body, make_settings, running_launcher

pytestmark = [pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]

ANSWER = (
    "I start with user research, interview a handful of people, then build a rough prototype "
    "and test it with them before we commit engineering time."
)


async def wait_report(client: httpx.AsyncClient, sid: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        r = await client.get(f"/sessions/{sid}/report")
        if r.status_code == 200:
            data: dict[str, Any] = r.json()
            return data
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "pending"
        assert time.monotonic() < deadline, "report never became ready"
        await asyncio.sleep(0.1)


def write_wav(path: Path, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0\0\0" * int(16000 * seconds))


@pytest.mark.livekit
async def test_transcript_recording_report(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    settings = make_settings(tmp_path, livekit_server)
    async with running_launcher(settings) as (app, client):
        launcher = app.state.launcher
        created = (await client.post("/sessions", json=body(name="Sam"))).json()
        sid = created["session_id"]
        await session_status(client, sid, "waiting_for_candidate")
        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        await session_status(client, sid, "in_progress")
        await candidate.wait_utterance(0.0, timeout_s=10)
        # The stand-in bot does not listen: the answer goes where the real bot would put it.
        launcher.store.append_turn(
            sid, Turn("candidate", ANSWER, 1.0, 12.5, question_id="process", kind="answer")
        )

        r = await client.get(f"/sessions/{sid}/report")
        assert r.status_code == 202 and r.json()["status"] == "pending", r.text
        r = await client.get(f"/sessions/{sid}/recording")
        assert r.status_code == 404 and "no recording yet" in r.json()["detail"], r.text
        assert r.json()["field"] == "session_id"

        assert (await client.delete(f"/sessions/{sid}")).json()["status"] == "completed"
        await candidate.leave()

        data = (await client.get(f"/sessions/{sid}/transcript")).json()
        assert data["session_id"] == sid and data["status"] == "completed"
        turns = data["turns"]
        assert [t["speaker"] for t in turns] == ["interviewer", "candidate", "interviewer"]
        assert turns[1] == {
            "seq": 2,
            "speaker": "candidate",
            "text": ANSWER,
            "start": 1.0,
            "end": 12.5,
            "interrupted": False,
            "question_id": "process",
            "kind": "answer",
        }
        r = await client.get(f"/sessions/{sid}/transcript", params={"format": "txt"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        lines = r.text.splitlines()
        assert lines[0] == "[00:00] Maya: Hello Sam.", lines
        assert lines[1] == f"[00:01] Sam: {ANSWER}"
        r = await client.get(f"/sessions/{sid}/transcript", params={"format": "pdf"})
        assert r.status_code == 422 and r.json()["field"] == "format"

        report = await wait_report(client, sid)
        assert report["status"] == "ready" and report["session_status"] == "completed"
        assert report["report"]["persona_id"] == "maya"
        assert report["report"]["partial"] is False
        assert report["report"]["method"] == "heuristic"
        assert 0 <= report["generated_in_s"] < 10
        assert report["since_last_answer_s"] >= report["generated_in_s"]
        r = await client.get(f"/sessions/{sid}/report", params={"format": "html"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "<html" in r.text.lower()
        r = await client.get(f"/sessions/{sid}/report", headers={"Accept": "text/html"})
        assert r.headers["content-type"].startswith("text/html")

        r = await client.get(f"/sessions/{sid}/recording")
        assert r.status_code == 404 and "no recording was made" in r.json()["detail"]
        write_wav(settings.data_dir / "recordings" / f"{sid}.wav")
        r = await client.get(f"/sessions/{sid}/recording")
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        assert r.content[:4] == b"RIFF" and len(r.content) == 44 + 4 * 8000


async def test_auth_and_unknown_session(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, None, pool_size=0)
    async with running_launcher(settings) as (_, client):
        for route in ("transcript", "recording", "report"):
            for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
                r = await client.get(f"/sessions/abc/{route}", headers=headers)
                assert r.status_code == 401, (route, r.text)
                assert r.headers["www-authenticate"] == "Bearer"
            r = await client.get(f"/sessions/abc/{route}")
            assert r.status_code == 404, (route, r.text)
            assert r.json()["field"] == "session_id"


async def test_session_ended_under_a_dead_launcher_gets_a_partial_report(tmp_path: Path) -> None:
    """A launcher killed mid-interview: the next one closes the session as failed and still
    reports on the turns the bot had written."""
    settings = make_settings(tmp_path, None, pool_size=0)
    store = SqliteSessionStore(settings.resolved_store_path())
    store.create(
        SessionRecord(
            id="s1", room="r1", persona="maya", candidate_name="Sam",
            candidate_identity="candidate", status=SessionStatus.IN_PROGRESS,
        )
    )  # fmt: skip
    store.append_turn("s1", Turn("interviewer", "Hello Sam.", 0.0, 1.0, kind="opening"))
    store.append_turn("s1", Turn("candidate", ANSWER, 1.5, 9.0, question_id="process"))
    store.close()
    async with running_launcher(settings) as (_, client):
        report = await wait_report(client, "s1")
        assert report["session_status"] == "failed"
        assert report["report"]["partial"] is True
        r = await client.get("/sessions/s1/transcript", params={"format": "txt"})
        assert r.text.splitlines()[1].startswith("[00:01] Sam: I start with user research")
