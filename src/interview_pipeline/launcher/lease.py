"""This launcher's lease on its sessions in a store that several launchers may share.

Each launcher has an id (``Settings.resolved_launcher_id``) and renews a heartbeat in the store
every third of ``launcher_lease_s``. A session records the launcher that runs its bot, so
restart recovery closes only that launcher's own sessions; a launcher that stopped renewing
(crashed, host gone) has its live sessions closed by whichever peer notices first, and its
pending webhooks delivered by that peer. With one launcher on SQLite this is the old behaviour:
at start-up it closes what its previous process left live.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from loguru import logger

from interview_pipeline.config import Settings
from interview_pipeline.launcher.sessions import SessionManager
from interview_pipeline.launcher.store import SessionStore


class Lease:
    def __init__(
        self,
        settings: Settings,
        store: SessionStore,
        sessions: SessionManager,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.id = settings.resolved_launcher_id()
        self.every_s = settings.launcher_lease_s / 3
        self.store = store
        self.sessions = sessions
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Claim the lease, close what this launcher's previous process left live, then keep
        renewing (and closing dead peers' sessions) in the background."""
        self.store.heartbeat(self.id)
        await self.sessions.recover(own=True)
        self._task = asyncio.ensure_future(self._renew())

    async def _renew(self) -> None:
        while True:
            await self._sleep(self.every_s)
            try:
                self.store.heartbeat(self.id)
                await self.sessions.recover(own=False)
            except Exception as exc:  # a store blip must not end the renewals
                logger.warning("launcher {}: lease renewal failed: {}", self.id, type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
