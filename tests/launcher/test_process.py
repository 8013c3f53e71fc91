"""``python server.py`` as a real process: drain on SIGTERM, nothing orphaned on SIGKILL,
restart recovery, and the no-LiveKit start-up paths."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from interview_pipeline.config import REPO_ROOT
from interview_pipeline.launcher.livekit import LiveKitRooms, LocalLiveKitServer, free_port
from tests.real_parts import livekit_server_binary

from .candidate import SimulatedCandidate
from .conftest import (
    API_KEY,
    AUTH,
    FAKEBOT,
    alive,
    body,
    descendants,
    wait_gone,
)

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


class Launcher:
    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"launcher-{self.port}.log"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "INTERVIEW_"))},
            "INTERVIEW_PORT": str(self.port),
            "INTERVIEW_API_KEYS": API_KEY,
            "INTERVIEW_STORE_PATH": str(tmp_path / "sessions.sqlite3"),
            "INTERVIEW_DATA_DIR": str(tmp_path),
            "INTERVIEW_POOL_SIZE": "1",
            "INTERVIEW_DRAIN_GRACE_S": "1",
            **env,
        }
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "server.py", "--bot", str(FAKEBOT)],
                cwd=REPO_ROOT,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("launcher never ready:\n" + self.log.read_text()[-3000:])

    def descendants(self) -> list[int]:
        return descendants(self.proc.pid)


@pytest.fixture
def lk_env(livekit_server: LocalLiveKitServer) -> dict[str, str]:
    return {
        "LIVEKIT_URL": livekit_server.url,
        "LIVEKIT_API_KEY": LocalLiveKitServer.API_KEY,
        "LIVEKIT_API_SECRET": LocalLiveKitServer.API_SECRET,
    }


@pytest.fixture
def launcher(tmp_path: Path, lk_env: dict[str, str]) -> Iterator[Launcher]:
    proc = Launcher(tmp_path, lk_env)
    yield proc
    if proc.proc.poll() is None:
        proc.proc.kill()
        proc.proc.wait()


async def _live_session(launcher: Launcher) -> tuple[dict[str, str], SimulatedCandidate]:
    async with httpx.AsyncClient(base_url=launcher.url, headers=AUTH, timeout=30) as client:
        created = (await client.post("/sessions", json=body())).json()
        candidate = SimulatedCandidate(created["livekit_url"], created["candidate_token"])
        await candidate.join()
        deadline = time.monotonic() + 20
        while (await client.get(f"/sessions/{created['session_id']}")).json()["status"] != (
            "in_progress"
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    return created, candidate


@pytest.mark.livekit
async def test_sigterm_drains_then_ends_sessions(
    launcher: Launcher, livekit_server: LocalLiveKitServer
) -> None:
    launcher.wait_ready()
    created, candidate = await _live_session(launcher)
    pids = launcher.descendants()
    assert len(pids) >= 2  # the session's bot and a pre-warmed spare
    launcher.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(launcher.proc.wait, 30)
    # uvicorn re-raises the signal after its graceful shutdown, so "killed by SIGTERM" is normal.
    assert code in (0, -signal.SIGTERM), launcher.log.read_text()[-3000:]
    assert "Application shutdown complete" in launcher.log.read_text()
    assert wait_gone(pids, 5) == []
    rooms = LiveKitRooms(livekit_server.credentials, empty_timeout_s=60)
    assert not await rooms.exists(created["room"])
    await candidate.leave()
    log = launcher.log.read_text()
    assert "ended: completed (launcher shutting down)" in log
    assert created["candidate_token"] not in log and API_KEY not in log


@pytest.mark.livekit
async def test_sigkill_leaves_no_orphans_and_restart_recovers(
    tmp_path: Path, launcher: Launcher, lk_env: dict[str, str], livekit_server: LocalLiveKitServer
) -> None:
    launcher.wait_ready()
    created, candidate = await _live_session(launcher)
    pids = launcher.descendants()
    launcher.proc.kill()
    launcher.proc.wait()
    assert wait_gone(pids, 10) == [], [open(f"/proc/{p}/cmdline").read() for p in pids if alive(p)]
    await candidate.leave()

    again = Launcher(tmp_path, lk_env)
    try:
        again.wait_ready()
        async with httpx.AsyncClient(base_url=again.url, headers=AUTH) as client:
            r = await client.get(f"/sessions/{created['session_id']}")
        assert r.json()["status"] == "failed"
        assert r.json()["reason"] == "launcher restarted while the session was live"
        assert r.json()["transcript"][0]["kind"] == "opening"
        rooms = LiveKitRooms(livekit_server.credentials, empty_timeout_s=60)
        assert not await rooms.exists(created["room"])
    finally:
        again.proc.terminate()
        again.proc.wait(30)


def test_without_livekit_or_binary_says_how_to_get_one(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "GOPATH": str(tmp_path / "go"),
        "PATH": "/usr/bin:/bin",
        "INTERVIEW_LIVEKIT_SERVER_BINARY": str(tmp_path / "missing"),
    }
    proc = Launcher(tmp_path, env)
    assert proc.proc.wait(30) == 2
    out = proc.log.read_text()
    assert "go install github.com/livekit/livekit-server/cmd/server@" in out
    assert "docker run" in out


@pytest.mark.livekit
def test_without_livekit_url_starts_the_local_dev_server(tmp_path: Path) -> None:
    binary = livekit_server_binary()
    proc = Launcher(tmp_path, {"INTERVIEW_LIVEKIT_SERVER_BINARY": str(binary)})
    try:
        proc.wait_ready()
        pids = proc.descendants()
        r = httpx.post(f"{proc.url}/sessions", json=body(), headers=AUTH, timeout=30)
        assert r.status_code == 201, r.text
        assert r.json()["livekit_url"].startswith("ws://127.0.0.1:")
    finally:
        proc.proc.terminate()
        assert proc.proc.wait(30) in (0, -signal.SIGTERM)
    assert wait_gone(pids, 5) == []
