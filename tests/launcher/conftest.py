"""Fixtures for launcher tests: a real livekit-server, settings, an in-process launcher."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interview_pipeline.config import REPO_ROOT, Settings
from interview_pipeline.launcher.app import create_app
from interview_pipeline.launcher.livekit import LocalLiveKitServer
from tests.real_parts import livekit_server_binary

from .pg import LocalPostgres, local_postgres

HERE = Path(__file__).resolve().parent
#: (method, route template, status) of every answer a test launcher gave in this run;
#: test_openapi.py checks each is documented.
OBSERVED: set[tuple[str, str, int]] = set()
FAKEBOT = HERE / "fakebot.py"
API_KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLiveKitServer]:
    binary = livekit_server_binary()
    log = tmp_path_factory.mktemp("livekit") / "livekit-server.log"
    server = LocalLiveKitServer(binary, log_path=log).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One real Postgres for the whole run (each test gets its own database in it)."""
    try:
        with local_postgres() as server:
            yield server
    except RuntimeError as exc:  # never skipped: a missing server is a broken setup
        pytest.fail(str(exc))


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store of each backend: a fresh SQLite file, a fresh Postgres database."""
    if request.param == "sqlite":
        return str(tmp_path / "s.sqlite3")
    server: LocalPostgres = request.getfixturevalue("postgres")
    return server.new_database()


def make_settings(tmp_path: Path, server: LocalLiveKitServer | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "livekit_url": server.url if server else "ws://127.0.0.1:9",
        "livekit_api_key": LocalLiveKitServer.API_KEY,
        "livekit_api_secret": LocalLiveKitServer.API_SECRET,
        "api_keys": f"{API_KEY},second-key",
        "store_path": tmp_path / "sessions.sqlite3",
        "data_dir": tmp_path,
        "personas_dir": REPO_ROOT / "personas",
        "pool_size": 1,
        "max_sessions": 3,
        "drain_grace_s": 2.0,
        # The fake bot transcribes nothing: tests with the real bot turn the shared server on.
        "whisper_shared": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_launcher(
    settings: Settings, bot: Path | str = FAKEBOT, **kwargs: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan (pool, recovery, drain) and an httpx client over ASGI."""
    app = create_app(settings, bot=str(bot), log_dir=settings.data_dir / "logs", **kwargs)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=recording(app))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://launcher", headers=AUTH, timeout=60
        ) as client:
            yield app, client


def recording(app: ASGIApp) -> ASGIApp:
    """``app`` noting each answer's route and status in ``OBSERVED``."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                path = getattr(route, "path", None)
                if path is not None:
                    OBSERVED.add((scope["method"], path, int(message["status"])))
            await send(message)

        await app(scope, receive, noting)

    return wrapped


def alive(pid: int) -> bool:
    """Whether a process still runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """Pids still alive after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: children, their children, and so on."""
    found, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


def body(name: str = "Sam", persona: str = "maya", **extra: Any) -> dict[str, Any]:
    return {"persona": persona, "candidate": {"name": name}, **extra}


async def await_gone(pids: list[int], timeout_s: float = 10.0) -> list[int]:
    """``wait_gone`` without blocking the event loop (which reaps our own children)."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return []
        await asyncio.sleep(0.1)
    return [p for p in pids if alive(p)]
