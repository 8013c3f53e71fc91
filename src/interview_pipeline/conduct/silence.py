"""How long the candidate has said nothing since the interviewer handed them the floor.

The persona's silence settings (nudge after N s, repeat the question after M s, give up
after K s) count *silence*: time in which neither side speaks. The interviewer's own nudge
and repeat pause the count instead of restarting it, so "abandon after 90 s" means 90 s
of nothing from the candidate, however long the interviewer's prompts took to say.

This is a pure state machine driven with explicit timestamps, so the escalation can be
tested without waiting; ``SilenceTimer`` is the conductor's timer that acts on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from interview_pipeline.clock import Clock
from interview_pipeline.personas.schema import Silence


class SilenceAction(StrEnum):
    NUDGE = "nudge"
    REPEAT = "repeat"
    ABANDON = "abandon"


_ORDER = (SilenceAction.NUDGE, SilenceAction.REPEAT, SilenceAction.ABANDON)


@dataclass
class SilenceClock:
    nudge_after_s: float
    repeat_after_s: float
    abandon_after_s: float
    #: Silence counted before the current stretch (the interviewer spoke in between).
    banked_s: float = 0.0
    #: Start of the current silent stretch; None while paused or stopped.
    since: float | None = None
    #: How many of nudge, repeat, abandon have happened in this episode.
    fired: int = 0
    active: bool = False

    @classmethod
    def for_persona(cls, silence: Silence) -> SilenceClock:
        return cls(silence.nudge_after_s, silence.repeat_after_s, silence.abandon_after_s)

    def start(self, now: float) -> None:
        """The interviewer finished handing over the floor: a new episode begins."""
        self.active, self.banked_s, self.since, self.fired = True, 0.0, now, 0

    def pause(self, now: float) -> None:
        """The interviewer is talking (its own nudge or repeat): stop counting."""
        if self.since is not None:
            self.banked_s += max(0.0, now - self.since)
            self.since = None

    def resume(self, now: float) -> None:
        """The interviewer's prompt ended: carry on counting where we left off."""
        if self.active and self.since is None:
            self.since = now

    def stop(self) -> None:
        """The candidate spoke, or the interview moved on: the episode is over."""
        self.active, self.since = False, None

    def silent_s(self, now: float) -> float:
        running = 0.0 if self.since is None else max(0.0, now - self.since)
        return self.banked_s + running

    def _threshold(self) -> tuple[SilenceAction, float] | None:
        if self.fired >= len(_ORDER):
            return None
        limits = (self.nudge_after_s, self.repeat_after_s, self.abandon_after_s)
        return _ORDER[self.fired], limits[self.fired]

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next action is due; None while nothing can come due."""
        nxt = self._threshold()
        if not self.active or self.since is None or nxt is None:
            return None
        return max(0.0, nxt[1] - self.silent_s(now))

    def take(self, now: float) -> SilenceAction | None:
        """The action due now (and mark it done), or None if nothing is due yet."""
        nxt = self._threshold()
        if not self.active or nxt is None or self.silent_s(now) < nxt[1] - 1e-6:
            return None
        self.fired += 1
        return nxt[0]


class SilenceTimer:
    """The timer that acts on a ``SilenceClock``: one task, re-armed as the floor changes.

    ``spawn`` and ``cancel`` are the owning processor's task functions (so pipecat's task
    manager tracks the timer); ``due`` is called with the action when it comes due; ``time``
    is read and waited on (a fake one in tests).
    """

    def __init__(
        self,
        clock: SilenceClock,
        time: Clock,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        cancel: Callable[[asyncio.Task[None]], Awaitable[None]],
        due: Callable[[SilenceAction], Awaitable[None]],
    ) -> None:
        self.clock = clock
        self._time, self._spawn, self._cancel, self._due = time, spawn, cancel, due
        self._task: asyncio.Task[None] | None = None
        #: The line the silence escalation said; its end resumes (not restarts) the count.
        self.prompt: object | None = None

    async def schedule(self) -> None:
        await self.cancel()
        wait = self.clock.wait_s(self._time.now())
        if wait is not None:
            self._task = self._spawn(self._after(wait))

    async def _after(self, wait: float) -> None:
        await self._time.sleep(wait)
        self._task = None
        action = self.clock.take(self._time.now())
        if action is not None:
            await self._due(action)

    async def cancel(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            await self._cancel(task)

    async def stop(self) -> None:
        self.clock.stop()
        self.prompt = None
        await self.cancel()
