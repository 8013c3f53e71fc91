"""A pool of pre-warmed bot processes: one OS process per live session, never reused.

Each worker is its own process group (``start_new_session``), so ending a session kills the
worker and anything it started, and nothing survives the launcher: the worker also asks the
kernel to signal it when the launcher dies, and treats stdin EOF as "leave now".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from interview_pipeline.config import Settings
from interview_pipeline.launcher.worker import DEFAULT_BOT, settings_payload


class WorkerProcess:
    """One bot process and its JSON-lines channel."""

    def __init__(self, proc: asyncio.subprocess.Process, *, log_path: Path | None):
        self.proc = proc
        self.pid = proc.pid
        self.spawned_at = time.monotonic()
        self.log_path = log_path
        self.ready = asyncio.Event()
        self.warm_s: float | None = None
        #: Messages after ``ready``; ``None`` once the process has exited.
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.exited = asyncio.Event()
        self.assigned = False
        self._pump = asyncio.ensure_future(self._read())

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def exit_reason(self) -> str:
        code = self.proc.returncode
        if code is None:
            return "still running"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"bot process killed by {signal.Signals(-code).name}"
            return f"bot process killed by signal {-code}"
        return f"bot process exited with code {code}"

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                line = await self.proc.stdout.readline()
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
            await self.proc.wait()
        finally:
            # Also on cancellation (loop shutting down): never block on a process here.
            if self.proc.returncode is not None:
                self.exited.set()
            self.events.put_nowait(None)

    async def send(self, msg: dict[str, Any]) -> bool:
        """Write one command; False when the process is already gone."""
        stdin = self.proc.stdin
        if stdin is None or stdin.is_closing():
            return False
        try:
            stdin.write((json.dumps(msg) + "\n").encode())
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError, RuntimeError):
            return False
        return True

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def kill(self, grace_s: float = 3.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left after the grace, reap the worker."""
        if self.alive and grace_s > 0:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace_s)
        # Even when the worker itself is gone, a child it started may still hold the group.
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 5.0)
        self.exited.set()
        if self.proc.stdin is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()


class WorkerPool:
    """Keeps ``size`` idle workers warming or warm; hands one out per session."""

    def __init__(
        self,
        settings: Settings,
        *,
        size: int,
        bot: str = DEFAULT_BOT,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.settings = settings
        self.size = max(0, size)
        self.command = command or [
            sys.executable,
            "-m",
            "interview_pipeline.launcher.worker",
            "--bot",
            bot,
        ]
        self.env = env
        self.log_dir = log_dir
        self.on_change = on_change
        self.idle: list[WorkerProcess] = []
        self.busy: set[WorkerProcess] = set()
        #: Started but not yet handed their settings: still ours to kill on close.
        self.spawning: set[WorkerProcess] = set()
        self.closed = False
        self._replenishing: asyncio.Task[None] | None = None

    @property
    def ready_count(self) -> int:
        return sum(1 for w in self.idle if w.ready.is_set() and w.alive)

    @property
    def pids(self) -> list[int]:
        return [w.pid for w in [*self.idle, *self.busy]]

    async def start(self) -> None:
        await self.replenish()

    async def spawn(self) -> WorkerProcess:
        log_path = None
        stderr: Any = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"worker-{time.time_ns()}.log"
            stderr = log_path.open("ab")
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                "--parent",
                str(os.getpid()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
                env=self.env,
            )
        finally:
            if stderr is not None:
                stderr.close()
        worker = WorkerProcess(proc, log_path=log_path)
        self.spawning.add(worker)
        try:
            await worker.send({"type": "config", "settings": settings_payload(self.settings)})
        except BaseException:
            await worker.kill(grace_s=0.0)
            raise
        finally:
            self.spawning.discard(worker)
        logger.debug("bot worker {} spawned", worker.pid)
        return worker

    async def replenish(self) -> None:
        while not self.closed:
            self.idle = [w for w in self.idle if w.alive]
            if len(self.idle) >= self.size:
                break
            try:
                worker = await self.spawn()
            except OSError as exc:
                logger.error("cannot start a bot worker: {}", exc)
                break
            if self.closed:  # closed while this one was starting
                await worker.kill(grace_s=0.0)
                break
            self.idle.append(worker)
            self._changed()

    def replenish_soon(self) -> None:
        if self.closed or (self._replenishing and not self._replenishing.done()):
            return
        self._replenishing = asyncio.ensure_future(self.replenish())

    async def take(self) -> tuple[WorkerProcess, bool]:
        """A worker for a new session, and whether it was already warm.

        A ready worker first; else the one that has been warming longest (it is closer to
        ready than a fresh spawn); else a cold spawn. Raises OSError if none can be started.
        """
        self.idle = [w for w in self.idle if w.alive]
        ready = [w for w in self.idle if w.ready.is_set()]
        if ready:
            worker, warm = ready[0], True
        elif self.idle:
            worker, warm = min(self.idle, key=lambda w: w.spawned_at), False
        else:
            worker, warm = await self.spawn(), False
        if worker in self.idle:
            self.idle.remove(worker)
        worker.assigned = True
        self.busy.add(worker)
        self._changed()
        self.replenish_soon()
        return worker, warm

    def release(self, worker: WorkerProcess) -> None:
        self.busy.discard(worker)
        self._changed()

    async def close(self, grace_s: float = 3.0) -> None:
        """Stop replenishing and kill every worker, idle or busy (their sessions are over)."""
        self.closed = True
        if self._replenishing is not None:
            self._replenishing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._replenishing
        workers = [*self.idle, *self.busy, *self.spawning]
        self.idle.clear()
        self.busy.clear()
        self.spawning.clear()
        await asyncio.gather(*(w.kill(grace_s) for w in workers), return_exceptions=True)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
