"""One bot process: warm up, wait for one session, run it, report, exit.

Started by the pool as ``python -m interview_pipeline.launcher.worker --parent PID``. The
launcher speaks JSON lines on our stdin (``config`` first, then ``job``, maybe ``stop``); we answer
JSON lines on the original stdout (``ready``, ``status``, ``done`` / ``failed``). Everything else
that would print to stdout is pushed to stderr so a chatty library cannot corrupt the protocol.

Secrets (settings, tokens) arrive on stdin, never on the command line where ``ps`` shows them.
We die with the launcher: PR_SET_PDEATHSIG, plus stdin EOF means "launcher gone, leave now".
Turns are written by the bot straight to the session store, so a crash keeps what was said.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import faulthandler
import importlib
import importlib.util
import inspect
import json
import os
import signal
import sys
import threading
import time
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from pydantic import SecretStr

from interview_pipeline.config import Settings

DEFAULT_BOT = "interview_pipeline.bot"
_PR_SET_PDEATHSIG = 1
#: After a stop, how long the bot may take to say its closing line before we give up on it.
STOP_GRACE_S = 20.0


def settings_payload(settings: Settings) -> dict[str, Any]:
    """Settings as plain JSON with secrets revealed: only ever written to a worker's stdin."""
    out: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, Enum):
            value = value.value
        out[name] = value
    return out


def die_with_parent(parent: int | None) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent is not None and os.getppid() != parent:
        os._exit(3)  # the launcher died before we could ask to die with it


def load_bot(spec: str) -> ModuleType:
    """The bot module by import name, or by file path (tests use a small fake bot file)."""
    if spec.endswith(".py"):
        module_spec = importlib.util.spec_from_file_location("interview_launcher_bot", spec)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load bot from {spec}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    return importlib.import_module(spec)


class Channel:
    """Protocol lines out on a private copy of stdout; commands in from stdin on a thread."""

    def __init__(self) -> None:
        self._out: IO[str] = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._stdin = sys.stdin.buffer

    def send(self, kind: str, **fields: Any) -> None:
        with contextlib.suppress(BrokenPipeError, ValueError):
            self._out.write(json.dumps({"type": kind, **fields}) + "\n")
            self._out.flush()

    def read(self) -> dict[str, Any] | None:
        """One command, or None on EOF (the launcher closed the pipe or died)."""
        while True:
            line = self._stdin.readline()
            if not line:
                return None
            line = line.strip()
            if not line:
                continue
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(msg, dict):
                return msg

    def commands(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def pump() -> None:
            while True:
                msg = self.read()
                loop.call_soon_threadsafe(queue.put_nowait, msg)
                if msg is None:
                    return

        threading.Thread(target=pump, name="launcher-commands", daemon=True).start()
        return queue


def _redact(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:500]


async def run_job(bot: ModuleType, settings: Settings, job: dict[str, Any], chan: Channel) -> None:
    """Run one session to its end and report how it ended; never raises."""
    from interview_pipeline.launcher.store import open_store
    from interview_pipeline.personas import PersonaLibrary

    loop = asyncio.get_running_loop()
    commands = chan.commands(loop)
    token = str(job["token"])
    store = open_store(settings)  # the launcher's store: SQLite file or shared Postgres
    try:
        library = PersonaLibrary(
            settings.personas_dir, face_cache_dir=settings.resolved_face_cache_dir()
        )
        persona = library.load(str(job["persona"]))

        def on_status(status: str, detail: str | None = None) -> None:
            chan.send("status", status=status, detail=detail, t=time.time())

        run_bot = bot.run_bot
        kwargs: dict[str, Any] = {
            "room_name": job["room"],
            "token": token,
            "candidate_name": job["candidate_name"],
            "sink": store.sink(str(job["session_id"])),
            "on_status": on_status,
        }
        # Optional parts of the contract: passed only to a bot that takes them.
        accepted = inspect.signature(run_bot).parameters
        optional = {
            "candidate_identity": job.get("candidate_identity"),
            "portrait": library.portrait(persona),
            "recording_path": settings.data_dir / "recordings" / f"{job['session_id']}.wav",
        }
        kwargs.update({k: v for k, v in optional.items() if k in accepted and v is not None})
        grace = float(job.get("stop_grace_s", STOP_GRACE_S))
        stop = asyncio.Event()
        graceful = "stop" in accepted
        if graceful:
            kwargs["stop"] = stop
        task = asyncio.ensure_future(run_bot(settings, persona, **kwargs))
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)

        async def listen() -> None:
            while True:
                msg = await commands.get()
                if msg is None:  # launcher gone: leave the room now
                    task.cancel()
                    return
                if msg.get("type") == "stop":
                    if graceful:
                        stop.set()
                        loop.call_later(grace, task.cancel)
                    else:
                        task.cancel()

        listener = asyncio.ensure_future(listen())
        try:
            status = await task
        except asyncio.CancelledError:
            chan.send("done", status="abandoned", reason="stopped before the interview ended")
            return
        finally:
            listener.cancel()
        chan.send(
            "done",
            status=str(status),
            reason=getattr(status, "reason", None),
            degraded=getattr(status, "degraded", None) or {},
        )
    except Exception as exc:  # report every failure as a reason the launcher can show
        chan.send("failed", reason=_redact(f"{type(exc).__name__}: {exc}", token))
    finally:
        store.close()


def serve(chan: Channel, bot: ModuleType, settings: Settings, started: float) -> int:
    """Finish warming, say ready, run the one job the launcher hands us; the exit code."""
    try:
        prewarm = getattr(bot, "prewarm", None)
        if prewarm is not None:
            prewarm(settings)
    except Exception as exc:
        chan.send("failed", reason=f"bot failed to warm up: {type(exc).__name__}: {exc}"[:500])
        return 1
    chan.send("ready", pid=os.getpid(), warm_s=round(time.monotonic() - started, 3))

    job = chan.read()
    if job is None or job.get("type") != "job":
        return 0
    asyncio.run(run_job(bot, settings, job, chan))
    return 0


def start_process(argv: list[str] | None, description: str) -> argparse.Namespace:
    """Arguments of a bot or template process; it dies with the launcher and dumps stacks."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bot", default=DEFAULT_BOT, help="bot module or .py file")
    parser.add_argument("--parent", type=int, default=None, help="launcher pid to die with")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)
    # `kill -USR1 <pid>` dumps every thread's stack to the worker log: stuck bots are debuggable.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return args


def main(argv: list[str] | None = None) -> int:
    args = start_process(argv, __doc__.splitlines()[0])
    chan = Channel()
    first = chan.read()
    if first is None or first.get("type") != "config":
        return 0
    settings = Settings(**first["settings"])
    started = time.monotonic()
    try:
        bot = load_bot(args.bot)
    except Exception as exc:
        chan.send("failed", reason=f"bot failed to warm up: {type(exc).__name__}: {exc}"[:500])
        return 1
    return serve(chan, bot, settings, started)


if __name__ == "__main__":
    code = main()
    # Hard exit: a library thread left running (media, ffi) must never keep a finished bot alive.
    sys.stderr.flush()
    os._exit(code)
