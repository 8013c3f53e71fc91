"""Avatar benchmarks (printed, never pass/fail).

    .venv/bin/python bench/avatar_render.py [--quick] [--skip-livekit]

1. local renderer: frames/s flat out and CPU per frame at 512×512;
2. one avatar session (HedraVideoService frame clock + pipeline, speaking) at 512×512@25:
   achieved fps and CPU % of one core, in its own process (one process per session, as in
   production);
3. concurrent sessions: N processes at once, N = 1, 2, 4, 8, ...; the largest N where every
   session still delivers ≥ 24.5 fps; also with LiveKit publishing (VP8 encode) when a
   livekit-server binary is available;
4. cached clip: at the receiving side of a real LiveKit room, the clip's first video frame
   vs its first audio (first mouth opening vs first sound); needs livekit-server;
5. A/V offset (local lip-sync) at the receiving side of a real LiveKit room.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
W = H = 512
FPS = 25


def _quiet() -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def speech_like(seconds: float, rate: int = 24000) -> np.ndarray:
    """Voiced tone with syllable-rate (4 Hz) loudness swings: keeps the mouth busy."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in (1, 2, 3, 4))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, 1) ** 0.7
    return (voice / 2.1 * envelope * 0.6 * 32767).astype(np.int16)


def _persona(renderer: str = "local", size: tuple[int, int] = (W, H)) -> Any:
    from interview_pipeline.config import Settings
    from interview_pipeline.personas.loader import PersonaLibrary
    from interview_pipeline.personas.schema import AvatarRenderer

    persona = PersonaLibrary(Settings(_env_file=None).personas_dir).load("maya")  # type: ignore[call-arg]
    spec = persona.avatar.model_copy(
        update={
            "renderer": AvatarRenderer(renderer),
            "width": size[0],
            "height": size[1],
            "fps": FPS,
        }
    )
    return persona.model_copy(update={"avatar": spec})


# --- 1. renderer ---------------------------------------------------------------------------
def bench_renderer() -> dict[str, float]:
    from interview_pipeline.avatar.local import LocalFaceRenderer

    t0 = time.perf_counter()
    r = LocalFaceRenderer(W, H, seed="maya")
    setup = time.perf_counter() - t0
    n = 2000
    c0, t0 = _cpu(), time.perf_counter()
    for i in range(n):
        r.frame(0.5 + 0.5 * np.sin(i / 3), i / FPS, wide=(i // 7) % 2)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    return {"setup_ms": setup * 1000, "fps_flat_out": n / wall, "cpu_ms_per_frame": cpu / n * 1000}


# --- 2/3. sessions -------------------------------------------------------------------------
async def _session(seconds: float, livekit: dict[str, str] | None) -> dict[str, float]:
    from pipecat.frames.frames import (
        EndFrame,
        Frame,
        OutputImageRawFrame,
        TTSAudioRawFrame,
        TTSStartedFrame,
        TTSStoppedFrame,
    )
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.workers.runner import WorkerRunner

    from interview_pipeline.avatar import HedraVideoService
    from interview_pipeline.config import Settings

    times: list[float] = []

    class Sink(FrameProcessor):
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, OutputImageRawFrame):
                times.append(time.monotonic())
            await self.push_frame(frame, direction)

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    persona = _persona()
    stages: list[FrameProcessor]
    if livekit:
        from pipecat.transports.livekit.transport import LiveKitParams, LiveKitTransport

        transport = LiveKitTransport(
            livekit["url"],
            livekit["token"],
            livekit["room"],
            params=LiveKitParams(
                audio_out_enabled=True,
                video_out_enabled=True,
                video_out_width=W,
                video_out_height=H,
                video_out_framerate=FPS,
                video_out_max_bitrate=800_000,
            ),
        )
        out = transport.output()
        write = out.write_video_frame

        async def counted(frame: OutputImageRawFrame) -> bool:
            ok = await write(frame)
            if ok:
                times.append(time.monotonic())
            return ok

        out.write_video_frame = counted  # type: ignore[method-assign]
        svc = HedraVideoService(persona=persona, portrait=None, settings=settings)
        stages = [svc, out]
    else:
        stages = [HedraVideoService(persona=persona, portrait=None, settings=settings), Sink()]
    worker = PipelineWorker(
        Pipeline(stages),
        params=PipelineParams(audio_out_sample_rate=24000),
        cancel_on_idle_timeout=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.ensure_future(runner.run())
    audio = speech_like(2.0).tobytes()

    async def talk() -> None:
        while True:
            await worker.queue_frame(TTSStartedFrame())
            await worker.queue_frame(TTSAudioRawFrame(audio, 24000, 1))
            await worker.queue_frame(TTSStoppedFrame())
            await asyncio.sleep(2.5)

    talker = asyncio.ensure_future(talk())
    await asyncio.sleep(2.0)  # warm up (and connect)
    print("READY", flush=True)  # the parent starts every session's window at once
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    n0, c0, t0 = len(times), _cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    n1, c1, t1 = len(times), _cpu(), time.monotonic()
    window = [t for t in times if t0 <= t <= t1]
    talker.cancel()
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(run, 10)
    gaps = np.diff(window) if len(window) > 1 else np.array([0.0])
    return {
        "fps": (n1 - n0) / (t1 - t0),
        "cpu_pct": (c1 - c0) / (t1 - t0) * 100,
        "gap_p95_ms": float(np.percentile(gaps, 95) * 1000),
        "gap_max_ms": float(gaps.max() * 1000),
    }


def _spawn_sessions(n: int, seconds: float, livekit: Any | None) -> list[dict[str, float]]:
    procs = []
    for i in range(n):
        args = [sys.executable, __file__, "_session", "--seconds", str(seconds)]
        env = dict(os.environ)
        if livekit is not None:
            from interview_pipeline.launcher.livekit import mint_token

            room = f"bench-{os.getpid()}-{n}-{i}"
            token = mint_token(
                livekit.credentials, room=room, identity="interviewer", name="Bot", ttl_s=600
            )
            env["AVATAR_BENCH_LIVEKIT"] = json.dumps(
                {"url": livekit.url, "token": token, "room": room}
            )
        procs.append(
            subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                text=True,
            )
        )
    for p in procs:  # wait until all are warm, so start-up (imports) never overlaps a window
        assert p.stdout is not None
        while (line := p.stdout.readline()) and not line.startswith("READY"):
            pass
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("GO\n")
        p.stdin.flush()
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        results.append(
            json.loads(lines[-1])
            if lines
            else {"fps": 0.0, "cpu_pct": 0.0, "gap_p95_ms": 0.0, "gap_max_ms": 0.0}
        )
    return results


def bench_sessions(ns: list[int], seconds: float, livekit: Any | None, label: str) -> int:
    best = 0
    print(
        f"\n[{label}] concurrent sessions at {W}x{H}@{FPS} (one process each, {os.cpu_count()} cores)"
    )
    print(
        f"{'N':>4} {'min fps':>8} {'mean fps':>9} {'CPU %/session':>14} {'gap p95 ms':>11} {'gap max ms':>11}"
    )
    for n in ns:
        rs = _spawn_sessions(n, seconds, livekit)
        fps = [r["fps"] for r in rs]
        print(
            f"{n:>4} {min(fps):>8.2f} {np.mean(fps):>9.2f} {np.mean([r['cpu_pct'] for r in rs]):>14.1f}"
            f" {np.mean([r['gap_p95_ms'] for r in rs]):>11.1f} {max(r['gap_max_ms'] for r in rs):>11.1f}"
        )
        if min(fps) >= 24.5:
            best = n
        else:
            break
    print(f"  → {best} concurrent sessions sustain ≥ 24.5 fps")
    return best


# --- 4/5. clip and A/V offset over LiveKit ----------------------------------------------------
async def bench_av(livekit: Any, runs: int, pulses: int, clip: bool = False) -> dict[str, float]:
    """Receiver-side offsets; with ``clip`` each run plays a cached clip instead of TTS audio."""
    from interview_pipeline.config import Settings, TTSProvider
    from tests.avatar.livekit_av import measure_av

    offsets: list[float] = []
    first: list[float] = []
    fps = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp), tts_provider=TTSProvider.PIPER)  # type: ignore[call-arg]
            text = f"Clip number {i}." if clip else None
            persona = _persona("hedra" if clip else "local")
            r = await measure_av(
                livekit.credentials, persona, settings, count=pulses, clip_text=text
            )
        offsets += r.offsets_ms
        first += r.offsets_ms[:1]
        fps.append(r.video_fps)
    a = np.abs(offsets)
    return {
        "first_ms": float(np.median(first)) if first else float("nan"),
        "pulses": len(offsets),
        "median_ms": float(np.median(offsets)),
        "p95_abs_ms": float(np.percentile(a, 95)),
        "max_abs_ms": float(a.max()),
        "within_45ms_pct": float((a <= 45).mean() * 100),
        "rx_fps": float(np.mean(fps)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="all")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-livekit", action="store_true")
    args = parser.parse_args()
    _quiet()
    if args.mode == "_session":
        lk = os.environ.get("AVATAR_BENCH_LIVEKIT")
        print(
            json.dumps(asyncio.run(_session(args.seconds, json.loads(lk) if lk else None))),
            flush=True,
        )
        return
    seconds = 6.0 if args.quick else args.seconds
    r = bench_renderer()
    print(
        f"[renderer] {W}x{H}: setup {r['setup_ms']:.0f} ms, {r['fps_flat_out']:.0f} frames/s flat out, {r['cpu_ms_per_frame']:.3f} ms CPU/frame → {r['cpu_ms_per_frame'] * FPS / 10:.2f} % of a core at {FPS} fps"
    )
    (one,) = _spawn_sessions(1, seconds, None)
    print(
        f"[session] one speaking session {W}x{H}@{FPS}: {one['fps']:.2f} fps, {one['cpu_pct']:.1f} % of one core (whole process: clock, render, pipeline), frame gap p95 {one['gap_p95_ms']:.1f} ms"
    )
    ns = [1, 2, 4, 8, 12, 16, 24, 32] if not args.quick else [1, 4, 8, 16]
    bench_sessions(ns, seconds, None, "render only")
    if args.skip_livekit:
        return
    from interview_pipeline.config import Settings
    from interview_pipeline.launcher.livekit import LocalLiveKitServer, find_server_binary

    binary = find_server_binary(Settings(_env_file=None))  # type: ignore[call-arg]
    if binary is None:
        print("\n[livekit] livekit-server not found: A/V offset and encode benchmarks skipped")
        return
    server = LocalLiveKitServer(binary).start()
    try:
        c = asyncio.run(bench_av(server, 2 if args.quick else 4, 6 if args.quick else 8, clip=True))
        print(
            f"\n[clip] cached clip over LiveKit, receiver side: first video frame vs first audio "
            f"{c['first_ms']:+.0f} ms (median of runs; + = video late); all clip onsets: median "
            f"{c['median_ms']:+.0f} ms, max |offset| {c['max_abs_ms']:.0f} ms"
        )
        av = asyncio.run(bench_av(server, 2 if args.quick else 4, 10 if args.quick else 15))
        print(
            f"\n[A/V offset] receiver side, real LiveKit room ({av['pulses']} onsets, + = video late): median {av['median_ms']:+.0f} ms, p95 |offset| {av['p95_abs_ms']:.0f} ms, max {av['max_abs_ms']:.0f} ms, {av['within_45ms_pct']:.0f} % within 45 ms; received {av['rx_fps']:.1f} fps"
        )
        bench_sessions(
            [1, 2, 4, 8] if args.quick else [1, 2, 4, 6, 8, 10],
            seconds,
            server,
            "render + LiveKit publish (VP8 encode, no subscriber)",
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
