"""One way for a test to wait for something another task or process will make true."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


async def until(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout_s: float = 3.0,
    interval_s: float = 0.02,
    *,
    what: str = "the condition",
) -> None:
    """Poll ``predicate`` (plain or async) until it is true; fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)


async def session_status(
    client: Any, sid: str, *wanted: str, timeout_s: float = 30.0, fail_fast: bool = False
) -> dict[str, Any]:
    """The session's record once its status is one of ``wanted``.

    ``fail_fast``: a session that ends in another terminal status fails the test at once
    instead of after the timeout.
    """
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update((await client.get(f"/sessions/{sid}")).json())
        status = seen.get("status")
        if fail_fast and status in _TERMINAL and status not in wanted:
            raise AssertionError(f"session {sid} ended {status} ({seen.get('reason')}): {seen}")
        return status in wanted

    try:
        await until(reached, timeout_s, 0.1, what=f"session {sid} to be {' or '.join(wanted)}")
    except AssertionError as exc:
        if "timed out" not in str(exc):
            raise
        raise AssertionError(f"{exc}; still {seen.get('status')} ({seen.get('reason')})") from None
    return seen


_TERMINAL = frozenset({"completed", "failed", "abandoned"})
