"""The candidate page in headless Chromium against the real server and the real bot.

Chromium's fake microphone plays a WAV (silence while the interviewer greets, then a recorded
answer); the page must play the greeting and show the answer in its live transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

from interview_pipeline.config import REPO_ROOT, Settings
from interview_pipeline.launcher.app import create_app
from interview_pipeline.launcher.livekit import LocalLiveKitServer, free_port
from tests import polling
from tests.real_parts import missing

from .chromium import Chromium, chromium_binary
from .conftest import AUTH, await_gone, body, make_settings
from .test_e2e import _require_real_bot

ANSWER = REPO_ROOT / "tests" / "fixtures" / "answers" / "maya_process.wav"
LEAD_SILENCE_S = 15.0  # the greeting and first question play meanwhile

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


def mic_wav(path: Path) -> Path:
    with wave.open(str(ANSWER), "rb") as w:
        rate = w.getframerate()
        answer = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    lead = np.zeros(int(rate * LEAD_SILENCE_S), dtype=np.int16)
    tail = np.zeros(int(rate * 8), dtype=np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.concatenate([lead, answer, tail]).tobytes())
    return path


@contextlib.asynccontextmanager
async def serving(settings: Settings, bot: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings, bot=bot, log_dir=settings.data_dir / "logs")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning")
    )
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn failed to start"
        await asyncio.sleep(0.05)
    try:
        yield app
    finally:
        server.should_exit = True
        await task


async def until(page: Chromium, expression: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            state = await page.evaluate("JSON.stringify(window.interview)")
            raise AssertionError(f"timed out on {expression!r}; page state: {state}")
        await asyncio.sleep(0.2)


async def test_candidate_page_in_chromium(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    binary = chromium_binary()
    if binary is None:
        missing("chromium", "apt-get install chromium (scripts/setup.sh does it)")
    _require_real_bot(tmp_path)
    settings = make_settings(
        tmp_path, livekit_server, pool_size=1, port=free_port(), whisper_shared=True
    )
    async with serving(settings, "interview_pipeline.bot") as app:
        launcher = app.state.launcher
        await polling.until(
            lambda: launcher.pool.ready_count >= 1, 60, what="a warm bot in the pool"
        )
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            created = (await client.post("/sessions", json=body(name="Sam"))).json()
            assert created["join_url"].startswith(f"{base}/join/")

            page = Chromium(binary, fake_mic_wav=mic_wav(tmp_path / "mic.wav"))
            try:
                await page.open(created["join_url"])
                await until(page, "window.interview && window.interview.phase === 'ready'", 20)
                assert await page.evaluate("location.hash") == ""  # token scrubbed from the URL
                await page.evaluate("window.interviewJoin()", user_gesture=True)
                await until(page, "window.interview.phase === 'live'", 20)
                await until(page, "window.interview.firstAudioAt !== null", 20)
                assert await page.evaluate("window.interview.audioTracks") >= 1
                # maya's avatar is rendered locally: the interviewer's camera track is shown.
                await until(page, "document.querySelector('#stage video') !== null", 10)
                await until(
                    page,
                    "window.interview.transcript.some(t => t.speaker === 'interviewer')",
                    20,
                )
                said = await until(
                    page,
                    "window.interview.transcript.filter(t => t.speaker === 'candidate')"
                    ".map(t => t.text).join(' ')",
                    LEAD_SILENCE_S + 35,
                )
                assert "research" in said.lower(), said
                shown = await page.evaluate("document.getElementById('transcript').innerText")
                assert "research" in shown.lower()
                # RTVI over the data channel: the interviewer's state and "Question k of n".
                progress = await until(page, "document.getElementById('progress').innerText", 10)
                assert re.match(r"Question \d+ of \d+ · \d+:\d\d left", progress), progress
                assert await page.evaluate("window.interview.interviewerState") in (
                    "listening", "thinking", "speaking",
                )  # fmt: skip
                assert await page.evaluate("window.interview.errors") == []
            finally:
                await page.close()
            assert await await_gone(page.pids, 5) == []

            ended = (await client.delete(f"/sessions/{created['session_id']}")).json()
            assert ended["status"] in ("completed", "abandoned")
