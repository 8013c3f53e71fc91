"""A stand-in bot with the real ``run_bot`` contract, for launcher tests that are not about speech.

It joins the room for real (livekit rtc), reports the same statuses, publishes a short tone as
its "greeting" when the candidate arrives, writes turns to the sink, and honours ``stop``. The
candidate's name picks a misbehaviour so tests can exercise failure paths:
``crash`` (process dies after joining), ``raise`` (run_bot raises), ``deaf`` (ignores stop).
"""

from __future__ import annotations

import asyncio
import os
import time

import numpy as np
from livekit import rtc

from interview_pipeline.transcript import Turn

RATE = 48000


def prewarm(settings: object) -> None:
    time.sleep(float(os.environ.get("FAKEBOT_PREWARM_S", "0.3")))


async def _tone(source: rtc.AudioSource, seconds: float) -> None:
    samples = int(RATE * seconds)
    t = np.arange(samples) / RATE
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    step = RATE // 100
    for i in range(0, samples, step):
        chunk = pcm[i : i + step]
        frame = rtc.AudioFrame(chunk.tobytes(), RATE, 1, len(chunk))
        await source.capture_frame(frame)


async def run_bot(
    settings,
    persona,
    *,
    room_name: str,
    token: str,
    candidate_name: str,
    sink,
    on_status=None,
    stop: asyncio.Event | None = None,
) -> str:
    stop = stop or asyncio.Event()
    status = on_status or (lambda s, d=None: None)
    if candidate_name == "raise":
        raise RuntimeError("scripted failure before joining")
    room = rtc.Room()
    candidate_here = asyncio.Event()
    candidate_left = asyncio.Event()
    room.on("participant_connected", lambda p: candidate_here.set())
    room.on("participant_disconnected", lambda p: candidate_left.set())
    await room.connect(settings.livekit_url, token)
    try:
        source = rtc.AudioSource(RATE, 1)
        track = rtc.LocalAudioTrack.create_audio_track("interviewer-audio", source)
        await room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        status("waiting_for_candidate", None)
        if candidate_name == "crash":
            os._exit(7)
        if room.remote_participants:
            candidate_here.set()
        waiter = asyncio.ensure_future(candidate_here.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not candidate_here.is_set():
            return "abandoned"
        status("in_progress", None)
        start = time.monotonic()
        sink.append(Turn("interviewer", f"Hello {candidate_name}.", 0.0, 0.5, kind="opening"))
        await _tone(source, 0.5)
        left = asyncio.ensure_future(candidate_left.wait())
        while True:
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({left, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if candidate_left.is_set():
                return "abandoned"
            if candidate_name == "deaf":
                stop.clear()
                await asyncio.sleep(0.1)
                continue
            break
        now = time.monotonic() - start
        sink.append(Turn("interviewer", "Thank you, goodbye.", now, now + 0.3, kind="closing"))
        await _tone(source, 0.3)
        return "completed"
    finally:
        await room.disconnect()
