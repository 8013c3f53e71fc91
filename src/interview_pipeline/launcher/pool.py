"""A pool of pre-warmed bot processes: one OS process per live session, never reused.

With ``pool_mode=fork`` (the default on Linux) workers are forked from a warm template process
(see ``zygote``): ready in milliseconds, sharing imports and models copy-on-write. Until the
template is ready, or if it refuses or dies, workers are spawned as fresh processes instead
(``pool_mode=spawn`` always does that).

Each worker is its own process group, so ending a session kills the worker and anything it
started, and nothing survives the launcher: the worker asks the kernel to signal it when its
parent dies, and treats EOF on its channel as "leave now".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from interview_pipeline.config import Settings
from interview_pipeline.launcher.forkserver import ForkServer, ForkUnavailable
from interview_pipeline.launcher.process import WorkerProcess, start_child
from interview_pipeline.launcher.stt_server import SharedWhisper, wanted
from interview_pipeline.launcher.worker import DEFAULT_BOT, settings_payload

__all__ = ["WorkerPool", "WorkerProcess"]

#: Environment defaults for bot processes (the launcher's own environment wins). Blocks over
#: 128 KiB (audio windows, Smart Turn's features) go back to the system when freed instead of
#: fragmenting the heap: 60 MB less per session after a few turns, measured. One BLAS thread:
#: the bots share the cores, and the template must not start threads before it forks.
BOT_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


class WorkerPool:
    """Keeps ``size`` idle workers warming or warm; hands one out per session."""

    #: A forked replacement waits this long after a hand-out, so that even its small warm-up
    #: (Whisper's load on the local path) does not compete with the new session's greeting.
    REPLACE_AFTER_S = 2.0

    def __init__(
        self,
        settings: Settings,
        *,
        size: int,
        bot: str = DEFAULT_BOT,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.size = max(0, size)
        self.bot = bot
        self.env = {**BOT_ENV, **(env if env is not None else os.environ)}
        self.log_dir = log_dir
        #: One Whisper model for all bots, when they transcribe locally.
        self.stt: SharedWhisper | None = None
        if wanted(settings):
            self.stt = SharedWhisper(settings, env=self.env, log_path=self._log_path("whisper"))
            settings = settings.model_copy(update={"whisper_socket": self.stt.socket})
        self.settings = settings
        self.on_change = on_change
        self.idle: list[WorkerProcess] = []
        self.busy: set[WorkerProcess] = set()
        #: Started but not yet handed their settings: still ours to kill on close.
        self.spawning: set[WorkerProcess] = set()
        self.closed = False
        self._replenishing: asyncio.Task[None] | None = None
        self.template: ForkServer | None = None
        if settings.pool_mode == "fork" and self.size > 0 and hasattr(os, "fork"):
            self.template = ForkServer(
                self._command("zygote"), env=self.env, log_path=self._log_path("template")
            )

    @property
    def ready_count(self) -> int:
        return sum(1 for w in self.idle if w.ready.is_set() and w.alive)

    @property
    def pids(self) -> list[int]:
        """Every process the pool owns: workers, the template and the Whisper server."""
        shared = [self.template.pid if self.template else None, self.stt.pid if self.stt else None]
        return [w.pid for w in [*self.idle, *self.busy]] + [p for p in shared if p]

    def _command(self, module: str) -> list[str]:
        return [sys.executable, "-m", f"interview_pipeline.launcher.{module}", "--bot", self.bot]

    def _log_path(self, kind: str) -> Path | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{kind}-{time.time_ns()}.log"

    async def start(self) -> None:
        if self.stt is not None:
            await self.stt.start()
        if self.template is not None:
            await self.template.start(self.settings)
        self.replenish_soon()

    async def new_worker(self) -> WorkerProcess:
        """A fork of the template when it can, else a freshly spawned process."""
        if self.template is not None and self.template.usable:
            try:
                worker = await self.template.fork(self._log_path("worker"))
            except ForkUnavailable as exc:
                logger.warning("forking a bot failed, spawning one: {}", exc)
            else:
                logger.debug("bot worker {} forked", worker.pid)
                return worker
        return await self.spawn()

    async def spawn(self) -> WorkerProcess:
        log_path = self._log_path("worker")
        pipe = asyncio.subprocess.PIPE
        proc = await start_child(
            self._command("worker"), env=self.env, log_path=log_path, stdin=pipe, stdout=pipe
        )
        worker = WorkerProcess.spawned(proc, log_path=log_path)
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
        if self.template is not None:
            # Fill the pool with forks, not with a second set of cold warm-ups.
            await self.template.settled(timeout_s=120.0)
        while not self.closed:
            self.idle = [w for w in self.idle if w.alive]
            if len(self.idle) >= self.size:
                break
            try:
                worker = await self.new_worker()
            except OSError as exc:
                logger.error("cannot start a bot worker: {}", exc)
                break
            if self.closed:  # closed while this one was starting
                await worker.kill(grace_s=0.0)
                break
            self.idle.append(worker)
            self._changed()

    def replenish_soon(self, delay_s: float = 0.0) -> None:
        if self.closed or (self._replenishing and not self._replenishing.done()):
            return

        async def later() -> None:
            await asyncio.sleep(delay_s)
            await self.replenish()

        self._replenishing = asyncio.ensure_future(later())

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
        elif self.template is not None and self.template.usable:
            worker, warm = await self.new_worker(), True  # a fork is ready in milliseconds
        else:
            worker, warm = await self.spawn(), False
        if worker in self.idle:
            self.idle.remove(worker)
        worker.assigned = True
        self.busy.add(worker)
        self._changed()
        forks = self.template is not None and self.template.usable
        self.replenish_soon(self.REPLACE_AFTER_S if forks else 0.0)
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
        if self.template is not None:
            await self.template.close()
        if self.stt is not None:
            await self.stt.close()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()
