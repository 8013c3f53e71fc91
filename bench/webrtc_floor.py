"""The least a voice session can cost on this machine: bare LiveKit participants, no pipecat.

Each "session" here is what any interview needs at the very least: a bot process that publishes
a microphone-like audio track continuously and receives the candidate's, and a candidate that
does the same, both through the LiveKit Python SDK (the same native WebRTC stack the bots and
the simulated candidates use), in one room on the local livekit-server. Nothing else runs: no
pipeline, no VAD, no STT. Whatever CPU this takes is a floor under bench/launcher.py's load
section, so it says how many sessions two cores could ever hold with both ends on one machine.

    python bench/webrtc_floor.py --steps 4,8,16 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from livekit import rtc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from launcher import cpu_seconds, machine_busy  # noqa: E402

from interview_pipeline.config import Settings  # noqa: E402
from interview_pipeline.launcher.livekit import (  # noqa: E402
    LocalLiveKitServer,
    find_server_binary,
    mint_token,
)

RATE = 16000
FRAME_MS = 20  # --frame-ms: size of the frames published and read in Python


async def participant(url: str, token: str, stop: asyncio.Event) -> None:
    """Publish a tone in real time and drain every audio track it is sent."""
    room = rtc.Room()
    tasks: list[asyncio.Task[None]] = []

    async def drain(track: rtc.Track) -> None:
        stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1, frame_size_ms=FRAME_MS)
        async for _ in stream:
            pass

    def on_track(track: rtc.Track, *_: object) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            tasks.append(asyncio.ensure_future(drain(track)))

    room.on("track_subscribed", on_track)
    await room.connect(url, token)
    source = rtc.AudioSource(RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
    await room.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    )
    n = RATE * FRAME_MS // 1000
    t = np.arange(n) / RATE
    frame = rtc.AudioFrame(
        (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes(), RATE, 1, n
    )
    next_at = time.monotonic()
    while not stop.is_set():
        await source.capture_frame(frame)
        next_at += FRAME_MS / 1000
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    for task in tasks:
        task.cancel()
    await room.disconnect()


def run_bot(url: str, token: str, seconds: float) -> None:
    """A bot stand-in in its own process, as every real bot is."""

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await participant(url, token, stop)

    asyncio.run(main())
    os._exit(0)


async def step(lk: LocalLiveKitServer, n: int, seconds: float) -> None:
    creds = lk.credentials
    bots = []
    for i in range(n):
        token = mint_token(creds, room=f"floor-{n}-{i}", identity="bot", name="bot", ttl_s=600)
        bots.append(
            await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--bot", lk.url, token, str(seconds + 8), str(FRAME_MS)
            )
        )
    await asyncio.sleep(3.0)  # bots joined and publishing
    stop = asyncio.Event()
    candidates = [
        asyncio.ensure_future(
            participant(
                lk.url,
                mint_token(creds, room=f"floor-{n}-{i}", identity="cand", name="c", ttl_s=600),
                stop,
            )
        )
        for i in range(n)
    ]
    await asyncio.sleep(3.0)  # everyone subscribed
    busy0, total0 = machine_busy()
    me0 = cpu_seconds(os.getpid())
    bots0 = [cpu_seconds(b.pid) for b in bots]
    server0 = cpu_seconds(lk.proc.pid) if lk.proc else 0.0
    await asyncio.sleep(seconds)
    busy1, total1 = machine_busy()
    wall = (total1 - total0) / (os.cpu_count() or 1) / os.sysconf("SC_CLK_TCK")
    bot_cores = sorted((cpu_seconds(b.pid) - c0) / wall for b, c0 in zip(bots, bots0, strict=True))
    cand_cores = (cpu_seconds(os.getpid()) - me0) / wall / n
    server = ((cpu_seconds(lk.proc.pid) if lk.proc else 0.0) - server0) / wall
    machine = (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)
    stop.set()
    await asyncio.gather(*candidates, return_exceptions=True)
    for b in bots:
        await b.wait()
    print(
        f"N={n:>3} sessions: machine {machine:.2f} of {os.cpu_count()} cores = "
        f"{machine / n:.3f} per session; bare bot process {bot_cores[len(bot_cores) // 2]:.3f}, "
        f"bare candidate {cand_cores:.3f}, livekit-server {server / n:.3f} per session",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    binary = find_server_binary(Settings(_env_file=None))  # type: ignore[call-arg]
    if binary is None:
        sys.exit("livekit-server binary not found")
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        with LocalLiveKitServer(binary, log_path=Path(tmp) / "livekit.log") as lk:
            print(
                f"machine: {os.cpu_count()} cores; {args.seconds:.0f} s per step; "
                f"{FRAME_MS} ms frames"
            )
            for n in [int(s) for s in args.steps.split(",")]:
                await step(lk, n, args.seconds)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--bot":
        FRAME_MS = int(sys.argv[5])
        run_bot(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="4,8,16")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--frame-ms", type=int, default=FRAME_MS)
    arguments = parser.parse_args()
    FRAME_MS = arguments.frame_ms
    asyncio.run(main(arguments))
