"""The launcher in distributed mode (``INTERVIEW_DISPATCH=agents``): no bots of its own.

``POST /sessions`` validates, stores the session, creates the room and an explicit LiveKit agent
dispatch whose metadata is the session; a worker host (``agent_worker``) runs it and writes its
statuses to the shared store. Nothing lives in this process between requests, so any number of
launchers can sit behind one load balancer: capacity comes from the hosts' heartbeat rows, a
``DELETE`` deletes the dispatch (LiveKit tells the host to end the job), and every launcher
sweeps for hosts whose lease ran out, failing their sessions with the turns written so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import Any

from loguru import logger

from interview_pipeline.config import Settings
from interview_pipeline.launcher.fleet import (
    DispatchedSession,
    WorkerRegistry,
    capacity,
    expired,
)
from interview_pipeline.launcher.livekit import LiveKitUnavailable
from interview_pipeline.launcher.models import CreateSession, SessionStatus
from interview_pipeline.launcher.pool import WorkerPool
from interview_pipeline.launcher.sessions import JOIN_TIMEOUT_S, Rejected, SessionManager
from interview_pipeline.launcher.store import SessionRecord


def no_pool(settings: Settings) -> WorkerPool:
    """An empty pool that starts nothing (no template, no Whisper server): the launcher's
    gauges and probes read it, the bots live on the worker hosts."""
    return WorkerPool(settings.model_copy(update={"whisper_shared": False}), size=0)


class DispatchSessionManager(SessionManager):
    """``SessionManager`` whose bots run on agent worker hosts, found by LiveKit's dispatch."""

    _sweeper: asyncio.Task[None] | None = None

    @functools.cached_property
    def registry(self) -> WorkerRegistry:
        return WorkerRegistry(self.store)

    @property
    def lease_s(self) -> float:
        return self.settings.worker_lease_s

    async def recover(self, *, own: bool = True) -> None:
        """Live sessions belong to worker hosts, not to a launcher: a restart fails none of them.
        The lease still applies to ownership: this launcher's rows, and those of a dispatching
        peer whose lease ran out, become (or stay) its own so that their webhooks are delivered,
        but stay live; a session whose host died is failed by the sweeper, which every launcher
        runs from its first call on."""
        me = self.settings.resolved_launcher_id()
        adopted = self.store.take_over(me, self.settings.launcher_lease_s, own=own)
        others = [r for r in adopted if r.owner not in (None, me)]
        if others:
            logger.info("launcher {}: took over {} live dispatched session(s)", me, len(others))
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep_forever())

    def capacity_checks(self) -> dict[str, Any]:
        free = capacity(self.registry.hosts(), self.store, self.lease_s)
        return {
            "worker_hosts": free.hosts,
            "free_sessions": free.free,
            "capacity_left": free.free > 0,
        }

    def _check_capacity(self) -> None:
        if self.draining:
            raise Rejected(503, "the launcher is shutting down", headers={"Retry-After": "30"})
        free = capacity(self.registry.hosts(), self.store, self.lease_s)
        if free.hosts == 0:
            raise Rejected(
                503,
                "no worker host is registered (start `interview-pipeline worker`)",
                headers={"Retry-After": "10"},
            )
        if free.free <= 0:
            raise Rejected(
                429, "at capacity: every worker host is full", headers={"Retry-After": "30"}
            )

    async def create(
        self, req: CreateSession, *, webhook: str | None = None
    ) -> tuple[SessionRecord, str]:
        self._check_capacity()
        _persona, identity, session_id, room = self._admit(req)
        self._rooms.add(room)  # before any await: a concurrent POST here for this room gets 409
        try:
            record, candidate_token = await self._open_room(
                session_id, room, req, identity, webhook
            )
            self.store.create(record)  # before the dispatch: the host that takes it reads it
            job = DispatchedSession(
                session_id=session_id, room=room, persona=req.persona,
                candidate_name=req.candidate.name, candidate_identity=identity,
            )  # fmt: skip
            try:
                await self.rooms.dispatch(room, self.settings.agent_name, job.model_dump_json())
            except LiveKitUnavailable as exc:
                await self._end(session_id, room, SessionStatus.FAILED, f"not dispatched: {exc}")
                raise Rejected(503, str(exc), headers={"Retry-After": "10"}) from None
        finally:
            self._rooms.discard(room)
        logger.info("session {} dispatched to agent {!r}", session_id, self.settings.agent_name)
        return record, candidate_token

    async def stop(self, session_id: str, reason: str = "stopped via DELETE") -> None:
        """Delete the dispatch (its host stops the bot, which says its closing line) and wait
        for the host to write the final status; end the session here if none does."""
        record = self.store.get(session_id)
        if record is None or record.status.terminal:
            return
        try:
            await self.rooms.undispatch(record.room, self.settings.agent_name)
        except LiveKitUnavailable as exc:
            logger.warning("session {}: dispatch not deleted: {}", session_id, exc)
        placed = any(session_id in h.sessions for h in self.registry.hosts())
        deadline = time.monotonic() + (self.stop_grace_s + 5.0 if placed else 0.0)
        while time.monotonic() < deadline:
            current = self.store.get(session_id)
            if current is None or current.status.terminal:
                return
            await asyncio.sleep(0.2)
        await self._end(session_id, record.room, SessionStatus.ABANDONED, f"{reason}; no bot")

    async def drain(self, grace_s: float) -> None:
        """Nothing of ours to wait for: stop admitting and sweeping; the hosts run on."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.pool.close()

    # --- lost hosts -------------------------------------------------------------------------------
    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # the next round tries again
                logger.warning("sweeping worker hosts failed: {}", exc)
            await asyncio.sleep(max(0.2, self.lease_s / 4))

    async def sweep(self) -> None:
        """Fail the sessions of hosts whose lease ran out, and sessions no host ever took."""
        hosts = self.registry.hosts()
        for host in expired(hosts, self.lease_s):
            silent = time.time() - host.heartbeat_at
            reason = (
                f"worker host {host.name} stopped responding (no heartbeat for {silent:.0f} s);"
                " the bot was lost with it"
            )
            for session_id in host.sessions:
                record = self.store.get(session_id)
                if record is not None and not record.status.terminal:
                    await self._end(session_id, record.room, SessionStatus.FAILED, reason)
            self.registry.remove(host.host_id)
        placed = {sid for h in hosts for sid in h.sessions}
        for record in self.store.list_sessions(status=SessionStatus.STARTING, limit=10_000):
            if record.id not in placed and time.time() - record.created_at > JOIN_TIMEOUT_S:
                reason = f"no worker host took the session within {JOIN_TIMEOUT_S:.0f} s"
                await self._end(record.id, record.room, SessionStatus.FAILED, reason)

    async def _end(self, session_id: str, room: str, status: SessionStatus, reason: str) -> None:
        if status is SessionStatus.FAILED:
            self.metrics.bot_failures.inc()
            logger.warning("session {} failed: {}", session_id, reason)
        self.store.update(session_id, status=status, reason=reason, ended_at=time.time())
        with contextlib.suppress(LiveKitUnavailable):
            await self.rooms.delete(room)
        self._ended(session_id)
