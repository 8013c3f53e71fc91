"""The end after the last answer: sent once the goodbye was heard, never lost, never hung.

Ending used to be an ``EndWorkerFrame`` pushed right behind the closing line. That frame
cannot be interrupted, so a false end of turn on the last answer was final: the candidate
going on over the goodbye was muted and the interview ended on half an answer. Now the
closing that replies to an answer may be cut off within the persona's resume window, like
any reply (the answer goes on, the plan goes back), and the end is sent only when the
goodbye has been played to the end.

A goodbye that never plays (TTS down) or a cut-off one followed by no answer must still end
the interview: the guard sends the end ``guard_s`` after the interviewer last had nothing
to say, whatever happened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from interview_pipeline.clock import MONOTONIC, Clock


class PendingEnd:
    """The reason to end, waiting for the goodbye; ``send`` pushes the end frame."""

    def __init__(
        self,
        guard_s: float,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        cancel: Callable[[asyncio.Task[None]], Awaitable[None]],
        send: Callable[[str], Awaitable[None]],
        clock: Clock = MONOTONIC,
    ) -> None:
        self.guard_s = guard_s
        self._clock = clock
        self._spawn, self._cancel, self._send = spawn, cancel, send
        self.reason: str | None = None
        #: The goodbye was cut off: the end waits for the rest of the answer (or the guard).
        self.cut = False
        self.sent = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> bool:
        return self.reason is not None and not self.sent

    async def arm(self, reason: str) -> None:
        """A closing line was queued: end after it is heard."""
        if self.sent:
            return
        self.reason, self.cut = reason, False
        await self._guard()

    async def disarm(self) -> None:
        """The goodbye was taken back (the answer went on into a follow-up)."""
        if not self.sent:
            self.reason, self.cut = None, False
            await self._stop_guard()

    async def line_started(self) -> None:
        """The goodbye is playing: its end (or a cut) decides, not the guard."""
        await self._stop_guard()

    async def line_cut(self) -> None:
        if self.pending:
            self.cut = True

    async def line_stopped(self) -> None:
        """The goodbye stopped playing: heard to the end, the interview ends now."""
        if not self.pending:
            return
        if self.cut:
            await self._guard()  # the answer is going on; its reply re-arms
            return
        await self.fire()

    async def fire(self) -> None:
        if not self.pending:
            return
        await self._stop_guard()
        self.sent = True
        assert self.reason is not None
        await self._send(self.reason)

    async def _guard(self) -> None:
        await self._stop_guard()
        self._task = self._spawn(self._after_guard())

    async def _after_guard(self) -> None:
        await self._clock.sleep(self.guard_s)
        self._task = None
        await self.fire()

    async def _stop_guard(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            await self._cancel(task)
