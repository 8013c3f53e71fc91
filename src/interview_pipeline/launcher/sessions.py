"""Session lifecycle: room, tokens, bot process, status, clean-up, drain.

The HTTP layer asks and this module decides; every way a session can end (bot finished, bot
crashed, DELETE, drain, launcher restart) goes through ``_finish`` so the room is always deleted
and the process group always killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from loguru import logger

from interview_pipeline.config import Settings
from interview_pipeline.launcher.fleet import DispatchedSession
from interview_pipeline.launcher.livekit import (
    LiveKitCredentials,
    LiveKitRooms,
    LiveKitUnavailable,
    mint_token,
)
from interview_pipeline.launcher.metrics import LauncherMetrics
from interview_pipeline.launcher.models import (
    BOT_IDENTITY,
    CreateSession,
    SessionStatus,
)
from interview_pipeline.launcher.pool import WorkerPool
from interview_pipeline.launcher.session_state import (
    LiveSession,
    Rejected,
    final_status,
    pool_label,
)
from interview_pipeline.launcher.store import SessionRecord, SessionStore
from interview_pipeline.launcher.worker import STOP_GRACE_S
from interview_pipeline.personas import Persona, PersonaLibrary

#: A bot that has not joined its room by then is declared failed (covers a cold, slow warm-up).
JOIN_TIMEOUT_S = 90.0


class SessionManager:
    def __init__(
        self,
        settings: Settings,
        creds: LiveKitCredentials,
        store: SessionStore,
        pool: WorkerPool,
        metrics: LauncherMetrics,
    ):
        self.settings = settings
        self.creds = creds
        self.store = store
        self.pool = pool
        self.metrics = metrics
        self.rooms = LiveKitRooms(creds, empty_timeout_s=settings.empty_room_timeout_s)
        self.personas = PersonaLibrary(
            settings.personas_dir, face_cache_dir=settings.resolved_face_cache_dir()
        )
        self.live: dict[str, LiveSession] = {}
        self._reserved = 0
        self._rooms: set[str] = set()  # rooms of sessions being created
        self.draining = False
        #: Called with a session id once it has reached its final status (reports hook in here).
        self.on_ended: Callable[[str], None] | None = None
        #: How long a stopped bot may take over its closing line before it is cancelled.
        self.stop_grace_s = STOP_GRACE_S
        metrics.max_sessions.set(settings.max_sessions)

    # --- start-up -------------------------------------------------------------------------------
    async def recover(self, *, own: bool = True) -> None:
        """Sessions whose bot is gone: at start-up (``own``) this launcher's own, whose bots died
        with its previous process; at any time, those of a launcher sharing the store whose
        lease ran out. A live launcher's sessions are never touched."""
        me = self.settings.resolved_launcher_id()
        for record in self.store.take_over(me, self.settings.launcher_lease_s, own=own):
            if record.owner in (None, me):
                reason = "launcher restarted while the session was live"
            else:
                reason = f"launcher {record.owner} stopped renewing its lease while it was live"
            self.store.update(
                record.id, status=SessionStatus.FAILED, reason=reason, ended_at=time.time()
            )
            with contextlib.suppress(LiveKitUnavailable):
                await self.rooms.delete(record.room)
            self._ended(record.id)

    # --- create -------------------------------------------------------------------------------------
    async def create(
        self, req: CreateSession, *, webhook: str | None = None
    ) -> tuple[SessionRecord, str]:
        """Start a session; returns the record and the candidate's token. ``webhook`` is the
        endpoint its events go to (None: no webhooks)."""
        self._check_capacity()
        persona, identity, session_id, room = self._admit(req)
        self._reserved += 1
        self._rooms.add(room)  # before any await: a concurrent POST for this room gets 409
        try:
            accepted = time.monotonic()
            record, candidate_token = await self._open_room(
                session_id, room, req, identity, webhook
            )
            bot_token = mint_token(
                self.creds, room=room, identity=BOT_IDENTITY, name=persona.interviewer.name,
                ttl_s=self.settings.token_ttl_s, agent=True,
            )  # fmt: skip
            try:
                worker, warm = await self.pool.take()
            except OSError as exc:
                with contextlib.suppress(LiveKitUnavailable):
                    await self.rooms.delete(room)
                raise Rejected(
                    503, f"cannot start a bot process: {exc}", headers={"Retry-After": "10"}
                ) from None
            self.store.create(record)
            live = LiveSession(session_id, room, worker, warm, accepted)
            self.live[session_id] = live
        finally:
            self._reserved -= 1
            self._rooms.discard(room)
        job = DispatchedSession(
            session_id=session_id, room=room, persona=req.persona,
            candidate_name=req.candidate.name, candidate_identity=identity,
        )  # fmt: skip
        await self._run(live, job, bot_token)
        return record, candidate_token

    async def _open_room(
        self, session_id: str, room: str, req: CreateSession, identity: str, webhook: str | None
    ) -> tuple[SessionRecord, str]:
        """Create the room (LiveKitUnavailable → 503, nothing stored yet); the session's record
        (not yet stored) and the candidate's token. The record is this launcher's (``owner``):
        its lease decides who may close the session, and it delivers the session's webhooks."""
        await self.rooms.create(room)
        candidate_token = mint_token(
            self.creds, room=room, identity=identity, name=req.candidate.name,
            ttl_s=self.settings.token_ttl_s, session_id=session_id,
        )  # fmt: skip
        record = SessionRecord(
            id=session_id,
            room=room,
            persona=req.persona,
            candidate_name=req.candidate.name,
            candidate_email=req.candidate.email,
            candidate_identity=identity,
            metadata=req.metadata,
            owner=self.settings.resolved_launcher_id(),
            webhook=webhook,
        )
        return record, candidate_token

    async def run_dispatched(self, job: DispatchedSession, token: str) -> LiveSession:
        """A worker host's half of a session a launcher created and LiveKit dispatched here:
        the same bot hand-out and watch as ``create``, with the token from the assignment.
        Raises OSError when no bot process can be started."""
        worker, warm = await self.pool.take()
        live = LiveSession(job.session_id, job.room, worker, warm, time.monotonic())
        self.live[job.session_id] = live
        await self._run(live, job, token)
        return live

    async def _run(self, live: LiveSession, job: DispatchedSession, token: str) -> None:
        self._update_gauges()
        message = {
            "type": "job",
            **job.model_dump(),
            "token": token,
            "stop_grace_s": self.stop_grace_s,
        }
        if not await live.worker.send(message):
            logger.warning("session {}: bot process gone before its job", live.id)
        live.watcher = asyncio.ensure_future(self._watch(live))
        logger.info(
            "session {} started in room {} ({} bot)", live.id, live.room, pool_label(live.warm)
        )

    def _check_capacity(self) -> None:
        if self.draining:
            raise Rejected(503, "the launcher is shutting down", headers={"Retry-After": "30"})
        if len(self.live) + self._reserved >= self.settings.max_sessions:
            raise Rejected(
                429,
                f"at capacity ({self.settings.max_sessions} live sessions)",
                headers={"Retry-After": "30"},
            )

    def capacity_checks(self) -> dict[str, Any]:
        """Readiness figures for ``/readyz``; ``capacity_left`` decides."""
        live = len(self.live)
        return {
            "live_sessions": live,
            "max_sessions": self.settings.max_sessions,
            "capacity_left": live < self.settings.max_sessions,
        }

    def _admit(self, req: CreateSession) -> tuple[Persona, str, str, str]:
        """Persona, candidate identity, new session id and room of a valid request."""
        try:
            persona = self.personas.load(req.persona)
        except Exception as exc:
            valid = getattr(exc, "known", None)
            if valid is not None:
                raise Rejected(
                    404, f"unknown persona {req.persona!r}", field="persona", valid=valid
                ) from None
            raise Rejected(
                422, f"persona {req.persona!r} is invalid: {exc}", field="persona"
            ) from None
        # Never BOT_IDENTITY: the request model refuses it.
        identity = req.candidate.identity or "candidate"
        session_id = uuid.uuid4().hex
        room = req.room or f"interview-{session_id[:12]}"
        if room in self._rooms or any(s.room == room for s in self.live.values()):
            raise Rejected(409, f"room {room!r} already has a live session", field="room")
        self._refuse_room_with_live_tokens(room)
        return persona, identity, session_id, room

    def _refuse_room_with_live_tokens(self, room: str) -> None:
        """LiveKit tokens cannot be revoked and grant a room by name: while a token of an earlier
        session in ``room`` is still valid, its holder could walk into a new session there. So a
        room name is only reused once every token minted for it has expired."""
        previous = self.store.latest_in_room(room)
        if previous is None:
            return
        try:
            expires = float(previous.created_at) + self.settings.token_ttl_s
        except (TypeError, ValueError):  # a damaged record: assume its tokens are still valid
            expires = time.time() + self.settings.token_ttl_s
        wait_s = expires - time.time()
        if wait_s > 0:
            raise Rejected(
                409,
                f"room {room!r} was used by session {previous.id}, whose tokens are valid for "
                f"{math.ceil(wait_s)} s more; choose another room name or omit `room`",
                field="room",
                headers={"Retry-After": str(math.ceil(wait_s))},
            )

    # --- follow the bot -----------------------------------------------------------------------------
    async def _watch(self, live: LiveSession) -> None:
        final: tuple[SessionStatus, str | None] | None = None
        joined = False
        try:
            while True:
                timeout = (
                    None
                    if joined
                    else max(0.0, JOIN_TIMEOUT_S - (time.monotonic() - live.accepted_at))
                )
                try:
                    msg = await asyncio.wait_for(live.worker.events.get(), timeout)
                except TimeoutError:
                    final = (
                        SessionStatus.FAILED,
                        f"bot did not join within {JOIN_TIMEOUT_S:.0f} s",
                    )
                    break
                if msg is None:
                    break
                kind = msg.get("type")
                if kind == "status":
                    if self._on_status(live, str(msg.get("status"))):
                        joined = True
                elif kind == "done":
                    final = (final_status(msg.get("status"), live), msg.get("reason"))
                    self.metrics.count_degraded(msg.get("degraded"))
                elif kind == "failed":
                    final = (SessionStatus.FAILED, str(msg.get("reason") or "bot failed"))
        except asyncio.CancelledError:
            final = final or (SessionStatus.ABANDONED, "launcher stopped")
            raise
        finally:
            await self._finish(live, final)

    def _on_status(self, live: LiveSession, status: str) -> bool:
        """Record a status from the bot; True once the bot has joined its room."""
        now = time.time()
        if status == SessionStatus.WAITING_FOR_CANDIDATE:
            self.metrics.spawn_seconds.labels(pool=pool_label(live.warm)).observe(
                time.monotonic() - live.accepted_at
            )
            self.store.update(
                live.id, status=SessionStatus.WAITING_FOR_CANDIDATE, bot_joined_at=now
            )
            return True
        if status == SessionStatus.IN_PROGRESS:
            live.candidate_joined = True
            self.store.update(live.id, status=SessionStatus.IN_PROGRESS, candidate_joined_at=now)
            return True
        logger.debug("session {}: bot status {!r} ignored", live.id, status)
        return False

    async def _finish(
        self, live: LiveSession, final: tuple[SessionStatus, str | None] | None
    ) -> None:
        worker = live.worker
        await worker.kill(grace_s=2.0)
        if final is None:
            if live.stop_reason:
                final = (SessionStatus.ABANDONED, f"{live.stop_reason}; bot killed")
            else:
                final = (SessionStatus.FAILED, worker.exit_reason())
        status, reason = final
        if live.stop_reason and status is not SessionStatus.FAILED:
            reason = live.stop_reason
        if status is SessionStatus.FAILED:
            self.metrics.bot_failures.inc()
            logger.warning("session {} failed: {}", live.id, reason)
        self.store.update(live.id, status=status, reason=reason, ended_at=time.time())
        try:
            await self.rooms.delete(live.room)
        except LiveKitUnavailable as exc:
            logger.warning("session {}: room {} not deleted: {}", live.id, live.room, exc)
        self.pool.release(worker)
        self.live.pop(live.id, None)
        self._update_gauges()
        live.done.set()
        logger.info("session {} ended: {} ({})", live.id, status, reason or "-")
        self._ended(live.id)

    def _ended(self, session_id: str) -> None:
        if self.on_ended is not None:
            try:
                self.on_ended(session_id)
            except Exception as exc:  # a report hook must never keep a session from ending
                logger.warning("session {}: on_ended failed: {}", session_id, exc)

    # --- stop -----------------------------------------------------------------------------------------
    async def stop(self, session_id: str, reason: str = "stopped via DELETE") -> None:
        """Ask the bot for its closing line, wait for it to leave, kill it if it does not."""
        live = self.live.get(session_id)
        if live is None:
            return
        live.stop_reason = live.stop_reason or reason
        await live.worker.send({"type": "stop"})
        try:
            await asyncio.wait_for(live.done.wait(), self.stop_grace_s + 5.0)
        except TimeoutError:
            await live.worker.kill(grace_s=1.0)
            await live.done.wait()

    async def drain(self, grace_s: float) -> None:
        """SIGTERM path: refuse new sessions, let live ones finish, then end the rest."""
        self.draining = True
        if self.live:
            logger.info("draining {} live session(s), up to {:.0f} s", len(self.live), grace_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(s.done.wait() for s in list(self.live.values()))), grace_s
                )
        await asyncio.gather(
            *(self.stop(sid, "launcher shutting down") for sid in list(self.live)),
            return_exceptions=True,
        )
        await self.pool.close()
        self._update_gauges()

    def _update_gauges(self) -> None:
        self.metrics.live_sessions.set(len(self.live))
        self.metrics.pool_idle.set(len(self.pool.idle))
        self.metrics.pool_ready.set(self.pool.ready_count)
        self.metrics.pool_target.set(self.pool.size)
