"""The interviewer's sense of time: read it and wait on it through one injectable object.

The conductor's timers (silence escalation, the end guard, a reply's deadline) wait on the
clock they were given, so their tests can run on a fake one that moves only when the test
says, instead of racing real windows on a loaded machine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """Real time: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


MONOTONIC: Clock = MonotonicClock()
