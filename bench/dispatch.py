"""``POST /sessions`` → bot in the room: LiveKit agent dispatch against the local pool.

Prints numbers; never passes or fails. Needs the livekit-server binary (started here on free
ports). Both modes use the same bot (the test fake by default: the join path is what differs,
not the interview) and a warm pool: before each session the bench waits until a warm bot is
idle (locally) or a host reports one (dispatch), so it measures the warm path.

    python bench/dispatch.py                     # 20 sessions per mode
    python bench/dispatch.py --n 40 --hosts 2
    python bench/dispatch.py --bot interview_pipeline.bot   # the real bot (local engines)

"Bot in the room" is the session's status turning ``waiting_for_candidate``: the bot has
joined and published its audio, as the API reports it, polled every 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import httpx
from loguru import logger

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "launcher"))

from conftest import make_settings, running_launcher  # noqa: E402
from fleet_hosts import FAKEBOT, Host, hosts_ready  # noqa: E402

from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.launcher.fleet import WorkerRegistry  # noqa: E402
from interview_pipeline.launcher.livekit import LocalLiveKitServer, find_server_binary  # noqa: E402
from interview_pipeline.launcher.store import open_store  # noqa: E402

BODY = {"persona": "maya", "candidate": {"name": "Sam"}}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def line(label: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{label:<10} p50 {pct(ms, 50):6.0f} ms   p95 {pct(ms, 95):6.0f} ms   "
        f"max {max(ms):6.0f} ms   (n={len(ms)})"
    )


async def one_session(client: httpx.AsyncClient) -> float:
    start = time.monotonic()
    r = await client.post("/sessions", json=BODY)
    r.raise_for_status()
    sid = r.json()["session_id"]
    while True:
        status = (await client.get(f"/sessions/{sid}")).json()["status"]
        if status == "waiting_for_candidate":
            elapsed = time.monotonic() - start
            break
        if status in ("failed", "abandoned", "completed"):
            raise RuntimeError(f"session {sid} ended {status} before its bot joined")
        await asyncio.sleep(0.01)
    await client.delete(f"/sessions/{sid}")
    return elapsed


async def local(settings: Settings, bot: str, n: int) -> list[float]:
    times: list[float] = []
    async with running_launcher(settings, bot=bot) as (app, client):
        pool = app.state.launcher.pool
        for i in range(n + 1):
            while pool.ready_count < pool.size:  # noqa: ASYNC110 (a count, not an event)
                await asyncio.sleep(0.02)
            elapsed = await one_session(client)
            if i:  # the first one warms the launcher's own code paths
                times.append(elapsed)
    return times


async def dispatched(settings: Settings, bot: str, n: int, hosts: int, tmp: Path) -> list[float]:
    names = {f"host-{i}" for i in range(hosts)}
    started = [Host(name, settings, tmp / "hosts", bot=bot) for name in sorted(names)]
    store = open_store(settings)
    registry = WorkerRegistry(store)
    times: list[float] = []
    try:
        async with running_launcher(settings, bot=bot) as (_app, client):
            for i in range(n + 1):
                await hosts_ready(registry, names, timeout_s=120)
                elapsed = await one_session(client)
                if i:
                    times.append(elapsed)
    finally:
        store.close()
        for host in started:
            host.stop()
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="sessions per mode")
    parser.add_argument("--hosts", type=int, default=2, help="worker hosts in dispatch mode")
    parser.add_argument("--bot", default=str(FAKEBOT), help="bot module or .py file")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    warnings.filterwarnings("ignore", message="The HMAC key")  # the dev server's short key
    binary = find_server_binary()
    if binary is None:
        sys.exit("livekit-server binary not found (see README: Running the launcher)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    with LocalLiveKitServer(binary, log_path=tmp / "livekit.log") as server:
        real = not args.bot.endswith(".py")
        common = {"max_sessions": 4, "pool_size": 1, "whisper_shared": real}
        local_settings = make_settings(tmp / "local", server, **common)
        local_times = await local(local_settings, args.bot, args.n)
        fleet = make_settings(
            tmp / "fleet",
            server,
            **common,
            dispatch="agents",
            agent_name=f"bench-{uuid.uuid4().hex[:6]}",
        )
        dispatch_times = await dispatched(fleet, args.bot, args.n, args.hosts, tmp)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"POST /sessions -> bot in the room, warm ({os.cpu_count()} cores, load {load})")
    print(line("local", local_times))
    print(line(f"dispatch/{args.hosts}", dispatch_times))


if __name__ == "__main__":
    asyncio.run(main())
