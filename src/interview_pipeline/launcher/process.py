"""One bot process as the launcher sees it: a pid, a JSON-lines channel, and an exit code.

The same object stands for a spawned worker (channel = its stdin/stdout pipes, exit code from
``wait``) and a worker forked from the template (channel = a socket, exit code reported by the
template, which is its parent). Either way the worker leads its own process group, so ending a
session kills the worker and anything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any


async def start_child(
    argv: list[str], *, env: dict[str, str] | None, log_path: Path | None, stdin: Any, stdout: Any
) -> asyncio.subprocess.Process:
    """A helper process of the launcher: its own process group (ended with ``killpg``), stderr
    into its log, and ``--parent`` so that it dies with us (PDEATHSIG)."""
    stderr: Any = log_path.open("ab") if log_path else None
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            "--parent",
            str(os.getpid()),
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            env=env,
        )
    finally:
        if stderr is not None:
            stderr.close()


class WorkerProcess:
    """One bot process and its JSON-lines channel."""

    def __init__(
        self,
        pid: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        exit_code: Awaitable[int],
        *,
        log_path: Path | None,
        forked: bool = False,
    ):
        self.pid = pid
        self.forked = forked
        self.spawned_at = time.monotonic()
        self.log_path = log_path
        self.ready = asyncio.Event()
        self.warm_s: float | None = None
        self.returncode: int | None = None
        #: Messages after ``ready``; ``None`` once the process has exited.
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.exited = asyncio.Event()
        self.assigned = False
        self._reader = reader
        self._writer = writer
        self._exit: asyncio.Future[int] = asyncio.ensure_future(exit_code)
        self._exit.add_done_callback(self._on_exit)
        self._pump = asyncio.ensure_future(self._read())

    @classmethod
    def spawned(cls, proc: asyncio.subprocess.Process, *, log_path: Path | None) -> WorkerProcess:
        assert proc.stdout is not None and proc.stdin is not None
        return cls(proc.pid, proc.stdout, proc.stdin, proc.wait(), log_path=log_path)

    @property
    def alive(self) -> bool:
        return self.returncode is None

    def exit_reason(self) -> str:
        code = self.returncode
        if code is None:
            return "still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"bot process killed by {signal.Signals(-code).name}"
            return f"bot process killed by signal {-code}"
        return f"bot process exited with code {code}"

    def _on_exit(self, fut: asyncio.Future[int]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self.returncode = fut.result()
            self.exited.set()

    async def _read(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if msg.get("type") == "ready":
                    self.warm_s = msg.get("warm_s")
                    self.ready.set()
                else:
                    self.events.put_nowait(msg)
            await asyncio.shield(self._exit)
        except (ConnectionError, OSError):
            pass
        finally:
            # Also on cancellation (loop shutting down): never block on a process here.
            self.events.put_nowait(None)

    async def send(self, msg: dict[str, Any]) -> bool:
        """Write one command; False when the process is already gone."""
        if self._writer.is_closing():
            return False
        try:
            self._writer.write((json.dumps(msg) + "\n").encode())
            await self._writer.drain()
        except (ConnectionError, RuntimeError, OSError):
            return False
        return True

    def close_channel(self) -> None:
        """Close our end: the worker reads EOF, its cue that the launcher is gone."""
        with contextlib.suppress(Exception):
            self._writer.close()

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def wait(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exit), timeout_s)
        return self._exit.done()

    async def kill(self, grace_s: float = 3.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left after the grace, reap the worker."""
        if self.alive and grace_s > 0:
            self.signal_group(signal.SIGTERM)
            await self.wait(grace_s)
        # Even when the worker itself is gone, a child it started may still hold the group.
        self.signal_group(signal.SIGKILL)
        await self.wait(5.0)
        self.exited.set()
        self.close_channel()
