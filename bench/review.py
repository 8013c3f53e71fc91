"""The recruiter's side: how fast a long recording starts and seeks, and how fast the session
list answers with 100 000 stored sessions.

A real launcher (uvicorn on 127.0.0.1, SQLite store, no LiveKit, no bots) serves:

* **Recording**: a finished 30-minute session with a 30-minute stereo 16 kHz WAV (115 MB, the
  recorder's format). Time to first byte of ``GET /sessions/{id}/recording``; time until a
  ``Range`` request for the last second has been answered in full ("seekable": what a player
  asks for when the reviewer jumps to the end); the whole file for comparison. With Chromium,
  also the review page's player: page open → metadata loaded, and a jump near the end →
  ``seeked``.
* **List**: 100 000 sessions (inserted in one transaction; the rows the measured pages show
  have report files), then
  ``GET /review/sessions`` (what the list page fetches: 25 rows with their recommendations)
  on the first page, a page 50 000 rows deep by cursor, and with status / persona filters; and
  the API's ``GET /sessions?limit=25``. p50 / p95 over the requests.

Nothing is asserted; the machine is shared and noisy.

    .venv/bin/python bench/review.py [--sessions 100000] [--requests 40] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from loguru import logger  # noqa: E402

from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.launcher.app import create_app  # noqa: E402
from interview_pipeline.launcher.livekit import free_port  # noqa: E402
from interview_pipeline.launcher.models import SessionStatus  # noqa: E402
from interview_pipeline.launcher.store import SessionRecord  # noqa: E402
from interview_pipeline.launcher.store_sqlite import SqliteSessionStore  # noqa: E402
from interview_pipeline.transcript import Turn  # noqa: E402
from tests.launcher.chromium import Chromium, chromium_binary  # noqa: E402

KEY = "bench-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
RATE, CHANNELS = 16000, 2
LONG_S = 30 * 60


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def settings_for(tmp: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        livekit_url="ws://127.0.0.1:9",
        livekit_api_key="devkey",
        livekit_api_secret="secret",
        api_keys=KEY,
        store_path=tmp / "sessions.sqlite3",
        data_dir=tmp,
        personas_dir=ROOT / "personas",
        pool_size=0,
        port=free_port(),
    )


def long_interview() -> list[Turn]:
    """30 minutes: question, answer, question, ... (40 s answers, 10 s questions, pauses)."""
    turns, t, n = [], 1.0, 0
    while t < LONG_S - 60:
        turns.append(Turn("interviewer", f"Question {n}?", t, t + 10, question_id="process",
                          kind="question"))  # fmt: skip
        turns.append(Turn("candidate", f"Answer {n}: I start with research and users. " * 6,
                          t + 12, t + 52, question_id="process", kind="answer"))  # fmt: skip
        t, n = t + 56, n + 1
    return turns


def write_wav(path: Path, seconds: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    chunk = b"\x10\x00\xf0\xff" * RATE  # one second of a quiet square wave, both channels
    with wave.open(str(path), "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(2)
        w.setframerate(RATE)
        for _ in range(seconds):
            w.writeframes(chunk)


async def serve(settings: Settings) -> tuple[uvicorn.Server, asyncio.Task[None], Any]:
    app = create_app(settings, log_dir=settings.data_dir / "logs")
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning")
    )
    task = asyncio.ensure_future(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn has no event for it)
        await asyncio.sleep(0.05)
    return server, task, app


async def bench_recording(requests: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        settings = settings_for(tmp)
        sid = uuid.uuid4().hex
        store = SqliteSessionStore(settings.resolved_store_path())
        now = time.time()
        store.create(SessionRecord(id=sid, room="r", persona="maya", candidate_name="Sam",
                                   candidate_identity="candidate", created_at=now - LONG_S - 60,
                                   candidate_joined_at=now - LONG_S - 50))  # fmt: skip
        for turn in long_interview():
            store.append_turn(sid, turn)
        store.update(sid, status=SessionStatus.COMPLETED, ended_at=now)
        store.close()
        wav = settings.data_dir / "recordings" / f"{sid}.wav"
        write_wav(wav, LONG_S)
        size = wav.stat().st_size
        server, task, _ = await serve(settings)
        base = f"http://127.0.0.1:{settings.port}"
        url = f"/sessions/{sid}/recording"
        last_second = f"bytes={size - RATE * CHANNELS * 2}-{size - 1}"
        ttfb, seekable = [], []
        try:
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=120) as client:
                for _ in range(requests):
                    t0 = time.perf_counter()
                    async with client.stream("GET", url) as r:
                        async for _ in r.aiter_raw():
                            ttfb.append(time.perf_counter() - t0)
                            break
                    t0 = time.perf_counter()
                    r = await client.get(url, headers={"Range": last_second})
                    assert r.status_code == 206 and len(r.content) == RATE * CHANNELS * 2, r
                    seekable.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                whole = await client.get(url)
                whole_s = time.perf_counter() - t0
                assert len(whole.content) == size
                link = (await client.get(f"/sessions/{sid}/review-link")).json()["url"]
            browser = await bench_player(link)
        finally:
            server.should_exit = True
            await task
        return {
            "size_mb": round(size / 1e6, 1),
            "ttfb_ms": (1000 * pct(ttfb, 0.5), 1000 * pct(ttfb, 0.95)),
            "seekable_ms": (1000 * pct(seekable, 0.5), 1000 * pct(seekable, 0.95)),
            "whole_file_s": round(whole_s, 2),
            "browser": browser,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def bench_player(link: str) -> dict[str, Any] | None:
    """The review page's player in headless Chromium: open → metadata; jump → seeked."""
    binary = chromium_binary()
    if binary is None:
        return None
    page = Chromium(binary)
    try:
        t0 = time.perf_counter()
        await page.open(link)
        ready = "!!(window.review && document.getElementById('player').readyState >= 1)"
        while not await page.evaluate(ready):  # noqa: ASYNC110 (polling the page)
            await asyncio.sleep(0.02)
        metadata_s = time.perf_counter() - t0
        in_page_ms = await page.evaluate("window.review.metadataAt")
        seeks = []
        for target in (LONG_S - 5, 60, LONG_S / 2, LONG_S - 30, 10):
            ms = await page.evaluate(
                "new Promise(done => { const p = document.getElementById('player');"
                " const t0 = performance.now();"
                " p.addEventListener('seeked', () => done(performance.now() - t0), {once: true});"
                f" p.currentTime = {target}; }})"
            )
            seeks.append(float(ms))
        return {
            "open_to_metadata_s": round(metadata_s, 2),
            "page_load_to_metadata_ms": round(float(in_page_ms)),
            "seek_ms": seeks,
        }
    finally:
        await page.close()


def fill_store(path: Path, reports: Path, n: int) -> float:
    """``n`` ended sessions in one transaction, each with a report file; seconds taken."""
    SqliteSessionStore(path).close()  # the schema and indexes, as the launcher makes them
    import sqlite3

    t0 = time.perf_counter()
    db = sqlite3.connect(str(path))
    statuses = ["completed"] * 6 + ["abandoned"] * 2 + ["failed"]
    personas = ["maya", "alex"]
    start = time.time() - n * 60
    rows = []
    for i in range(n):
        created = start + i * 60
        rows.append((uuid.uuid4().hex, f"room-{i}", personas[i % 2], f"Candidate {i}", None,
                     "candidate", None, statuses[i % len(statuses)], None, created, created + 900,
                     created + 1, created + 5, created + 900))  # fmt: skip
    columns = (
        "id, room, persona, candidate_name, candidate_email, candidate_identity, metadata, "
        "status, reason, created_at, updated_at, bot_joined_at, candidate_joined_at, ended_at"
    )
    db.executemany(f"INSERT INTO sessions ({columns}) VALUES ({','.join('?' * 14)})", rows)
    db.commit()
    db.close()
    reports.mkdir(parents=True, exist_ok=True)
    body = {"status": "ready", "report": {"overall": {"recommendation": "yes", "score": 3.7,
                                                      "summary": "..."}}}  # fmt: skip
    # Report files for the rows the measured pages show (the newest and the middle ones): a
    # row's cost is reading its report, and 100 000 small files take minutes on a busy disk.
    shown = rows[-2000:] + rows[n // 2 - 1000 : n // 2 + 1000]
    for row in shown:
        (reports / f"{row[0]}.json").write_text(json.dumps({**body, "session_id": row[0]}))
    return time.perf_counter() - t0


async def bench_list(n: int, requests: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-list-"))
    try:
        settings = settings_for(tmp)
        fill_s = fill_store(settings.resolved_store_path(), tmp / "reports", n)
        server, task, _ = await serve(settings)
        base = f"http://127.0.0.1:{settings.port}"
        out: dict[str, Any] = {"sessions": n, "fill_s": round(fill_s, 1)}
        try:
            async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
                # A cursor 50 000 rows deep, walked to once with big pages.
                cursor, seen = None, 0
                while seen < n // 2:
                    params: dict[str, Any] = {"limit": 1000}
                    if cursor:
                        params["cursor"] = cursor
                    page = (await client.get("/sessions", params=params)).json()
                    seen += len(page["sessions"])
                    cursor = page["next_cursor"]
                cases = {
                    "list page 1 (/review/sessions, 25 rows)": ("/review/sessions", {}),
                    f"list page {n // 2:,} rows deep (cursor)": (
                        "/review/sessions", {"cursor": cursor},
                    ),
                    "list, status=failed": ("/review/sessions", {"status": "failed"}),
                    "list, persona=alex": ("/review/sessions", {"persona": "alex"}),
                    "list, status=abandoned & persona=maya": (
                        "/review/sessions", {"status": "abandoned", "persona": "maya"},
                    ),
                    "API GET /sessions?limit=25": ("/sessions", {"limit": 25}),
                    "API GET /sessions?limit=25, deep cursor": (
                        "/sessions", {"limit": 25, "cursor": cursor},
                    ),
                    "the list page's HTML (/review)": ("/review", {}),
                }  # fmt: skip
                for name, (path, params) in cases.items():
                    times = []
                    for _ in range(requests):
                        t0 = time.perf_counter()
                        r = await client.get(path, params=params)
                        times.append(time.perf_counter() - t0)
                        assert r.status_code == 200, (name, r.status_code, r.text[:200])
                    out[name] = (1000 * pct(times, 0.5), 1000 * pct(times, 0.95))
        finally:
            server.should_exit = True
            await task
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    rec = await bench_recording(args.requests)
    print(
        f"\n30-minute recording ({rec['size_mb']} MB WAV), {args.requests} requests, ms p50 / p95"
    )
    print(
        f"  time to first byte (GET, no Range)        {rec['ttfb_ms'][0]:7.1f} / {rec['ttfb_ms'][1]:7.1f}"
    )
    print(
        f"  seekable: Range for the last second, whole {rec['seekable_ms'][0]:7.1f} / {rec['seekable_ms'][1]:7.1f}"
    )
    print(f"  (the whole file, for comparison: {rec['whole_file_s']} s)")
    if rec["browser"]:
        b = rec["browser"]
        seeks = ", ".join(f"{s:.0f}" for s in b["seek_ms"])
        print(
            f"  Chromium review page: page load → player has metadata {b['page_load_to_metadata_ms']}"
            f" ms ({b['open_to_metadata_s']} s with Chromium's start); jumps → seeked (ms): {seeks}"
        )
    lst = await bench_list(args.sessions, args.requests)
    print(
        f"\nSession list with {lst['sessions']:,} stored sessions (filled in {lst['fill_s']} s), "
        f"{args.requests} requests each, ms p50 / p95"
    )
    for name, value in lst.items():
        if isinstance(value, tuple):
            print(f"  {name:44s} {value[0]:7.1f} / {value[1]:7.1f}")
    if args.json:
        args.json.write_text(json.dumps({"recording": rec, "list": lst}, indent=2))
    print(f"\n(load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    asyncio.run(main())
