"""Launcher benchmarks: spawn latency, greeting latency, memory, concurrent voice sessions.

Prints numbers; never passes or fails. Needs the livekit-server binary (started here on free
ports) and, for the local-engine sections, the hash-pinned model packages.

    python bench/launcher.py                 # everything (about 10 minutes on 2 cores)
    python bench/launcher.py --only spawn    # spawn + greeting + memory, local engines
    python bench/launcher.py --only load --steps 1,8,16,24,32,40

Sections
  spawn   POST /sessions -> bot joined the room (status waiting_for_candidate), p50/p95, with a
          warm pool and cold (pool size 0); candidate joined -> first greeting audio received,
          p50/p95; memory (RSS and PSS) of an idle pooled process and of a live session.
  load    the cloud path (Deepgram/OpenAI/ElevenLabs services) against loopback fakes in a
          separate process, N concurrent voice sessions (avatar off), each candidate answering
          twice, their first answers spread over ``--stagger`` seconds (real candidates do not
          all stop talking at the same moment; ``--stagger 0`` measures the case where they do).
          Reports answer-end -> next interviewer audio p50/p95 and audio gaps inside the
          interviewer's speech (the fake TTS speaks a continuous tone, so any silence inside an
          utterance is an underrun). Ramps N until p95 doubles against N=1 or gaps appear.
          The simulated candidates run in this process and share the two cores with the bots;
          times and dropouts are read on the received audio's own clock, and pauses in its
          arrival that the audio does not have are reported apart as simulator stalls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "launcher"))

from candidate import SimulatedCandidate  # noqa: E402

from interview_pipeline.compat import dispose_livekit_runtime  # noqa: E402
from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.launcher.app import create_app  # noqa: E402
from interview_pipeline.launcher.livekit import LocalLiveKitServer, find_server_binary  # noqa: E402

KEY = "bench-key"
ANSWER = ROOT / "tests" / "fixtures" / "answers" / "maya_process.wav"
FIXED_ANSWER_TEXT = "I start with research. I talk to users, then I build a quick prototype."


# --- small helpers ------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float], unit: str = "s") -> str:
    if not values:
        return "n/a"
    scale, fmt = (1000, "{:.0f} ms") if unit == "ms" else (1, "{:.2f} s")
    return (
        f"p50 {fmt.format(pct(values, 50) * scale)}, p95 {fmt.format(pct(values, 95) * scale)}"
        f" (n={len(values)}, max {fmt.format(max(values) * scale)})"
    )


def memory_mb(pid: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("Rss", "Pss", "Private_Dirty", "Private_Clean"):
                out[key] = int(value.split()[0]) / 1024
    if out:
        out["Uss"] = out.get("Private_Dirty", 0.0) + out.get("Private_Clean", 0.0)
    return out


def cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@contextlib.asynccontextmanager
async def launcher(settings: Settings, bot: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(settings, bot=bot, log_dir=settings.data_dir / "logs")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://launcher", headers=headers, timeout=120
        ) as client:
            yield app, client


async def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def wait_status(client: httpx.AsyncClient, sid: str, wanted: str, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        data = (await client.get(f"/sessions/{sid}")).json()
        if data["status"] == wanted:
            return data
        if data["status"] in ("failed", "completed", "abandoned") or time.monotonic() > deadline:
            raise RuntimeError(f"session {sid}: {data['status']} ({data.get('reason')})")
        await asyncio.sleep(0.02)


def base_settings(tmp: Path, lk: LocalLiveKitServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "livekit_url": lk.url,
        "livekit_api_key": lk.API_KEY,
        "livekit_api_secret": lk.API_SECRET,
        "api_keys": KEY,
        "data_dir": tmp,
        "store_path": tmp / "sessions.sqlite3",
        "drain_grace_s": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- spawn, greeting, memory (local engines) -----------------------------------------------------
async def one_session(
    app: Any, client: httpx.AsyncClient, lk: LocalLiveKitServer, settle: bool
) -> dict:
    """One session; with ``settle`` the candidate joins only once the pool's replacement is
    ready (a human needs seconds to open the link), else the moment the bot is ready, when a
    spawned replacement's warm-up (about 2 CPU-seconds) competes with the greeting."""
    t_post = time.time()
    t_post_mono = time.monotonic()
    created = (
        await client.post("/sessions", json={"persona": "maya", "candidate": {"name": "Sam"}})
    ).json()
    sid = created["session_id"]
    rooms = app.state.launcher.sessions.rooms
    while "interviewer" not in await rooms.participants(created["room"]):  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    in_room = time.monotonic() - t_post_mono
    joined = await wait_status(client, sid, "waiting_for_candidate", 120)
    worker = app.state.launcher.sessions.live[sid].worker
    result: dict[str, Any] = {
        "in_room": in_room,
        "spawn": joined["bot_joined_at"] - t_post,
        "settled": settle,
    }
    pool = app.state.launcher.pool
    if settle and pool.size:
        await wait_for(lambda: pool.ready_count >= pool.size, 120, "pool never refilled")
        await asyncio.sleep(0.5)
    candidate = SimulatedCandidate(lk.url, created["candidate_token"])
    t_connect = time.monotonic()
    await candidate.join()
    greeting = await candidate.wait_utterance(0.0, timeout_s=30)
    result["greeting_from_connected"] = greeting.start - (candidate.joined_at or t_connect)
    result["greeting_from_connect_call"] = greeting.start - t_connect
    connected = candidate.joined_at or t_connect
    result["track_from_connected"] = (candidate.interviewer_track_at or greeting.start) - connected
    result["frame_from_connected"] = (candidate.first_frame_at or greeting.start) - connected
    # Memory once the bot has done everything a session does: greeted, heard and transcribed an
    # answer, asked the next question.
    await candidate.wait_quiet(1.0, 60)
    sent = await candidate.say(ANSWER)
    reply = await candidate.wait_utterance(sent, timeout_s=60)
    result["answer_to_reply"] = reply.start - sent
    await asyncio.sleep(2.0)
    result["live_memory"] = memory_mb(worker.pid)
    await client.delete(f"/sessions/{sid}")
    await candidate.leave()
    return result


SPAWN_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    # name: (label, settings)
    "fork": ("warm, forked from the template", {"pool_mode": "fork", "pool_size": 1}),
    "fork-own-whisper": (
        "warm, forked, each bot loads its own Whisper",
        {"pool_mode": "fork", "pool_size": 1, "whisper_shared": False},
    ),
    "spawn": ("warm, spawned processes", {"pool_mode": "spawn", "pool_size": 1}),
    "cold": ("cold, no pool", {"pool_mode": "spawn", "pool_size": 0}),
}


async def bench_spawn(
    lk: LocalLiveKitServer, tmp: Path, n_warm: int, n_cold: int, runs: list[str]
) -> None:
    print("\n== spawn and greeting (local engines: Whisper, Piper, Silero, Smart Turn, avatar)")
    for name in runs:
        label, values = SPAWN_RUNS[name]
        pool_size = values["pool_size"]
        n = n_warm if pool_size else n_cold
        settings = base_settings(tmp / name, lk, max_sessions=4, **values)
        results = []
        idle_mem: list[dict[str, float]] = []
        warm_s: list[float] = []
        print(f"-- {label}", flush=True)
        async with launcher(settings, "interview_pipeline.bot") as (app, client):
            pool = app.state.launcher.pool
            for i in range(n):
                if pool_size:
                    await wait_for(lambda p=pool: p.ready_count >= 1, 120, "pool never warmed")
                    await asyncio.sleep(1.0)  # let the spare settle after warming
                    spare = next(w for w in pool.idle if w.ready.is_set())
                    idle_mem.append(memory_mb(spare.pid))
                    warm_s.append(spare.warm_s or 0.0)
                results.append(await one_session(app, client, lk, settle=i % 2 == 1))
            if pool.stt is not None and pool.stt.pid:
                _print_memory("the shared Whisper server", [memory_mb(pool.stt.pid)])
            template = pool.template
            if template is not None and template.pid:
                _print_memory("the template process", [memory_mb(template.pid)])
                print(f"template warm-up (imports + shared models): {template.warm_s} s")
        print(f"POST -> bot in the room: {summary([r['in_room'] for r in results])}")
        print("POST -> bot ready, greeting synthesised: " + summary([r["spawn"] for r in results]))
        if pool_size:
            for settled, when in ((True, "pool settled"), (False, "candidate joins at once")):
                print(
                    f"candidate connected -> first greeting audio ({when}): "
                    + summary(
                        [r["greeting_from_connected"] for r in results if r["settled"] == settled],
                        "ms",
                    )
                )
            print(
                "  connected -> first interviewer audio frame (silent or not): "
                + summary([r["frame_from_connected"] for r in results], "ms")
            )
            print(f"pooled process warm-up: {summary(warm_s)}")
            _print_memory("idle pooled process", idle_mem)
        print(
            "candidate's answer ends -> next question audio (local engines): "
            + summary([r["answer_to_reply"] for r in results], "ms")
        )
        _print_memory("live session, after one answer", [r["live_memory"] for r in results])


def _print_memory(label: str, samples: list[dict[str, float]]) -> None:
    """PSS charges shared pages fairly to every sharer; USS is what this process alone holds
    (what the machine gets back when it exits)."""
    samples = [s for s in samples if s]
    if not samples:
        return
    med = {k: statistics.median(s[k] for s in samples) for k in ("Rss", "Pss", "Uss")}
    print(
        f"memory, {label}: RSS {med['Rss']:.0f} MB, PSS {med['Pss']:.0f} MB, "
        f"USS {med['Uss']:.0f} MB"
    )


# --- concurrency on the cloud path ----------------------------------------------------------------
def serve_fakes() -> None:
    """Run in a child process: the three vendor fakes, cheap enough not to be the bottleneck."""
    import numpy as np

    from interview_pipeline.fakes import DeepgramFake, ElevenLabsFake, OpenAIFake, tone_synth

    def transcribe(pcm: np.ndarray, rate: int) -> str:
        return FIXED_ANSWER_TEXT

    def tone(text: str, rate: int) -> bytes:
        return tone_synth(text[:74], rate, seconds_per_char=0.05)  # at most 4 s a line

    async def run() -> None:
        fakes = (
            DeepgramFake(transcribe, finalize_delay_s=0.25),
            OpenAIFake(first_token_delay_s=0.3),
            ElevenLabsFake(tone, first_audio_delay_s=0.075),
        )
        async with contextlib.AsyncExitStack() as stack:
            dg, oa, el = [await stack.enter_async_context(f) for f in fakes]
            print(
                json.dumps(
                    {"deepgram": dg.base_url, "openai": oa.base_url, "elevenlabs": el.base_url}
                ),
                flush=True,
            )
            await asyncio.Event().wait()

    asyncio.run(run())


def voice_only_personas(tmp: Path) -> Path:
    folder = tmp / "personas"
    folder.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "personas" / "maya.yaml").read_text()
    (folder / "maya.yaml").write_text(text.replace("renderer: local", "renderer: none"))
    return folder


async def run_candidate(
    client: httpx.AsyncClient, lk: LocalLiveKitServer, answers: int, delay_s: float = 0.0
) -> dict:
    created = (
        await client.post("/sessions", json={"persona": "maya", "candidate": {"name": "Sam"}})
    ).json()
    sid = created["session_id"]
    await wait_status(client, sid, "waiting_for_candidate", 120)
    candidate = SimulatedCandidate(lk.url, created["candidate_token"], rate=16000, frame_ms=20)
    await candidate.join()
    latencies = []
    try:
        await candidate.wait_utterance(0.0, timeout_s=60)
        await candidate.wait_quiet(1.5, 60)
        await asyncio.sleep(delay_s)
        for _ in range(answers):
            sent = await candidate.say(ANSWER)
            reply = await candidate.wait_utterance(sent, timeout_s=60)
            latencies.append(reply.start - sent)
            await candidate.wait_quiet(1.5, 60)
    finally:
        await client.delete(f"/sessions/{sid}")
        await candidate.leave()
    return {"latencies": latencies, "gaps": candidate.gaps, "stalls": candidate.stalls}


async def load_step(
    lk: LocalLiveKitServer,
    tmp: Path,
    env: dict[str, str],
    n: int,
    helpers: dict[str, int],
    stagger_s: float,
) -> dict:
    settings = base_settings(
        tmp / f"load-{n}",
        lk,
        pool_size=n,
        max_sessions=n,
        personas_dir=voice_only_personas(tmp),
        stt_provider="deepgram",
        llm_provider="openai",
        tts_provider="elevenlabs",
        deepgram_api_key="fake",
        openai_api_key="fake",
        elevenlabs_api_key="fake",
        deepgram_base_url=env["deepgram"],
        openai_base_url=env["openai"],
        elevenlabs_base_url=env["elevenlabs"],
    )
    async with launcher(settings, "interview_pipeline.bot") as (app, client):
        pool = app.state.launcher.pool
        await wait_for(lambda: pool.ready_count >= n, 60 + 5 * n, "pool never filled")
        # Steady state: no replacement warming up (1-2 CPU-seconds each) during the measurement.
        pool.size = 0
        await asyncio.sleep(2.0)
        idle = [memory_mb(w.pid) for w in pool.idle]
        live: dict[int, float] = {}
        live_uss: dict[int, float] = {}
        bot_cpu: dict[int, list[float]] = {}

        async def sample_live() -> None:
            while True:
                await asyncio.sleep(1.0)
                for w in list(pool.busy):
                    mem = memory_mb(w.pid)
                    if mem:
                        live[w.pid] = max(live.get(w.pid, 0.0), mem["Pss"])
                        live_uss[w.pid] = max(live_uss.get(w.pid, 0.0), mem["Uss"])
                    cpu = cpu_seconds(w.pid)
                    if cpu:
                        bot_cpu.setdefault(w.pid, [cpu, cpu])[1] = cpu

        sampler = asyncio.ensure_future(sample_live())
        busy0, total0 = machine_busy()
        me0 = cpu_seconds(os.getpid())
        others0 = {name: cpu_seconds(pid) for name, pid in helpers.items()}
        runs = await asyncio.gather(
            *(run_candidate(client, lk, 2, i * stagger_s / n) for i in range(n)),
            return_exceptions=True,
        )
        busy1, total1 = machine_busy()
        me_cpu = cpu_seconds(os.getpid()) - me0
        others = {name: cpu_seconds(pid) - others0[name] for name, pid in helpers.items()}
        wall = (total1 - total0) / (os.cpu_count() or 1) / os.sysconf("SC_CLK_TCK")
        sampler.cancel()
    ok = [r for r in runs if isinstance(r, dict)]
    errors = [repr(r) for r in runs if not isinstance(r, dict)]
    return {
        "n": n,
        "bot_turns": bot_turns(settings.data_dir / "logs"),
        "latencies": [x for r in ok for x in r["latencies"]],
        "gaps": [x for r in ok for x in r["gaps"]],
        "stalls": [x for r in ok for x in r["stalls"]],
        "errors": errors,
        "idle_pss": statistics.median(m["Pss"] for m in idle if m) if idle else float("nan"),
        "live_pss": statistics.median(live.values()) if live else float("nan"),
        "live_uss": statistics.median(live_uss.values()) if live_uss else float("nan"),
        "machine_cores": (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1),
        "bench_cores": me_cpu / max(wall, 1e-6),
        "bot_cores_each": statistics.median(b - a for a, b in bot_cpu.values()) / max(wall, 1e-6)
        if bot_cpu
        else float("nan"),
        "helper_cores": {k: v / max(wall, 1e-6) for k, v in others.items()},
    }


def bot_turns(log_dir: Path) -> dict[str, list[float]]:
    """The bots' own measure of each turn (pipecat's UserBotLatencyObserver, logged per turn):
    candidate stopped speaking -> bot started speaking, inside the bot, and its parts."""
    found: dict[str, list[float]] = {}
    for log in log_dir.glob("worker-*.log"):
        for line in log.read_text(errors="replace").splitlines():
            _, marker, rest = line.partition("turn latency: ")
            for field in rest.split() if marker else []:
                name, _, value = field.partition("=")
                found.setdefault(name, []).append(float(value))
    return found


def parts_p50(turns: dict[str, list[float]]) -> str:
    names = ("endpointing", "stt", "llm", "tts", "overhead")
    groups = [n for n in names if n in turns]
    steps = [n for n in turns if n not in names and n != "voice_to_voice"]
    return ", ".join(f"{n} {pct(turns[n], 50) * 1000:.0f}" for n in groups) + (
        " [" + ", ".join(f"{n} {pct(turns[n], 50) * 1000:.0f}" for n in steps) + "]"
    )


async def bench_load(lk: LocalLiveKitServer, tmp: Path, steps: list[int], stagger_s: float) -> None:
    print("\n== concurrent voice sessions: cloud path on loopback fakes, avatar off")
    print(
        f"candidates' first answers spread over {stagger_s:.0f} s"
        if stagger_s
        else "every candidate answers at the same moment (worst case: all turns end together)"
    )
    fakes = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-fakes", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert fakes.stdout is not None
        env = json.loads(await fakes.stdout.readline())
        baseline: float | None = None
        first_gaps: int | None = None
        for n in steps:
            helpers = {"livekit-server": lk.proc.pid if lk.proc else 0, "fakes": fakes.pid}
            r = await load_step(lk, tmp, env, n, helpers, stagger_s)
            p95 = pct(r["latencies"], 95)
            baseline = baseline if baseline is not None else p95
            print(
                f"N={n:>3}: answer end -> next interviewer audio {summary(r['latencies'])} "
                f"(inside the bots: {summary(r['bot_turns'].get('voice_to_voice', []))}; "
                f"p50 ms {parts_p50(r['bot_turns'])}); "
                f"dropouts >= 60 ms inside speech: {len(r['gaps'])}"
                + (f" (longest {max(r['gaps']) * 1000:.0f} ms)" if r["gaps"] else "")
                + f", simulator stalls {len(r['stalls'])}"
                + (f" (longest {max(r['stalls']) * 1000:.0f} ms)" if r["stalls"] else "")
                + f"; errors {len(r['errors'])}; "
                f"PSS idle {r['idle_pss']:.0f} MB, live {r['live_pss']:.0f} MB "
                f"(USS {r['live_uss']:.0f} MB); cores busy "
                f"{r['machine_cores']:.2f} of {os.cpu_count()} (candidates+launcher "
                f"{r['bench_cores']:.2f}, per bot {r['bot_cores_each']:.2f}, "
                + ", ".join(f"{k} {v:.2f}" for k, v in r["helper_cores"].items())
                + ")",
                flush=True,
            )
            for err in r["errors"][:3]:
                print(f"        error: {err[:300]}")
            if r["gaps"] and first_gaps is None:
                first_gaps = n
            if r["errors"] or p95 > 2 * baseline:
                print(f"stopped at N={n}: p95 {p95:.2f}s vs baseline {baseline:.2f}s")
                break
        print(f"first audio gaps at N={first_gaps}" if first_gaps else "no audio gaps seen")
    finally:
        fakes.terminate()
        await fakes.wait()


async def main(args: argparse.Namespace) -> None:
    binary = find_server_binary(Settings(_env_file=None))  # type: ignore[call-arg]
    if binary is None:
        sys.exit(
            "livekit-server binary not found (go install .../livekit-server/cmd/server@v1.13.5)"
        )
    with tempfile.TemporaryDirectory(prefix="bench-launcher-") as tmpdir:
        tmp = Path(tmpdir)
        with LocalLiveKitServer(binary, log_path=tmp / "livekit.log") as lk:
            print(f"machine: {os.cpu_count()} cores; livekit-server {lk.url}")
            if args.only in (None, "spawn"):
                await bench_spawn(lk, tmp, args.warm, args.cold, args.runs.split(","))
            if args.only in (None, "load"):
                steps = [int(s) for s in args.steps.split(",")]
                await bench_load(lk, tmp, steps, args.stagger)
    dispose_livekit_runtime()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["spawn", "load"])
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--cold", type=int, default=5)
    parser.add_argument("--runs", default="fork,spawn,cold", help="spawn section: which pools")
    parser.add_argument("--steps", default="1,4,8,12,16,24,32,40")
    parser.add_argument(
        "--stagger",
        type=float,
        default=12.0,
        help="load section: spread the candidates' first answers over this many seconds, as "
        "real interviews' turns are (0: all at once, the worst case)",
    )
    parser.add_argument("--serve-fakes", action="store_true", help=argparse.SUPPRESS)
    cli = parser.parse_args()
    if cli.serve_fakes:
        serve_fakes()
    else:
        import warnings

        warnings.filterwarnings("ignore")
        asyncio.run(main(cli))
