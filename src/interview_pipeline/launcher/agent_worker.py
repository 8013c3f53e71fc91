"""``interview-pipeline worker``: this machine's bot pool as a LiveKit agent worker.

The host keeps the same pool as the embedded launcher (fork template, shared Whisper server,
pre-synthesised greeting) and registers with the LiveKit server over its agent worker WebSocket
(``/agent``, protobuf ``livekit.protocol.agent``), the protocol livekit-agents speaks: register
with an agent name, report load, answer availability requests, take job assignments. LiveKit's
own dispatch then spreads the launchers' explicit dispatches over every registered host, so
adding a host is starting one more worker; there is no scheduler of ours.

A job's metadata is the session (``DispatchedSession``) that a launcher already stored; the host
runs it through ``SessionManager.run_dispatched``, so statuses, turns, the final status and the
room's deletion reach the shared store exactly as they do on one machine. The host's heartbeat
row (``fleet.WorkerRegistry``) is what launchers read for capacity and for noticing a dead host.

SIGTERM drains: the host reports itself full and draining (LiveKit sends it no more jobs), live
sessions get ``drain_grace_s`` to end, the rest are stopped with their closing line, then it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
from livekit import api
from livekit.protocol import agent
from loguru import logger
from pydantic import ValidationError

from interview_pipeline.config import Settings
from interview_pipeline.launcher.fleet import DispatchedSession, HostBeat, WorkerRegistry
from interview_pipeline.launcher.livekit import LiveKitCredentials, LiveKitUnavailable
from interview_pipeline.launcher.metrics import LauncherMetrics
from interview_pipeline.launcher.models import BOT_IDENTITY, SessionStatus
from interview_pipeline.launcher.pool import WorkerPool
from interview_pipeline.launcher.reports import ReportService
from interview_pipeline.launcher.sessions import SessionManager
from interview_pipeline.launcher.store import open_store
from interview_pipeline.launcher.webhooks import (
    public_base_url,
    queue_report_ready,
    queue_transcript_ready,
)
from interview_pipeline.launcher.worker import DEFAULT_BOT

#: Protocol version we speak; the server answers with its own in the register response.
PROTOCOL_VERSION = "interview-pipeline/0.1"
#: Reconnect back-off ceiling after the server or the network drops the worker socket.
MAX_RETRY_DELAY_S = 10.0
#: An accepted job whose assignment has not come by then went elsewhere: free its bot again.
ASSIGNMENT_TIMEOUT_S = 10.0


class AgentWorker:
    """One registration with LiveKit for this host's pool; survives reconnects."""

    def __init__(
        self,
        settings: Settings,
        creds: LiveKitCredentials,
        sessions: SessionManager,
        registry: WorkerRegistry,
        *,
        name: str | None = None,
    ):
        self.settings = settings
        self.creds = creds
        self.sessions = sessions
        self.registry = registry
        self.capacity = max(1, settings.max_sessions)
        self.host = HostBeat(
            host_id=uuid.uuid4().hex, name=name or socket.gethostname(), capacity=self.capacity
        )
        self.worker_id: str | None = None
        self.registered = asyncio.Event()
        #: LiveKit job id of each live session on this host.
        self.jobs: dict[str, str] = {}
        #: Jobs accepted whose assignment has not arrived: a pool slot is held for each.
        self.pending: set[str] = set()
        self.draining = False
        self.closed = False
        self._outbox: asyncio.Queue[agent.WorkerMessage] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Called with each ended session id (the host's report service).
        self.on_ended: Callable[[str], None] | None = None
        sessions.on_ended = self._ended

    # --- state ------------------------------------------------------------------------------
    def can_accept(self) -> bool:
        """A job only when a warm bot is idle for it: a cold one is better taken elsewhere."""
        if self.draining or self.closed:
            return False
        held = len(self.pending)
        if len(self.sessions.live) + held >= self.capacity:
            return False
        return self.sessions.pool.ready_count > held

    def status(self) -> agent.UpdateWorkerStatus:
        busy = len(self.sessions.live) + len(self.pending)
        return agent.UpdateWorkerStatus(
            status=agent.WS_AVAILABLE if self.can_accept() else agent.WS_FULL,
            load=min(1.0, busy / self.capacity),
            job_count=len(self.sessions.live),
            draining=self.draining,
        )

    def beat(self) -> None:
        """Heartbeat row and load report; called on a timer and on every change."""
        self.host.sessions = sorted(self.sessions.live)
        self.host.draining = self.draining
        # Unregistered (connecting, or the socket dropped) it gets no jobs: nothing to offer.
        ready = self.sessions.pool.ready_count - len(self.pending) if self.can_accept() else 0
        self.host.ready = max(0, ready) if self.registered.is_set() else 0
        try:
            self.registry.beat(self.host)
        except Exception as exc:  # a busy database must not stop the bots
            logger.warning("worker heartbeat not written: {}", exc)
        if self.registered.is_set():
            self.send(agent.WorkerMessage(update_worker=self.status()))

    def send(self, msg: agent.WorkerMessage) -> None:
        self._outbox.put_nowait(msg)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- connection ---------------------------------------------------------------------------
    @property
    def agent_url(self) -> str:
        return self.creds.url.rstrip("/") + "/agent"

    async def run(self) -> None:
        """Stay registered until ``close``: reconnect with back-off whenever the socket drops."""
        delay = 0.0
        beats = asyncio.ensure_future(self._beats())
        try:
            async with aiohttp.ClientSession() as http:
                while not self.closed:
                    try:
                        await self._connection(http)
                        delay = 0.0
                    except Exception as exc:  # any failure of one connection: connect again
                        logger.warning("agent worker socket: {}; retrying", type(exc).__name__)
                    self.registered.clear()
                    if self.closed:
                        break
                    await asyncio.sleep(delay)
                    delay = min(MAX_RETRY_DELAY_S, delay * 2 or 0.5)
        finally:
            beats.cancel()

    async def _connection(self, http: aiohttp.ClientSession) -> None:
        token = api.AccessToken(self.creds.api_key, self.creds.api_secret)
        jwt = token.with_grants(api.VideoGrants(agent=True)).to_jwt()
        async with http.ws_connect(
            self.agent_url, headers={"Authorization": f"Bearer {jwt}"}, heartbeat=15.0
        ) as ws:
            register = agent.RegisterWorkerRequest(
                type=agent.JT_ROOM, agent_name=self.settings.agent_name, version=PROTOCOL_VERSION
            )
            await ws.send_bytes(agent.WorkerMessage(register=register).SerializeToString())
            first = agent.ServerMessage()
            first.ParseFromString(await ws.receive_bytes(timeout=10.0))
            if first.WhichOneof("message") != "register":
                raise ConnectionError("the server did not answer the registration")
            self.worker_id = first.register.worker_id
            logger.info(
                "registered as agent {!r}, worker {} (host {})",
                self.settings.agent_name,
                self.worker_id,
                self.host.name,
            )
            self._outbox = asyncio.Queue()
            self.registered.set()
            self.beat()
            sender = asyncio.ensure_future(self._send_all(ws))
            try:
                async for frame in ws:
                    if frame.type == aiohttp.WSMsgType.BINARY:
                        msg = agent.ServerMessage()
                        msg.ParseFromString(frame.data)
                        self._on_message(msg)
                    elif frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        break
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def _send_all(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while True:
            msg = await self._outbox.get()
            await ws.send_bytes(msg.SerializeToString())

    async def _beats(self) -> None:
        interval = max(0.2, self.settings.worker_lease_s / 4)
        while True:
            self.beat()
            await asyncio.sleep(interval)

    # --- messages -----------------------------------------------------------------------------
    def _on_message(self, msg: agent.ServerMessage) -> None:
        kind = msg.WhichOneof("message")
        if kind == "availability":
            self._on_availability(msg.availability)
        elif kind == "assignment":
            self._spawn(self._on_assignment(msg.assignment))
        elif kind == "termination":
            self._on_termination(msg.termination.job_id)

    def _on_availability(self, req: agent.AvailabilityRequest) -> None:
        job = req.job
        session = _session_of(job)
        available = session is not None and self.can_accept()
        answer = agent.AvailabilityResponse(job_id=job.id, available=available)
        if session is not None and available:
            self.pending.add(job.id)
            asyncio.get_running_loop().call_later(
                ASSIGNMENT_TIMEOUT_S, self._assignment_lost, job.id
            )
            answer.participant_identity = BOT_IDENTITY
            answer.participant_name = self._interviewer(session.persona)
        logger.debug("job {} for room {}: {}", job.id, job.room.name, available)
        self.send(agent.WorkerMessage(availability=answer))
        self.beat()

    def _assignment_lost(self, job_id: str) -> None:
        if job_id in self.pending:
            self.pending.discard(job_id)
            self.beat()

    async def _on_assignment(self, assignment: agent.JobAssignment) -> None:
        job = assignment.job
        self.pending.discard(job.id)
        session = _session_of(job)
        if session is None:
            self._job_status(job.id, agent.JS_FAILED, "job metadata is not a session")
            return
        self.jobs[session.session_id] = job.id
        try:
            if self.draining:  # accepted just before SIGTERM: the pool is going away
                raise OSError("the host began to drain before the bot started")
            await self.sessions.run_dispatched(session, assignment.token)
        except OSError as exc:
            reason = f"cannot start a bot process on host {self.host.name}: {exc}"
            self.sessions.store.update(
                session.session_id, status=SessionStatus.FAILED, reason=reason, ended_at=time.time()
            )
            with contextlib.suppress(LiveKitUnavailable):
                await self.sessions.rooms.delete(session.room)
            self._ended(session.session_id)
            return
        self._job_status(job.id, agent.JS_RUNNING)
        self.beat()

    def _on_termination(self, job_id: str) -> None:
        """The dispatch was deleted (``DELETE /sessions/{id}`` on some launcher): stop the bot."""
        for session_id, live_job in list(self.jobs.items()):
            if live_job == job_id:
                self._spawn(self.sessions.stop(session_id, "stopped via DELETE"))

    def _ended(self, session_id: str) -> None:
        job_id = self.jobs.pop(session_id, None)
        record = self.sessions.store.get(session_id)
        if job_id is not None:
            failed = record is not None and record.status is SessionStatus.FAILED
            reason = (record.reason or "") if record and failed else ""
            self._job_status(job_id, agent.JS_FAILED if failed else agent.JS_SUCCESS, reason)
        if self.on_ended is not None:
            self.on_ended(session_id)
        self.beat()

    def _job_status(self, job_id: str, status: agent.JobStatus, error: str = "") -> None:
        update = agent.UpdateJobStatus(job_id=job_id, status=status, error=error[:500])
        self.send(agent.WorkerMessage(update_job=update))

    def _interviewer(self, persona_id: str) -> str:
        try:
            return self.sessions.personas.load(persona_id).interviewer.name
        except Exception:
            return "Interviewer"

    # --- stop -----------------------------------------------------------------------------------
    async def drain(self) -> None:
        """No new jobs; live sessions end within the grace or are stopped; then unregister."""
        self.draining = True
        self.beat()
        logger.info("draining: {} live session(s)", len(self.sessions.live))
        await self.sessions.drain(self.settings.drain_grace_s)
        self.beat()
        await asyncio.sleep(0.2)  # let the last job updates reach the server
        self.closed = True
        with contextlib.suppress(Exception):
            self.registry.remove(self.host.host_id)


def _session_of(job: agent.Job) -> DispatchedSession | None:
    try:
        return DispatchedSession.model_validate_json(job.metadata)
    except ValidationError:
        logger.warning("job {} has no session in its metadata; declined", job.id)
        return None


async def run_worker_host(
    settings: Settings,
    *,
    bot: str = DEFAULT_BOT,
    name: str | None = None,
    log_dir: Path | None = None,
) -> int:
    """Start the pool, register, serve jobs until SIGTERM/SIGINT, drain, exit 0."""
    creds = LiveKitCredentials.from_settings(settings)
    store = open_store(settings)  # the launchers' store: its SQLite file or shared Postgres
    registry = WorkerRegistry(store)
    metrics = LauncherMetrics()
    pool = WorkerPool(settings, size=settings.pool_size, bot=bot, log_dir=log_dir)
    sessions = SessionManager(settings, creds, store, pool, metrics)
    reports = ReportService(settings, store, sessions.personas)
    worker = AgentWorker(settings, creds, sessions, registry, name=name)
    base_url = public_base_url(settings)

    def ended(session_id: str) -> None:
        # The events go to the shared outbox; the session's owner (its launcher) delivers them.
        reports.schedule(session_id)
        queue_transcript_ready(store, session_id)

    def report_ready(session_id: str, status: str) -> None:
        queue_report_ready(store, session_id, status, base_url)

    worker.on_ended = ended
    reports.on_ready = report_ready
    pool.on_change = worker.beat  # a bot warm again: accept again at once
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    logger.info("store: {}", store.where)  # where, never the DSN's password
    await pool.start()
    connection = asyncio.ensure_future(worker.run())
    try:
        await stopping.wait()
        await worker.drain()
    finally:
        worker.closed = True
        connection.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await connection
        if not pool.closed:
            await pool.close()
        await reports.wait()
        registry.remove(worker.host.host_id)
        store.close()
    return 0
