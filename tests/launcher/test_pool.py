"""The worker pool on its own (no LiveKit): warm-up, hand-out, forks from the template, and no
process left behind in either pool mode."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from interview_pipeline.launcher.pool import WorkerPool

from .conftest import FAKEBOT, await_gone, descendants, make_settings

MODES = ["fork", "spawn"]


def ours() -> list[int]:
    return [p for p in descendants(os.getpid()) if _is_ours(p)]


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"interview_pipeline.launcher" in cmdline


def pool_of(tmp_path: Path, mode: str, size: int, bot: Path = FAKEBOT) -> WorkerPool:
    settings = make_settings(tmp_path, None, pool_mode=mode)
    return WorkerPool(settings, size=size, bot=str(bot), log_dir=tmp_path / "logs")


async def first_idle(pool: WorkerPool, timeout_s: float = 30) -> None:
    async def wait() -> None:
        while not pool.ready_count:  # noqa: ASYNC110 (a count, not an event)
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout_s)


async def test_spawn_mode_takes_warm_then_spawns_cold(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, "spawn", 1)
    await pool.start()
    await first_idle(pool)
    first, warm = await pool.take()
    assert warm and first.warm_s is not None and not first.forked
    second, warm = await pool.take()  # the replacement is still warming: taken anyway, cold
    assert not warm and second is not first
    await pool.close()
    assert await await_gone([first.pid, second.pid]) == []
    assert await await_gone(ours()) == []


async def test_fork_mode_forks_from_the_template(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, "fork", 1)
    await pool.start()
    await first_idle(pool)
    assert pool.template is not None and pool.template.usable
    template = pool.template.pid
    first, warm = await pool.take()
    assert warm and first.forked
    assert Path(f"/proc/{first.pid}/stat").read_text().split()[3] == str(template)  # its child
    assert os.getpgid(first.pid) == first.pid  # its own process group, for killpg
    second, warm = await pool.take()  # no idle one left: forked on the spot, still warm
    assert warm and second.forked and second is not first
    await asyncio.wait_for(second.ready.wait(), 10)
    assert (second.warm_s or 0) < 1.0  # only the bot's prewarm remains after a fork
    await pool.close()
    assert await await_gone([first.pid, second.pid, template or 0]) == []
    assert await await_gone(ours()) == []


async def test_forked_worker_crash_reports_the_signal(tmp_path: Path) -> None:
    pool = pool_of(tmp_path, "fork", 1)
    await pool.start()
    await first_idle(pool)
    worker, _ = await pool.take()
    os.kill(worker.pid, signal.SIGKILL)
    await asyncio.wait_for(worker.exited.wait(), 10)
    assert worker.exit_reason() == "bot process killed by SIGKILL"
    await pool.close()


@pytest.mark.parametrize("mode", MODES)
async def test_close_while_replenishing_leaves_nothing(tmp_path: Path, mode: str) -> None:
    pool = pool_of(tmp_path, mode, 4)
    await pool.start()
    await asyncio.sleep(0.05)  # mid-spawn (or the template mid-warm-up)
    await pool.close()
    await asyncio.sleep(0.2)
    assert await await_gone(ours()) == []


@pytest.mark.parametrize("mode", MODES)
async def test_worker_exits_when_the_launcher_closes_its_channel(tmp_path: Path, mode: str) -> None:
    """EOF is the worker's cue that the launcher is gone, warm or not."""
    pool = pool_of(tmp_path, mode, 1)
    await pool.start()
    await first_idle(pool)
    worker = pool.idle[0]
    worker.close_channel()
    await asyncio.wait_for(worker.exited.wait(), 10)
    assert worker.returncode == 0
    await pool.close()


async def test_failed_warm_up_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "badbot.py"
    bad.write_text("def prewarm(settings):\n    raise RuntimeError('no models')\n")
    pool = pool_of(tmp_path, "fork", 0, bot=bad)
    worker, warm = await pool.take()
    msg = await asyncio.wait_for(worker.events.get(), 20)
    assert msg == {"type": "failed", "reason": "bot failed to warm up: RuntimeError: no models"}
    await asyncio.wait_for(worker.exited.wait(), 10)
    assert worker.exit_reason() == "bot process exited with code 1"
    await pool.close()


async def test_template_that_started_a_thread_refuses_and_the_pool_spawns(
    tmp_path: Path,
) -> None:
    """A fork only copies the calling thread; a template with a new one must not fork."""
    threaded = tmp_path / "threadbot.py"
    threaded.write_text(
        FAKEBOT.read_text() + "\n\nimport threading\n\n\ndef prewarm_shared(settings):\n"
        "    threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
    )
    pool = pool_of(tmp_path, "fork", 1, bot=threaded)
    await pool.start()
    await first_idle(pool)
    worker = pool.idle[0]
    assert pool.template is not None and not pool.template.usable
    assert "fork is not safe" in (pool.template.problem or "")
    assert not worker.forked  # spawned instead, and it works
    assert worker.warm_s is not None
    await pool.close()
    assert await await_gone(ours()) == []


async def test_template_that_fails_to_warm_falls_back_to_spawning(tmp_path: Path) -> None:
    broken = tmp_path / "brokenbot.py"
    broken.write_text(
        FAKEBOT.read_text() + "\n\ndef prewarm_shared(settings):\n    raise OSError('disk')\n"
    )
    pool = pool_of(tmp_path, "fork", 1, bot=broken)
    await pool.start()
    await first_idle(pool)
    assert pool.template is not None
    assert pool.template.problem == "template failed to warm up: OSError: disk"
    assert not pool.idle[0].forked
    await pool.close()
    assert await await_gone(ours()) == []
