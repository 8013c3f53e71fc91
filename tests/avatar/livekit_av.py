"""Measure the avatar in a real LiveKit room, from the receiving side.

A bot pipeline (``HedraVideoService`` → ``LiveKitTransport.output()``, wired as the lead wires
it) plays syllable-like tone pulses; a candidate on the LiveKit Python SDK subscribes to both
tracks and timestamps, on arrival, every 10 ms of audio and every video frame. The audio
onset of each pulse is paired with the first video frame whose mouth is open; their
difference is the A/V offset (positive: video late). Shared by tests/avatar and bench/.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from livekit import rtc
from pipecat.frames.frames import (
    AggregatedTextFrame,
    EndFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.transports.livekit.transport import LiveKitParams
from pipecat.workers.runner import WorkerRunner

from interview_pipeline.avatar import HedraVideoService
from interview_pipeline.avatar.clips import ClipCache, ClipLibrary, voice_key
from interview_pipeline.avatar.face import DEFAULT_LAYOUT, pixel_digest, prepare_portrait
from interview_pipeline.config import Settings
from interview_pipeline.fakes.hedra import output_size, render_talking_mp4
from interview_pipeline.launcher.livekit import LiveKitCredentials, mint_token
from interview_pipeline.personas.schema import Persona
from interview_pipeline.transports.livekit import InterviewLiveKitTransport

RATE = 24000


def pulses(count: int, on_s: float = 0.3, period_s: float = 1.0) -> np.ndarray:
    """Voiced tone bursts with sharp onsets, separated by silence."""
    t = np.arange(int(on_s * RATE)) / RATE
    burst = sum(np.sin(2 * np.pi * 170 * k * t) / k for k in (1, 2, 3))
    burst = (burst / np.abs(burst).max() * 0.6 * 32767).astype(np.int16)
    one = np.concatenate([burst, np.zeros(int((period_s - on_s) * RATE), np.int16)])
    return np.tile(one, count)


@dataclass
class Received:
    audio: list[tuple[float, float]] = field(default_factory=list)  # (arrival, rms)
    video: list[tuple[float, float]] = field(default_factory=list)  # (arrival, mouth darkness)
    video_size: tuple[int, int] | None = None
    tracks: set[str] = field(default_factory=set)


@dataclass
class AvResult:
    offsets_ms: list[float]
    video_fps: float
    video_size: tuple[int, int] | None
    frames: int
    tracks: set[str]
    received: Received | None = None

    @property
    def median_ms(self) -> float:
        return float(np.median(self.offsets_ms)) if self.offsets_ms else float("nan")


def _onsets(
    samples: list[tuple[float, float]], threshold: float, quiet_s: float = 0.3
) -> list[float]:
    out, last_loud = [], -1e9
    for t, v in samples:
        if v > threshold:
            if t - last_loud > quiet_s:
                out.append(t)
            last_loud = t
    return out


async def _read_audio(track: rtc.Track, rx: Received) -> None:
    async for event in rtc.AudioStream(track, sample_rate=48000, num_channels=1):
        now = time.monotonic()
        data = np.frombuffer(event.frame.data, np.int16).astype(np.float32) / 32768
        rx.audio.append((now, float(np.sqrt((data**2).mean())) if len(data) else 0.0))


async def _read_video(track: rtc.Track, rx: Received) -> None:
    lay = DEFAULT_LAYOUT
    async for event in rtc.VideoStream(track):
        now = time.monotonic()
        frame = event.frame.convert(rtc.VideoBufferType.RGB24)
        w, h = frame.width, frame.height
        rx.video_size = (w, h)
        rgb = np.frombuffer(frame.data, np.uint8).reshape(h, w, 3)
        cx, cy = int(lay.mouth[0] * w), int(lay.mouth[1] * h)
        half = int(lay.mouth_width * w * 0.5)
        crop = rgb[cy - half // 3 : cy + half // 2, cx - half : cx + half]
        rx.video.append((now, float((crop.mean(axis=2) < 80).mean())))


async def measure_av(
    creds: LiveKitCredentials,
    persona: Persona,
    settings: Settings,
    *,
    count: int = 10,
    direct: bool = True,
    live: bool = True,
    max_bitrate: int | None = 800_000,
    video_lead_s: float | None = None,
    clip_text: str | None = None,
) -> AvResult:
    """Offsets of ``count`` pulses; with ``clip_text`` (persona renderer ``hedra``) the pulses
    are first rendered into a cached clip for that sentence, so what plays is the clip."""
    if clip_text is not None:
        cache_clip(persona, settings, clip_text, pulses(count))
    room_name = f"av-{uuid.uuid4().hex[:8]}"
    rx = Received()
    candidate = rtc.Room()
    tasks: list[asyncio.Task[None]] = []

    def on_track(track: rtc.Track, *_: Any) -> None:
        rx.tracks.add(track.kind and rtc.TrackKind.Name(track.kind))
        reader = _read_video if track.kind == rtc.TrackKind.KIND_VIDEO else _read_audio
        tasks.append(asyncio.ensure_future(reader(track, rx)))

    candidate.on("track_subscribed", on_track)
    await candidate.connect(
        creds.url,
        mint_token(creds, room=room_name, identity="candidate", name="Candidate", ttl_s=600),
    )
    spec = persona.avatar
    transport = InterviewLiveKitTransport(
        creds.url,
        mint_token(creds, room=room_name, identity="interviewer", name="Interviewer", ttl_s=600),
        room_name,
        params=LiveKitParams(
            audio_out_enabled=True,
            video_out_enabled=True,
            video_out_is_live=live,
            video_out_width=spec.width,
            video_out_height=spec.height,
            video_out_framerate=spec.fps,
            video_out_max_bitrate=max_bitrate,
        ),
    )
    svc = HedraVideoService(
        persona=persona,
        portrait=None,
        settings=settings,
        find_video_out=direct,  # found downstream, as in production (no explicit wiring)
        video_lead_s=video_lead_s,
    )
    worker = PipelineWorker(
        Pipeline([svc, transport.output()]),
        params=PipelineParams(audio_out_sample_rate=48000),
        cancel_on_idle_timeout=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    run = asyncio.ensure_future(_run(runner, worker))
    try:
        deadline = time.monotonic() + 20
        while len(rx.tracks) < 2 or len(rx.video) < 10:
            if time.monotonic() > deadline:
                raise TimeoutError(f"candidate got tracks {rx.tracks}, {len(rx.video)} frames")
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        if clip_text is not None:
            agg = AggregatedTextFrame(clip_text, text_type="sentence")
            agg.will_be_spoken = True
            await worker.queue_frame(agg)
        await worker.queue_frame(TTSStartedFrame())
        await worker.queue_frame(TTSAudioRawFrame(pulses(count).tobytes(), RATE, 1))
        if clip_text is not None:
            await worker.queue_frame(TTSTextFrame(clip_text, text_type="sentence"))
        await worker.queue_frame(TTSStoppedFrame())
        await asyncio.sleep(count * 1.0 + 1.5)
    finally:
        await worker.queue_frame(EndFrame())
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 10)
        for task in tasks:
            task.cancel()
        await candidate.disconnect()
    return _analyse(rx, spec.fps)


def cache_clip(persona: Persona, settings: Settings, text: str, audio: np.ndarray) -> None:
    """Put a clip of ``audio`` for ``text`` in the cache, as ``personas render`` would."""
    spec = persona.avatar
    image = prepare_portrait(None, spec.width, spec.height, persona.id)
    library = ClipLibrary(
        ClipCache(settings.resolved_clip_cache_dir()),
        voice=voice_key(persona, "piper"),
        portrait_digest=pixel_digest(image),
        width=spec.width,
        height=spec.height,
    )
    size = output_size(library.aspect_ratio, library.resolution)
    library.cache.store(library.spec(text), render_talking_mp4(image, audio, RATE, size))


async def _run(runner: WorkerRunner, worker: PipelineWorker) -> None:
    await runner.add_workers(worker)
    await runner.run()


def _analyse(rx: Received, fps: int) -> AvResult:
    darkness = np.array([v for _, v in rx.video]) if rx.video else np.zeros(1)
    closed, opened = np.percentile(darkness, 10), np.percentile(darkness, 98)
    video_on = _onsets(rx.video, closed + 0.3 * (opened - closed))
    audio_on = _onsets(rx.audio, 0.05)
    offsets = []
    for a in audio_on:
        near = [v for v in video_on if abs(v - a) < 0.3]
        if near:
            offsets.append((min(near, key=lambda v: abs(v - a)) - a) * 1000)
    # The frame rate while speaking: from the first sound to the last (idle runs at half).
    times = [t for t, _ in rx.video]
    if len(audio_on) > 1:
        times = [t for t in times if audio_on[0] <= t <= audio_on[-1] + 0.3] or times
    span = times[-1] - times[0] if len(times) > 1 else 1.0
    return AvResult(offsets, (len(times) - 1) / span, rx.video_size, len(rx.video), rx.tracks, rx)
