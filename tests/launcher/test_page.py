"""The candidate page in headless Chromium against the real server and the real bot.

Chromium's fake microphone plays a WAV (silence while the interviewer greets, then a recorded
answer). Driven with the keyboard only, at a phone's 390x844: the device check and the consent
gate, the greeting's words in the captions, the status line following the interview, a dropped
network shown as "reconnecting" and resumed, the end screen after the closing line. Every phase
is checked with axe-core (0 serious or critical) and written as a screenshot to SCREENSHOTS.
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
from .conftest import AUTH, FAKEBOT, await_gone, body, make_settings
from .test_e2e import _require_real_bot

ANSWER = REPO_ROOT / "tests" / "fixtures" / "answers" / "maya_process.wav"
#: From the microphone check: joining, then the greeting and first question play meanwhile.
LEAD_SILENCE_S = 35.0  # generous: under load the greeting can start 20 s after joining
#: Written by each run, not committed (``/out/`` is git-ignored); named in the launcher README.
SCREENSHOTS = REPO_ROOT / "out" / "screenshots"
PHONE = (390, 844)

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
]


def mic_wav(path: Path) -> Path:
    with wave.open(str(ANSWER), "rb") as w:
        rate = w.getframerate()
        answer = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    # Near-silence (about -65 dBFS): the level meter has something to show, VAD hears nothing.
    noise = np.random.default_rng(0).normal(0, 15, int(rate * LEAD_SILENCE_S))
    lead = noise.astype(np.int16)
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


def browser() -> str:
    binary = chromium_binary()
    if binary is None:
        missing("chromium", "apt-get install chromium (scripts/setup.sh does it)")
    return binary


async def checked(page: Chromium, phase: str) -> None:
    """Screenshot the phase and require no serious or critical axe-core violation in it."""
    await page.screenshot(SCREENSHOTS / f"{phase}.png")
    violations = await page.axe()
    assert violations == [], (phase, violations)


async def captioned(page: Chromium, words: str, timeout_s: float) -> None:
    """Wait for the interviewer's ``words`` in the page's captions."""
    found = f"c.who === 'interviewer' && c.text.includes({words!r})"
    await until(page, f"window.interview.captions.some(c => {found})", timeout_s)


async def check_microphone(
    page: Chromium, expect: str, *, permission: tuple[str, str] | None = None
) -> None:
    """Press "Check my microphone" (by keyboard), after setting the site's permission."""
    if permission is not None:
        setting, origin = permission
        descriptor = {"name": "microphone"}
        await page.send(
            "Browser.setPermission",
            {"permission": descriptor, "setting": setting, "origin": origin},
        )
    await page.tab_to("mic-check")
    await page.press("Enter")
    await until(page, f"window.interview.mic.status === {expect!r}", 20)


@pytest.mark.timeout(600)  # minutes only on a loaded machine (the bot's speech slows too)
async def test_candidate_page_in_chromium(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    binary = browser()
    _require_real_bot(tmp_path)
    settings = make_settings(
        tmp_path, livekit_server, pool_size=1, port=free_port(), whisper_shared=True
    )
    async with serving(settings, "interview_pipeline.bot") as app:
        launcher = app.state.launcher
        await polling.until(
            lambda: launcher.pool.ready_count >= 1, 60, what="a warm bot in the pool"
        )
        persona = launcher.sessions.personas.load("maya")
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            created = (await client.post("/sessions", json=body(name="Sam"))).json()
            sid = created["session_id"]
            assert created["join_url"].startswith(f"{base}/join/")

            page = Chromium(binary, fake_mic_wav=mic_wav(tmp_path / "mic.wav"))
            try:
                await page.open(created["join_url"])
                await page.viewport(*PHONE, mobile=True)
                await until(page, "window.interview && window.interview.phase === 'ready'", 30)
                await checked(page, "1-before-joining")
                await check_microphone(page, "ok")
                await page.tab_to("speaker-test")
                await page.press("Enter")
                assert await page.evaluate("window.interview.speakerTestedAt > 0")
                # The consent gate: Join stays disabled, and does nothing, until accepted.
                assert await page.evaluate("document.getElementById('join').disabled")
                await page.evaluate("window.interviewJoin()", user_gesture=True)
                assert await page.evaluate("window.interview.phase") == "ready"
                assert launcher.store.consent(sid) is None
                await page.tab_to("consent-accept")
                await page.press("Space")
                await until(page, "!document.getElementById('join').disabled", 5)
                await until(page, "window.interview.mic.peak > 0", 10)  # the meter moves
                await checked(page, "2-ready-to-join")
                await page.tab_to("join")
                await page.press("Enter")
                consent = launcher.store.consent(sid)
                deadline = time.monotonic() + 10
                while consent is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    consent = launcher.store.consent(sid)
                assert consent is not None and consent.version == persona.consent.version

                await until(page, "window.interview.phase === 'live'", 30)
                # The greeting's words reach the captions as it is spoken.
                greeting = persona.render(persona.opening, "Sam").split(",")[0]  # "Hello Sam"
                await captioned(page, greeting, 30)
                timing = await page.evaluate(
                    "[window.interview.firstCaptionAt - window.interview.joinClickedAt,"
                    " window.interview.firstAudioAt - window.interview.joinClickedAt]"
                )
                print(f"Join -> first caption {timing[0]:.0f} ms, first audio {timing[1]:.0f} ms")
                assert "Maya is speaking" in await page.evaluate("window.interview.statusLine")
                shown = await page.evaluate("document.getElementById('captions').innerText")
                assert greeting in shown, shown
                await until(page, "document.querySelector('#stage video') !== null", 15)
                await checked(page, "3-interview")

                # Captions can be switched off (and on again) from the keyboard.
                await page.tab_to("captions-toggle")
                await page.press("Space")
                assert await page.evaluate("document.getElementById('captions').hidden")
                await page.press("Space")
                assert not await page.evaluate("document.getElementById('captions').hidden")

                # The status line follows the interview: now it is the candidate's turn.
                await until(page, "window.interview.statusLine.startsWith('Your turn')", 120)

                # A dropped network: "reconnecting" at once, then the interview resumes.
                await page.offline(True)
                await until(page, "window.interview.phase === 'reconnecting'", 10)
                banner = await page.evaluate("document.getElementById('connection').innerText")
                assert "Reconnecting" in banner
                await checked(page, "4-reconnecting")
                await asyncio.sleep(3)
                await page.offline(False)
                await until(
                    page,
                    "window.interview.phase === 'live' && window.interview.lkReconnects >= 1",
                    45,
                )
                assert await page.evaluate("document.getElementById('connection').hidden")

                # The candidate's words as recognised, then the interviewer's turn again.
                # (Words of maya_process.wav; either half may be what the STT caught first.)
                said = await until(
                    page,
                    "window.interview.captions.filter(c => c.who === 'candidate')"
                    ".map(c => c.text).join(' ').match(/research|prototype/i)",
                    LEAD_SILENCE_S + 120,
                )
                assert said, said
                await until(
                    page, "/Maya is (thinking|speaking)/.test(window.interview.statusLine)", 30
                )
                progress = await until(page, "document.getElementById('progress').innerText", 10)
                assert re.match(r"Question \d+ of \d+ · \d+:\d\d left", progress), progress
                transcript = await until(
                    page, "document.getElementById('transcript').innerText", 10
                )
                assert "Maya:" in transcript
                assert await page.evaluate("window.interview.errors") == []

                # The end: the closing line is heard and captioned, then the end screen.
                ending = asyncio.ensure_future(client.delete(f"/sessions/{sid}"))
                closing = persona.render(persona.closing, "Sam").split(",")[0]  # "Thank you Sam"
                await captioned(page, closing, 45)
                await until(page, "window.interview.phase === 'ended'", 30)
                end_text = await page.evaluate("document.getElementById('ended').innerText")
                assert persona.render(persona.end_screen, "Sam").split("\n")[0] in end_text
                assert "score" not in end_text.lower()
                await checked(page, "5-ended")
                ended = (await ending).json()
                assert ended["status"] in ("completed", "abandoned")
            finally:
                await page.close()
            assert await await_gone(page.pids, 5) == []


async def test_page_permission_denied_consent_and_leave(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    """With the stand-in bot: a blocked microphone says what to do, the accepted notice is
    stored and shown in the report, and Leave asks first."""
    binary = browser()
    settings = make_settings(tmp_path, livekit_server, pool_size=1, port=free_port())
    async with serving(settings, str(FAKEBOT)) as app:
        launcher = app.state.launcher
        persona = launcher.sessions.personas.load("alex")
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            created = (await client.post("/sessions", json=body(persona="alex"))).json()
            sid = created["session_id"]
            page = Chromium(binary, fake_mic_wav=mic_wav(tmp_path / "mic.wav"), fake_ui=False)
            try:
                await page.open(created["join_url"])
                await page.viewport(*PHONE, mobile=True)
                await until(page, "window.interview && window.interview.phase === 'ready'", 30)
                text = await page.evaluate("document.getElementById('consent-text').innerText")
                assert "recorded" in text and "AI" in text and "12 months" in text
                await check_microphone(page, "denied", permission=("denied", base))
                message = await page.evaluate("document.getElementById('mic-message').innerText")
                assert "blocked" in message and "Try again" in message, message
                await page.tab_to("consent-accept")
                await page.press("Space")
                assert await page.evaluate("document.getElementById('join').disabled")
                await checked(page, "6-microphone-blocked")
                await check_microphone(page, "ok", permission=("granted", base))
                await page.tab_to("join")
                await page.press("Enter")
                await until(page, "window.interview.phase === 'live'", 30)

                # Leave asks first; Stay keeps the interview going.
                await page.tab_to("leave")
                await page.press("Enter")
                assert await page.evaluate("document.getElementById('leave-dialog').open")
                await checked(page, "7-leave-confirmation")
                await page.press("Enter")  # the focus starts on Stay
                assert not await page.evaluate("document.getElementById('leave-dialog').open")
                assert await page.evaluate("window.interview.phase") == "live"
                await page.tab_to("leave")
                await page.press("Enter")
                await page.tab_to("leave-confirm")
                await page.press("Enter")
                await until(page, "window.interview.phase === 'ended'", 10)
                title = await page.evaluate("document.getElementById('ended-title').innerText")
                assert title == "You have left the interview"
            finally:
                await page.close()

        consent = launcher.store.consent(sid)
        assert consent is not None and consent.version == persona.consent.version
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            deadline = time.monotonic() + 30
            while (r := await client.get(f"/sessions/{sid}/report")).status_code == 202:
                assert time.monotonic() < deadline, r.text
                await asyncio.sleep(0.2)
            assert r.json()["consent"]["version"] == persona.consent.version
            assert r.json()["consent"]["accepted_at"] == consent.accepted_at
            html = (await client.get(f"/sessions/{sid}/report?format=html")).text
            assert f"version <b>{persona.consent.version}</b>" in html


async def test_page_without_a_microphone(
    tmp_path: Path, livekit_server: LocalLiveKitServer
) -> None:
    """Chromium with this machine's own devices (it has none): the page says to connect one."""
    binary = browser()
    settings = make_settings(tmp_path, livekit_server, pool_size=0, port=free_port())
    async with serving(settings, str(FAKEBOT)):
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            created = (await client.post("/sessions", json=body())).json()
            page = Chromium(binary, fake_devices=False)
            try:
                await page.open(created["join_url"])
                await until(page, "window.interview && window.interview.phase === 'ready'", 30)
                await check_microphone(page, "missing")
                message = await page.evaluate("document.getElementById('mic-message').innerText")
                assert message.startswith("No microphone was found"), message
                await page.tab_to("consent-accept")
                await page.press("Space")
                assert await page.evaluate("document.getElementById('join').disabled")
            finally:
                await page.close()
            await client.delete(f"/sessions/{created['session_id']}")
