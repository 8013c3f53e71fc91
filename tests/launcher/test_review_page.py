"""The recruiter's pages in headless Chromium, against a real launcher over HTTP: the review page
seeks the player where a quote or turn is heard and highlights the turn being played; partial
and absent recordings are said; the session list filters and paginates; axe-core finds no
serious or critical violation on either page.

Sessions are built straight in the store with a synthetic WAV (``review_fixtures``): no LiveKit,
no bot, so this runs in seconds.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from interview_pipeline.launcher.livekit import free_port
from interview_pipeline.launcher.models import SessionStatus

from .chromium import Chromium, chromium_binary
from .conftest import AUTH, make_settings
from .review_fixtures import finished_session
from .test_page import serving

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
SHOTS = Path(__file__).resolve().parents[2] / "out" / "review"


async def until(page: Chromium, expression: str, timeout_s: float = 45.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = await page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            state = await page.evaluate("JSON.stringify(window.review || window.sessions || {})")
            raise AssertionError(f"timed out on {expression!r}; page state: {state[:2000]}")
        await asyncio.sleep(0.1)


@pytest.fixture
def browser_binary() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    return binary


async def wait_report(client: httpx.AsyncClient, sid: str) -> None:
    deadline = time.monotonic() + 60
    while (await client.get(f"/sessions/{sid}/report")).status_code != 200:
        assert time.monotonic() < deadline, "no report"
        await asyncio.sleep(0.05)


def assert_accessible(violations: list[dict[str, Any]]) -> None:
    assert violations == [], "\n".join(f"{v['id']}: {v['help']} {v['nodes']}" for v in violations)


async def test_review_page_seeks_and_follows_playback(tmp_path: Path, browser_binary: str) -> None:
    settings = make_settings(tmp_path, None, pool_size=0, port=free_port())
    async with serving(settings, "unused") as app:
        launcher = app.state.launcher
        turns = finished_session(launcher.store, settings.data_dir, "done1")
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            await wait_report(client, "done1")
            link = (await client.get("/sessions/done1/review-link")).json()
        assert link["url"].startswith(f"{base}/sessions/done1/review#token=")
        page = Chromium(browser_binary)
        try:
            await page.open(link["url"])
            await until(page, "window.review && window.review.phase === 'ready'")
            assert await page.evaluate("location.hash") == ""  # the token left the address bar
            await until(page, "document.getElementById('player').readyState >= 1")
            assert await page.evaluate("document.getElementById('player').duration") == (
                pytest.approx(53.0, abs=0.05)
            )
            assert await page.evaluate("document.querySelectorAll('#transcript li').length") == 8
            assert await page.evaluate("!!document.querySelector('#timeline svg')")

            # Every quote seeks the player to within 0.5 s of the moment it is heard.
            quotes = await page.evaluate(
                "[...document.querySelectorAll('button.quote')].map(b => "
                "({t: parseFloat(b.dataset.t), seq: parseInt(b.dataset.seq)}))"
            )
            assert len(quotes) >= 3
            for i, quote in enumerate(quotes):
                now = await page.evaluate(
                    f"(() => {{ document.querySelectorAll('button.quote')[{i}].click();"
                    " const p = document.getElementById('player');"
                    " return {t: p.currentTime, current: window.review.current}; })()",
                    user_gesture=True,
                )
                assert abs(now["t"] - quote["t"]) < 0.5, (quote, now)
                assert now["current"] == quote["seq"]
                spoken = turns[quote["seq"] - 1]
                assert spoken.speaker == "candidate" and spoken.start <= quote["t"] <= spoken.end

            # Clicking a turn seeks to its start and highlights it.
            await page.evaluate(
                "document.querySelector('#transcript li[data-seq=\"5\"] button').click()",
                user_gesture=True,
            )
            assert await page.evaluate("window.review.current") == 5
            assert (
                await page.evaluate("document.querySelector('#transcript li.current').dataset.seq")
                == "5"
            )
            assert (
                abs(await page.evaluate("document.getElementById('player').currentTime") - 31.0)
                < 0.5
            )

            # The highlight follows playback: start just before the interviewer cuts in at 42 s.
            await page.evaluate(
                "(() => { const p = document.getElementById('player'); p.currentTime = 40.6;"
                " return p.play(); })()",
                user_gesture=True,
            )
            await until(page, "window.review.current === 5", 20)
            await until(page, "window.review.current === 6", 20)  # the interviewer, at 42.0 s
            await until(page, "window.review.current === 7", 20)  # the candidate again, at 43.2 s
            played = await page.evaluate("document.getElementById('player').currentTime")
            assert played >= 43.1  # the highlight moves 50 ms early, as a caption would
            await page.evaluate("document.getElementById('player').pause()")
            assert (
                await page.evaluate(
                    "document.querySelector('#tl-playhead').getAttribute('visibility')"
                )
                == "visible"
            )

            await page.viewport(1280, 900)
            await page.screenshot(SHOTS / "review.png")
            assert_accessible(await page.axe())
            assert await page.evaluate("window.review.errors") == []
        finally:
            await page.close()


async def test_review_page_says_what_is_missing(tmp_path: Path, browser_binary: str) -> None:
    settings = make_settings(tmp_path, None, pool_size=0, port=free_port())
    async with serving(settings, "unused") as app:
        launcher = app.state.launcher
        # Abandoned, and the recording stops at 35 s (the bot was killed mid-answer).
        finished_session(
            launcher.store,
            settings.data_dir,
            "cut",
            status=SessionStatus.ABANDONED,
            recording_s=35.0,
        )
        finished_session(
            launcher.store, settings.data_dir, "none", status=SessionStatus.FAILED, recording_s=None
        )
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            cut = (await client.get("/sessions/cut/review-link")).json()["url"]
            none = (await client.get("/sessions/none/review-link")).json()["url"]
        page = Chromium(browser_binary)
        try:
            await page.open(cut)
            await until(page, "window.review && window.review.phase === 'ready'")
            notes = await page.evaluate("document.getElementById('notes').innerText")
            assert "ended as abandoned" in notes and "recording is partial" in notes, notes
            assert "stops at 00:35" in notes
            tags = await page.evaluate(
                "[...document.querySelectorAll('#transcript li')].filter(li => "
                "li.innerText.includes('not in the recording')).map(li => li.dataset.seq)"
            )
            assert tags == ["6", "7", "8"]  # the turns that start after 35 s
            svg = await page.evaluate("document.querySelector('#timeline svg').outerHTML")
            assert "not recorded" in svg
            # A turn beyond the recording highlights, but the player stays where it was.
            await page.evaluate(
                "document.querySelector('#transcript li[data-seq=\"7\"] button').click()",
                user_gesture=True,
            )
            assert await page.evaluate("window.review.current") == 7
            assert await page.evaluate("document.getElementById('player').currentTime") < 35

            await page.navigate(none)
            await until(page, "window.review && window.review.phase === 'ready'")
            notes = await page.evaluate("document.getElementById('notes').innerText")
            assert "No recording was made" in notes and "ended as failed" in notes, notes
            assert await page.evaluate("document.getElementById('player').hidden")
            assert not await page.evaluate("document.getElementById('no-recording').hidden")
            assert_accessible(await page.axe())
        finally:
            await page.close()


async def test_session_list_filters_and_paginates(tmp_path: Path, browser_binary: str) -> None:
    settings = make_settings(tmp_path, None, pool_size=0, port=free_port())
    async with serving(settings, "unused") as app:
        launcher = app.state.launcher
        start = time.time() - 10_000
        for i in range(30):
            finished_session(
                launcher.store, settings.data_dir, f"list{i:02d}",
                status=(SessionStatus.COMPLETED, SessionStatus.ABANDONED, SessionStatus.FAILED)[i % 3],
                persona=("maya", "alex")[i % 2], name=f"Candidate {i:02d}",
                created_at=start + 60 * i, recording_s=None,
            )  # fmt: skip
        for i in range(30):
            launcher.reports.schedule(f"list{i:02d}")
        await launcher.reports.wait()
        base = f"http://127.0.0.1:{settings.port}"
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            link = (await client.get("/review-link")).json()["url"]
        page = Chromium(browser_binary)
        rows = "window.sessions.rows.map(r => r.session_id)"
        try:
            await page.open(link)
            await until(page, "window.sessions && window.sessions.phase === 'ready'")
            first = await page.evaluate(rows)
            assert first == [f"list{i:02d}" for i in range(29, 4, -1)]  # 25 a page, newest first
            assert await page.evaluate("document.getElementById('prev').disabled")
            await page.evaluate("document.getElementById('next').click()", user_gesture=True)
            await until(page, "window.sessions.page === 2 && window.sessions.phase === 'ready'")
            assert await page.evaluate(rows) == [f"list{i:02d}" for i in range(4, -1, -1)]
            assert await page.evaluate("document.getElementById('next').disabled")
            await page.evaluate("document.getElementById('prev').click()", user_gesture=True)
            await until(page, "window.sessions.page === 1 && window.sessions.loads === 3")
            assert await page.evaluate(rows) == first

            # Filters: completed (i % 3 == 0) and maya (i % 2 == 0).
            await page.evaluate(
                "(() => { const s = document.getElementById('status'); s.value = 'completed';"
                " const p = document.getElementById('persona'); p.value = 'maya';"
                " p.dispatchEvent(new Event('change', {bubbles: true})); })()"
            )
            await until(page, "window.sessions.loads === 4")
            assert await page.evaluate(rows) == [f"list{i:02d}" for i in (24, 18, 12, 6, 0)]
            first_row = await page.evaluate(
                "(() => { const tr = document.querySelector('#rows tr');"
                " return {href: tr.querySelector('a').getAttribute('href'),"
                " cells: [...tr.cells].map(c => c.innerText)}; })()"
            )
            assert first_row["href"] == "/sessions/list24/review"
            assert first_row["cells"][1:3] == ["completed", "maya"]
            assert first_row["cells"][4] == "0:52"  # candidate joined → ended
            assert first_row["cells"][5].startswith(("Strong yes", "Yes", "Lean no", "No"))
            assert_accessible(await page.axe())
            await page.viewport(1280, 900)
            await page.screenshot(SHOTS / "sessions.png")
            # The review it links to opens with the list's cookie, no second link needed.
            await page.navigate(f"{base}/sessions/list24/review")
            await until(page, "window.review && window.review.phase === 'ready'")
        finally:
            await page.close()
