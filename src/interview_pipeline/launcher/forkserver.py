"""The launcher's side of the template process (``zygote``): start it, ask it for forks.

A fork arrives as a ``WorkerProcess`` like a spawned one: we make a socket pair, hand one end
to the template with the request (SCM_RIGHTS), and keep the other as the worker's channel. The
template is the forked worker's parent, so it reaps it and tells us the exit code; if the
template itself dies, its children die with it (PDEATHSIG) and we learn that by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

from loguru import logger

from interview_pipeline.config import Settings
from interview_pipeline.launcher.process import WorkerProcess, start_child
from interview_pipeline.launcher.worker import settings_payload


class ForkUnavailable(RuntimeError):
    """The template cannot fork right now (still warming, refused, or gone)."""


class ForkServer:
    def __init__(
        self, command: list[str], *, env: dict[str, str] | None, log_path: Path | None
    ) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.ready = asyncio.Event()
        self.warm_s: float | None = None
        self.proc: asyncio.subprocess.Process | None = None
        self.problem: str | None = None
        self._ctl: socket.socket | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._pump: asyncio.Task[None] | None = None

    @property
    def usable(self) -> bool:
        return self.ready.is_set() and self.problem is None and self._ctl is not None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, settings: Settings) -> None:
        """Start the template warming; ``ready`` is set when it can fork."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = await start_child(
                self.command,
                env=self.env,
                log_path=self.log_path,
                stdin=theirs.fileno(),
                stdout=asyncio.subprocess.DEVNULL,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._ctl = ours
        payload = {"type": "config", "settings": settings_payload(settings)}
        ours.send(json.dumps(payload).encode())
        self._pump = asyncio.ensure_future(self._read())

    async def settled(self, timeout_s: float) -> bool:
        """Wait until the template is ready or has failed; True when it can fork."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not self.ready.is_set() and self.problem is None:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        return self.usable

    async def fork(self, log_path: Path | None) -> WorkerProcess:
        if not self.usable or self._ctl is None:
            raise ForkUnavailable(self.problem or "the template is still warming")
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        request = next(self._ids)
        reply: asyncio.Future[int] = loop.create_future()
        self._pending[request] = reply
        msg = {"type": "fork", "id": request, "log": str(log_path) if log_path else None}
        try:
            socket.send_fds(self._ctl, [json.dumps(msg).encode()], [theirs.fileno()])
            pid = await asyncio.wait_for(reply, 10.0)
        except (OSError, TimeoutError) as exc:
            ours.close()
            raise ForkUnavailable(f"template did not fork: {exc}") from None
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            self._pending.pop(request, None)
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        exit_code = self._exits.setdefault(pid, loop.create_future())
        return WorkerProcess(pid, reader, writer, exit_code, log_path=log_path, forked=True)

    async def _read(self) -> None:
        assert self._ctl is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(self._ctl, 65536)
                if not data:
                    break
                self._handle(json.loads(data), loop)
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("bot template channel broke: {}", exc)
        finally:
            self._gone(loop)

    def _handle(self, msg: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        kind = msg.get("type")
        if kind == "ready":
            self.warm_s = msg.get("warm_s")
            self.ready.set()
            logger.info("bot template ready in {} s", self.warm_s)
        elif kind == "failed":
            self.problem = str(msg.get("reason"))
            logger.error("bot template: {}", self.problem)
        elif kind in ("forked", "refused"):
            reply = self._pending.get(int(msg.get("id") or 0))
            if reply is None or reply.done():
                return
            if kind == "forked":
                reply.set_result(int(msg["pid"]))
            else:
                self.problem = str(msg.get("reason"))
                logger.warning("bot template refused to fork, spawning instead: {}", self.problem)
                reply.set_exception(ForkUnavailable(self.problem))
        elif kind == "exit":
            fut = self._exits.setdefault(int(msg["pid"]), loop.create_future())
            if not fut.done():
                fut.set_result(int(msg["code"]))

    def _gone(self, loop: asyncio.AbstractEventLoop) -> None:
        """The template exited: no more forks; its children die with it, so watch them go."""
        self.problem = self.problem or "the bot template exited"
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(ForkUnavailable(self.problem))
        for pid, fut in self._exits.items():
            if not fut.done():
                loop.create_task(_await_death(pid, fut))

    async def close(self) -> None:
        """Close the control socket (the template exits on EOF) and make sure it is gone."""
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pump
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 3.0)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5.0)


async def _await_death(pid: int, fut: asyncio.Future[int]) -> None:
    """A process that is not our child: poll until it is gone (its exit code is lost)."""
    while not fut.done():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            fut.set_result(-signal.SIGTERM)
            return
        await asyncio.sleep(0.2)
