"""What the avatar adds to a session's CPU over a real LiveKit room, split by where it goes.

    .venv/bin/python bench/avatar_cost.py [--seconds 8] [--variants voice,before,after] [--av]

Each variant runs a bot (one process, as in production) publishing to a local livekit-server
while a candidate (another process, so its decoding is not counted) subscribes to both tracks.
The bot speaks for a window, then listens for one. Its CPU is read per thread from
/proc/self/task: the Python thread (pipecat, the frame clock and rendering — rendering alone
is timed with ``time.thread_time`` around ``render``), the WebRTC encoder threads, and the
rest of the native side (RTP/SRTP, pacing, the LiveKit FFI runtime: "publish").

Variants: ``voice`` no camera track; ``before`` the camera track as published before issue 16
(SDK default simulcast, every tick sends a frame); ``after`` as published now (no simulcast,
frame rate kept under load, half the fps while not speaking and still repeats left out). All use a photo
portrait (Grace Hopper) at 512×512 @ 25 fps, 800 kbit/s. ``--av`` also measures the A/V
offset at the candidate with the current defaults.

Numbers from a shared 2-core machine are noisy: compare variants of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PORTRAIT = ROOT / "tests" / "fixtures" / "portraits" / "grace_hopper.jpg"
W = H = 512
FPS = 25
_TICK = os.sysconf("SC_CLK_TCK")


def _threads() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every thread of this process: tid → (name, seconds)."""
    out = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return out


def _group(tid: int, name: str) -> str:
    if tid == os.getpid():
        return "python"
    if name.startswith("VideoEncoder"):
        return "encode"
    if name.startswith("AudioEncoder"):
        return "audio"
    return "publish"


def _window(
    a: dict[int, tuple[str, float]], b: dict[int, tuple[str, float]], span: float
) -> dict[str, Any]:
    groups: dict[str, float] = {}
    names: dict[str, float] = {}
    for tid, (name, cpu) in b.items():
        used = cpu - a.get(tid, (name, 0.0))[1]
        groups[_group(tid, name)] = groups.get(_group(tid, name), 0.0) + used
        names[name] = names.get(name, 0.0) + used
    top = sorted(names.items(), key=lambda kv: -kv[1])[:6]
    return {
        "groups": {k: v / span * 100 for k, v in groups.items()},
        "total": sum(groups.values()) / span * 100,
        "top": {k: round(v / span * 100, 2) for k, v in top},
    }


def speech_like(seconds: float, rate: int = 24000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in (1, 2, 3, 4))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, 1) ** 0.7
    return (voice / 2.1 * envelope * 0.6 * 32767).astype(np.int16)


async def _bot(variant: str, lk: dict[str, str], seconds: float) -> dict[str, Any]:
    from pipecat.frames.frames import EndFrame, TTSAudioRawFrame, TTSStartedFrame, TTSStoppedFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.transports.livekit.transport import LiveKitParams
    from pipecat.workers.runner import WorkerRunner

    from interview_pipeline.avatar import HedraVideoService
    from interview_pipeline.config import Settings
    from interview_pipeline.personas.loader import PersonaLibrary
    from interview_pipeline.personas.schema import AvatarRenderer
    from interview_pipeline.transports.livekit import InterviewLiveKitTransport

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    persona = PersonaLibrary(settings.personas_dir).load("maya")
    video = variant != "voice"
    update: dict[str, Any] = {
        "renderer": AvatarRenderer.LOCAL if video else AvatarRenderer.NONE,
        "width": W,
        "height": H,
        "fps": FPS,
    }
    if variant == "before":
        update["listening_fps"] = FPS
    persona = persona.model_copy(update={"avatar": persona.avatar.model_copy(update=update)})
    transport = InterviewLiveKitTransport(
        lk["url"],
        lk["token"],
        lk["room"],
        LiveKitParams(
            audio_out_enabled=True,
            video_out_enabled=video,
            video_out_width=W,
            video_out_height=H,
            video_out_framerate=FPS,
            video_out_max_bitrate=persona.avatar.bitrate_kbps * 1000,
            video_out_codec="h264" if variant == "h264" else None,
        ),
        simulcast=variant == "before",
    )
    t0 = time.process_time()
    svc = HedraVideoService(persona=persona, portrait=PORTRAIT, settings=settings)
    prepare_s = time.process_time() - t0
    if variant == "before":  # every tick sends, as before
        svc._pacer.skip = lambda *_: False  # type: ignore[method-assign]
    render_cpu = [0.0]
    if video:
        inner = svc.render

        def timed(t: float) -> Any:
            c = time.thread_time()
            try:
                return inner(t)
            finally:
                render_cpu[0] += time.thread_time() - c

        svc.render = timed  # type: ignore[method-assign]
    worker = PipelineWorker(
        Pipeline([svc, transport.output()]),
        params=PipelineParams(audio_out_sample_rate=24000),
        cancel_on_idle_timeout=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    run = asyncio.ensure_future(runner.run())
    await asyncio.sleep(4.0)  # connect, publish, the candidate subscribes
    result: dict[str, Any] = {"prepare_s": prepare_s}
    await worker.queue_frame(TTSStartedFrame())
    await worker.queue_frame(TTSAudioRawFrame(speech_like(seconds + 1.5).tobytes(), 24000, 1))
    await worker.queue_frame(TTSStoppedFrame())
    for phase, lead in (("speaking", 0.5), ("listening", 1.5)):
        await asyncio.sleep(lead)
        a, r0, w0 = _threads(), render_cpu[0], time.monotonic()
        await asyncio.sleep(seconds)
        b, r1, w1 = _threads(), render_cpu[0], time.monotonic()
        result[phase] = _window(a, b, w1 - w0) | {
            "render": (r1 - r0) / (w1 - w0) * 100,
            "t0": w0,
            "t1": w1,
        }
    await worker.queue_frame(EndFrame())
    await asyncio.wait_for(run, 15)
    return result


async def _candidate(lk: dict[str, str]) -> dict[str, Any]:
    from livekit import rtc

    room = rtc.Room()
    frames: list[float] = []
    tasks: list[asyncio.Task[None]] = []

    async def read_video(track: rtc.Track) -> None:
        async for _ in rtc.VideoStream(track):
            frames.append(time.monotonic())

    async def read_audio(track: rtc.Track) -> None:
        async for _ in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
            pass

    def on_track(track: rtc.Track, *_: Any) -> None:
        reader = read_video if track.kind == rtc.TrackKind.KIND_VIDEO else read_audio
        tasks.append(asyncio.ensure_future(reader(track)))

    room.on("track_subscribed", on_track)
    await room.connect(lk["url"], lk["token"])
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await room.disconnect()
    return {"frames": frames}


def _spawn(mode: str, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, mode, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )


def _last_json(out: str) -> dict[str, Any]:
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def run_variant(server: Any, variant: str, seconds: float) -> dict[str, Any]:
    from interview_pipeline.launcher.livekit import mint_token

    room = f"cost-{variant}-{uuid.uuid4().hex[:6]}"

    def env(identity: str) -> dict[str, str]:
        token = mint_token(
            server.credentials, room=room, identity=identity, name=identity, ttl_s=600
        )
        lk = {"url": server.url, "token": token, "room": room}
        return dict(os.environ) | {"AVATAR_COST_LIVEKIT": json.dumps(lk)}

    cand = _spawn("_candidate", env("candidate"))
    assert cand.stdout is not None and cand.stdin is not None
    while (line := cand.stdout.readline()) and not line.startswith("READY"):
        pass
    bot = _spawn("_bot", env("interviewer"), variant, str(seconds))
    bot_out, _ = bot.communicate(timeout=seconds * 2 + 90)
    cand.stdin.write("STOP\n")
    cand.stdin.flush()
    cand_out, _ = cand.communicate(timeout=30)
    r = _last_json(bot_out)
    frames = np.array(_last_json(cand_out).get("frames", []))
    for phase in ("speaking", "listening"):
        if phase in r:
            p = r[phase]
            n = ((frames >= p["t0"]) & (frames <= p["t1"])).sum()
            p["rx_fps"] = float(n / (p["t1"] - p["t0"]))
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", nargs="?", default="run")
    parser.add_argument("args", nargs="*")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--variants", default="voice,before,after")
    parser.add_argument("--av", action="store_true")
    a = parser.parse_args()
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    lk = json.loads(os.environ.get("AVATAR_COST_LIVEKIT", "{}"))
    if a.mode == "_bot":
        print(json.dumps(asyncio.run(_bot(a.args[0], lk, float(a.args[1])))), flush=True)
        return
    if a.mode == "_candidate":
        print(json.dumps(asyncio.run(_candidate(lk))), flush=True)
        return
    from interview_pipeline.config import Settings
    from interview_pipeline.launcher.livekit import LocalLiveKitServer, find_server_binary

    binary = find_server_binary(Settings(_env_file=None))  # type: ignore[call-arg]
    if binary is None:
        sys.exit("livekit-server not found")
    server = LocalLiveKitServer(binary).start()
    try:
        results = {v: run_variant(server, v, a.seconds) for v in a.variants.split(",")}
        voice = results.get("voice", {})
        print(
            f"\nCPU per session, % of one core, {W}x{H}@{FPS} photo portrait ({os.cpu_count()} cores, shared)"
        )
        print(
            f"{'variant':<8} {'phase':<10} {'total':>6} {'added':>6} {'render':>7} {'python':>7} {'encode':>7} {'publish':>8} {'rx fps':>7}"
        )
        for v, r in results.items():
            for phase in ("speaking", "listening"):
                p = r.get(phase)
                if not p:
                    continue
                g = p["groups"]
                base = voice.get(phase, {}).get("total", float("nan"))
                added = p["total"] - base if v != "voice" else 0.0
                print(
                    f"{v:<8} {phase:<10} {p['total']:>6.1f} {added:>6.1f} {p['render']:>7.2f}"
                    f" {g.get('python', 0):>7.1f} {g.get('encode', 0):>7.1f} {g.get('publish', 0):>8.1f}"
                    f" {p.get('rx_fps', 0):>7.1f}"
                )
            if v != "voice":
                print(
                    f"{'':<8} prepare portrait {r.get('prepare_s', 0) * 1000:.0f} ms CPU (landmarks cached); busiest threads {r['speaking']['top']}"
                )
        if a.av:
            print(av_offset(server))
    finally:
        server.stop()


def av_offset(server: Any) -> str:
    import tempfile

    from interview_pipeline.config import Settings, TTSProvider
    from interview_pipeline.personas.loader import PersonaLibrary
    from tests.avatar.livekit_av import measure_av

    offsets: list[float] = []
    fps = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp), tts_provider=TTSProvider.PIPER)  # type: ignore[call-arg]
            persona = PersonaLibrary(settings.personas_dir).load("maya")
            spec = persona.avatar.model_copy(update={"width": W, "height": H, "fps": FPS})
            r = asyncio.run(
                measure_av(
                    server.credentials,
                    persona.model_copy(update={"avatar": spec}),
                    settings,
                    count=10,
                )
            )
        offsets += r.offsets_ms
        fps.append(r.video_fps)
    o = np.abs(offsets)
    return (
        f"\n[A/V offset] receiver side ({len(offsets)} onsets, + = video late): median "
        f"{np.median(offsets):+.0f} ms, max |offset| {o.max():.0f} ms, "
        f"{(o <= 45).mean() * 100:.0f} % within 45 ms; {np.mean(fps):.1f} fps while speaking"
    )


if __name__ == "__main__":
    main()
