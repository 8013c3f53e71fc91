"""The worker pool on its own (no LiveKit): warm-up, hand-out, and no process left behind."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from interview_pipeline.launcher.pool import WorkerPool

from .conftest import FAKEBOT, await_gone, children_of, make_settings


def worker_children() -> list[int]:
    found = []
    for pid in children_of(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"interview_pipeline.launcher.worker" in cmdline:
            found.append(pid)
    return found


async def test_take_prefers_warm_then_spawns_cold(tmp_path: Path) -> None:
    pool = WorkerPool(make_settings(tmp_path, None), size=1, bot=str(FAKEBOT))
    await pool.start()
    await asyncio.wait_for(pool.idle[0].ready.wait(), 20)
    first, warm = await pool.take()
    assert warm and first.warm_s is not None
    second, warm = await pool.take()  # the replacement is still warming: taken anyway, cold
    assert not warm and second is not first
    await pool.close()
    assert await await_gone([first.pid, second.pid]) == []
    assert await await_gone(worker_children()) == []


async def test_close_while_replenishing_leaves_nothing(tmp_path: Path) -> None:
    pool = WorkerPool(make_settings(tmp_path, None), size=4, bot=str(FAKEBOT))
    pool.replenish_soon()
    await asyncio.sleep(0.05)  # mid-spawn
    await pool.close()
    await asyncio.sleep(0.2)
    assert await await_gone(worker_children()) == []


async def test_worker_exits_when_the_launcher_closes_its_pipe(tmp_path: Path) -> None:
    """stdin EOF is the worker's cue that the launcher is gone, warm or not."""
    pool = WorkerPool(make_settings(tmp_path, None), size=1, bot=str(FAKEBOT))
    await pool.start()
    worker = pool.idle[0]
    await asyncio.wait_for(worker.ready.wait(), 20)
    assert worker.proc.stdin is not None
    worker.proc.stdin.close()
    await asyncio.wait_for(worker.exited.wait(), 10)
    assert worker.proc.returncode == 0
    await pool.close()


async def test_failed_warm_up_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "badbot.py"
    bad.write_text("def prewarm(settings):\n    raise RuntimeError('no models')\n")
    pool = WorkerPool(make_settings(tmp_path, None), size=0, bot=str(bad))
    worker, warm = await pool.take()
    msg = await asyncio.wait_for(worker.events.get(), 20)
    assert msg == {"type": "failed", "reason": "bot failed to warm up: RuntimeError: no models"}
    await asyncio.wait_for(worker.exited.wait(), 10)
    assert worker.exit_reason() == "bot process exited with code 1"
    await pool.close()
