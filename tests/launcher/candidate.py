"""A scripted candidate on the LiveKit Python SDK: joins, listens, speaks recorded answers.

Used by the end-to-end test and by bench/launcher.py. The microphone track carries silence
between answers (a real mic never stops sending frames, and the bot's VAD needs the trailing
silence to notice the end of an answer). What the interviewer says is cut into utterances by
energy, with the time each one started, so tests can say "greeting arrived", "next question".
"""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from livekit import rtc

THRESHOLD = 0.01  # RMS of float samples: well above the codec's comfort noise
GAP_S = 0.7  # silence that ends an utterance
#: A silent stretch inside an utterance at least this long is counted as a gap (an underrun
#: when the interviewer's audio is a continuous tone, as in bench/launcher.py).
MIN_GAP_S = 0.06


@dataclass
class Utterance:
    start: float
    end: float


@dataclass
class SimulatedCandidate:
    url: str
    token: str
    #: 48 kHz / 10 ms is what a browser sends; benches use 16 kHz / 20 ms to spare the CPU.
    rate: int = 48000
    frame_ms: int = 10
    room: rtc.Room = field(default_factory=rtc.Room)
    utterances: list[Utterance] = field(default_factory=list)
    #: Silent stretches (s) inside utterances, MIN_GAP_S <= gap < GAP_S, in the audio itself:
    #: what a listener hears as a dropout (an underrun when the interviewer speaks a tone).
    gaps: list[float] = field(default_factory=list)
    #: Pauses of the same length between frames *arriving here*, although the audio itself
    #: has none: this process (not the bot) fell behind.
    stalls: list[float] = field(default_factory=list)
    joined_at: float | None = None
    interviewer_track_at: float | None = None
    #: When the interviewer's camera track (the avatar) was received, and its size.
    video_track_at: float | None = None
    #: When the first interviewer audio frame (even a silent one) arrived.
    first_frame_at: float | None = None
    _pending: list[np.ndarray] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _sent: asyncio.Event = field(default_factory=asyncio.Event)
    _heard: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def join(self) -> None:
        self.room.on("track_subscribed", self._on_track)
        await self.room.connect(self.url, self.token)
        self.joined_at = time.monotonic()
        self.frame = self.rate * self.frame_ms // 1000
        self.source = rtc.AudioSource(self.rate, 1)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", self.source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._tasks.append(asyncio.ensure_future(self._mic()))
        for participant in self.room.remote_participants.values():
            for pub in participant.track_publications.values():
                if pub.track is not None:
                    self._on_track(pub.track, pub, participant)

    def _on_track(self, track: rtc.Track, pub: object, participant: rtc.RemoteParticipant) -> None:
        if track.kind == rtc.TrackKind.KIND_VIDEO and self.video_track_at is None:
            self.video_track_at = time.monotonic()
        if track.kind == rtc.TrackKind.KIND_AUDIO and self.interviewer_track_at is None:
            self.interviewer_track_at = time.monotonic()
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _listen(self, track: rtc.Track) -> None:
        """Cut the interviewer's audio into utterances, on the audio's own clock.

        LiveKit plays the track out in real time and queues every frame for us, so frame k
        was produced at ``anchor + k * frame``; ``anchor`` is the earliest that fits every
        arrival. Times and gaps then come from the audio, not from when this (busy, shared)
        process got round to reading it.
        """
        stream = rtc.AudioStream(
            track, sample_rate=self.rate, num_channels=1, frame_size_ms=self.frame_ms
        )
        current: Utterance | None = None
        step = self.frame_ms / 1000
        anchor = float("inf")
        last_arrival: float | None = None
        k = 0
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32) / 32768
            arrival = time.monotonic()
            anchor = min(anchor, arrival - k * step)
            now = anchor + k * step
            k += 1
            if self.first_frame_at is None:
                self.first_frame_at = arrival
            loud = samples.size and float(np.sqrt(np.mean(samples**2))) > THRESHOLD
            if current is not None and last_arrival is not None and now - current.end < GAP_S:
                if arrival - last_arrival > MIN_GAP_S + step:
                    self.stalls.append(arrival - last_arrival - step)
            last_arrival = arrival
            if loud:
                if current is None or now - current.end > GAP_S:
                    current = Utterance(now, now)
                    self.utterances.append(current)
                    async with self._heard:
                        self._heard.notify_all()
                elif now - current.end > MIN_GAP_S + step:
                    self.gaps.append(now - current.end - step)
                current.end = now

    async def _mic(self) -> None:
        """Real-time 10 ms frames: queued answer audio, else silence."""
        silence = np.zeros(self.frame, dtype=np.int16)
        next_at = time.monotonic()
        while True:
            chunk = self._pending.pop(0) if self._pending else silence
            if not self._pending:
                self._sent.set()
            frame = rtc.AudioFrame(chunk.tobytes(), self.rate, 1, len(chunk))
            await self.source.capture_frame(frame)
            next_at += len(chunk) / self.rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def say(self, wav: Path) -> float:
        """Speak a recorded answer in real time; returns when its last sample is sent (monotonic)."""
        pcm = read_wav(wav, self.rate)
        for i in range(0, len(pcm), self.frame):
            chunk = pcm[i : i + self.frame]
            if len(chunk) < self.frame:
                chunk = np.pad(chunk, (0, self.frame - len(chunk)))
            self._pending.append(chunk)
        self._sent.clear()
        await self._sent.wait()
        # The last frames may still wait in the source's queue (when this process fell behind
        # and caught up in a burst): the answer ends when they have played out.
        return time.monotonic() + self.source.queued_duration

    async def wait_utterance(self, after: float, timeout_s: float) -> Utterance:
        """The first interviewer utterance that starts after ``after`` (monotonic)."""
        deadline = time.monotonic() + timeout_s

        def found() -> Utterance | None:
            return next((u for u in self.utterances if u.start > after), None)

        async with self._heard:
            while (u := found()) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no interviewer audio within {timeout_s:.0f} s")
                try:
                    await asyncio.wait_for(self._heard.wait(), remaining)
                except TimeoutError:
                    continue
        return u

    async def wait_quiet(self, quiet_s: float = 1.0, timeout_s: float = 30.0) -> None:
        """Until the interviewer has been silent for ``quiet_s`` (finished their line)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            last = self.utterances[-1].end if self.utterances else 0.0
            if time.monotonic() - last >= quiet_s:
                return
            await asyncio.sleep(0.05)

    async def leave(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.room.disconnect()


def read_wav(path: Path, rate: int) -> np.ndarray:
    """Mono int16 at ``rate`` (the fixtures are 16 kHz mono)."""
    with wave.open(str(path), "rb") as w:
        wav_rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    if channels > 1:
        pcm = pcm.reshape(-1, channels)[:, 0]
    if wav_rate != rate:
        import soxr

        pcm = soxr.resample(pcm, wav_rate, rate).astype(np.int16)
    return pcm
