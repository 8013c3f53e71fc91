"""A clock for timer tests that moves only when the test says: no real windows to race."""

from __future__ import annotations

import asyncio
import heapq
import itertools

#: Real time given to the event loop after each timer fires, so the pipeline can carry the
#: frames it pushed before the next one fires (a scheduling wait, not a timing window).
SETTLE_S = 0.02


class FakeClock:
    """``interview_pipeline.clock.Clock`` on a number the test advances."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._order), waiter))
        await waiter  # a cancelled sleeper is skipped when its time comes

    async def advance(self, seconds: float) -> None:
        """Move time on, waking each sleeper at its own deadline, in order."""
        target = self.t + seconds
        await asyncio.sleep(SETTLE_S)  # frames sent just before reach their processors
        while self._sleepers and self._sleepers[0][0] <= target:
            due, _, waiter = heapq.heappop(self._sleepers)
            if waiter.done():
                continue
            self.t = max(self.t, due)
            waiter.set_result(None)
            await asyncio.sleep(SETTLE_S)
        self.t = target
