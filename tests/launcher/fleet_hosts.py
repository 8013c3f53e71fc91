"""Worker hosts for tests and benches: ``interview-pipeline worker`` processes on a test server.

Absolute imports only, so that bench/ can import it from this folder as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from interview_pipeline.config import Settings
from interview_pipeline.launcher.fleet import HostBeat, WorkerRegistry
from interview_pipeline.launcher.livekit import LocalLiveKitServer, free_port

FAKEBOT = Path(__file__).resolve().parent / "fakebot.py"


class Redis:
    """A private ``redis-server`` on a free loopback port (LiveKit's multi-node mode)."""

    def __init__(self, log: Path):
        binary = shutil.which("redis-server")
        assert binary, "redis-server not found: apt-get install redis-server (scripts/setup.sh)"
        self.port = free_port()
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*argv, "--appendonly", "no"], stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                break
            assert time.monotonic() < deadline, f"redis-server did not start; see {log}"
            time.sleep(0.05)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


class Host:
    """One worker host: its own process, pool and LiveKit registration."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        log_dir: Path,
        *,
        bot: str | Path = FAKEBOT,
        pool_size: int = 1,
        capacity: int = 1,
        drain_grace_s: float = 2.0,
    ):
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log = log_dir / f"host-{name}.log"
        env = {
            **os.environ,
            "LIVEKIT_URL": str(settings.livekit_url),
            "LIVEKIT_API_KEY": LocalLiveKitServer.API_KEY,
            "LIVEKIT_API_SECRET": LocalLiveKitServer.API_SECRET,
            "INTERVIEW_STORE_PATH": str(settings.resolved_store_path()),
            "INTERVIEW_DATA_DIR": str(settings.data_dir),
            "INTERVIEW_PERSONAS_DIR": str(settings.personas_dir),
            "INTERVIEW_AGENT_NAME": settings.agent_name,
            "INTERVIEW_WORKER_LEASE_S": str(settings.worker_lease_s),
            "INTERVIEW_POOL_SIZE": str(pool_size),
            "INTERVIEW_MAX_SESSIONS": str(capacity),
            "INTERVIEW_DRAIN_GRACE_S": str(drain_grace_s),
            "INTERVIEW_WHISPER_SHARED": str(settings.whisper_shared).lower(),
            "INTERVIEW_LOG_LEVEL": "INFO",
        }
        dsn = settings.resolved_database_url()
        if dsn is not None:  # the launcher's shared Postgres: the host and its bots write there
            env["INTERVIEW_DATABASE_URL"] = dsn
        argv = [sys.executable, "-m", "interview_pipeline.cli", "worker", "--name", name]
        argv += ["--bot", str(bot), "--log-dir", str(log_dir / name)]
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                cwd=log_dir,  # no .env from the checkout
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        pids = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _in_group(int(p.name), self.proc.pid)
        ]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)


def _in_group(pid: int, pgid: int) -> bool:
    try:
        return os.getpgid(pid) == pgid
    except OSError:
        return False


async def hosts_ready(registry: WorkerRegistry, names: set[str], timeout_s: float = 60) -> None:
    """Until every named host is registered with LiveKit and has a warm bot."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = {h.name for h in registry.hosts() if h.ready > 0 and not h.draining}
        if names <= ready:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"hosts not ready: {names - ready}")


def host_of(registry: WorkerRegistry, session_id: str) -> HostBeat:
    for host in registry.hosts():
        if session_id in host.sessions:
            return host
    raise AssertionError(f"session {session_id} is on no host")
