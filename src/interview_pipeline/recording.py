"""Recording both sides of the interview to WAV, streamed to disk as it happens.

Placed right after ``transport.output()``: there the candidate's microphone arrives as
``InputAudioRawFrame`` (continuous, silences included) and the interviewer's audio as
``OutputAudioRawFrame`` chunks that the output transport has just handed to the room
(pipecat pushes a chunk downstream only after ``write_audio_frame`` took it).

Both sides are laid on one wall-clock timeline (``time.monotonic`` since ``StartFrame``):
a chunk goes right after the previous chunk of its side, unless the clock has moved on
further than that (a pause), in which case the gap becomes silence. So the files are as
long as the interview and a question asked at minute 3 is heard at minute 3.

Files:

* ``conversation.wav`` — stereo, left = candidate, right = interviewer (``stereo=False``
  gives a mono mix instead). Stereo by default because reviewers and scorers can still
  separate the speakers; any player plays it as one conversation.
* ``interviewer.wav`` — mono, interviewer only, on the same timeline (same length, same
  offsets) so it lines up with the conversation file and the transcript.

Memory stays bounded: audio is kept only until the clock has passed it (plus a short
delay for input jitter), at most ``max_buffer_s`` per side; beyond that it is written
out early. The WAV sizes in the header are rewritten after every second of audio, so a
killed process leaves a valid file that is missing at most about a second.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import soxr
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interview_pipeline.candidate_audio import CandidateAudioTap
from interview_pipeline.wav_appender import WavAppender

Side = Literal["candidate", "interviewer"]

_HEADER_BYTES = 44
_MAX_DATA_BYTES = 0xFFFFFFFF - 36  # RIFF sizes are 32-bit


class _Track:
    """One side's audio that the clock has not yet passed, at absolute sample positions."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        #: Where the next contiguous chunk of this side goes.
        self.cursor = 0
        self.segments: deque[tuple[int, np.ndarray]] = deque()
        self._resampler: soxr.ResampleStream | None = None
        self._in_rate = 0

    @property
    def end(self) -> int:
        return self.segments[-1][0] + len(self.segments[-1][1]) if self.segments else self.cursor

    @property
    def buffered_bytes(self) -> int:
        return sum(seg.nbytes for _, seg in self.segments)

    def resample(self, samples: np.ndarray, in_rate: int) -> np.ndarray:
        """Stream-resample so chunk edges stay click-free (history is kept across chunks)."""
        if in_rate == self.sample_rate:
            return samples
        if self._resampler is None or in_rate != self._in_rate:
            # A rate change mid-run loses the old resampler's few-ms tail; it never
            # happens within one utterance.
            self._resampler = soxr.ResampleStream(
                in_rate, self.sample_rate, 1, dtype="int16", quality="HQ"
            )
            self._in_rate = in_rate
        return np.asarray(self._resampler.resample_chunk(samples), dtype=np.int16)

    def flush_resampler(self) -> np.ndarray:
        """The resampler's held-back tail, which belongs at the end of the last run."""
        if self._resampler is None:
            return np.zeros(0, np.int16)
        tail = np.asarray(
            self._resampler.resample_chunk(np.zeros(0, np.int16), last=True), dtype=np.int16
        )
        self._resampler = None
        return tail

    def place(self, samples: np.ndarray, start: int) -> None:
        if len(samples):
            self.segments.append((start, samples))
            self.cursor = start + len(samples)

    def render(self, a: int, b: int) -> np.ndarray:
        """Samples for ``[a, b)`` (silence where this side had nothing); consumes them."""
        out = np.zeros(b - a, np.int16)
        while self.segments:
            start, seg = self.segments[0]
            stop = start + len(seg)
            if start >= b:
                break
            lo, hi = max(start, a), min(stop, b)
            if hi > lo:
                out[lo - a : hi - a] = seg[lo - start : hi - start]
            if stop <= b:
                self.segments.popleft()
            else:
                self.segments[0] = (b, seg[b - start :])
                break
        return out

    def drop_from(self, pos: int) -> None:
        """Forget audio at or after ``pos`` (queued in the room but never played)."""
        kept: deque[tuple[int, np.ndarray]] = deque()
        for start, seg in self.segments:
            if start < pos:
                kept.append((start, seg[: pos - start]))
        self.segments = kept
        self.cursor = min(self.cursor, pos)
        self._resampler = None


class RecordingTape:
    """Lays both sides on the wall clock and streams the result to the WAV files.

    Separate from the Pipecat processor so the timing rules can be tested with an
    explicit clock. ``now`` values are seconds on any monotonic clock.
    """

    def __init__(
        self,
        path_conversation: Path,
        path_interviewer: Path | None = None,
        sample_rate: int = 16000,
        *,
        stereo: bool = True,
        commit_delay_s: float = 0.2,
        max_buffer_s: float = 1.5,
        gap_tolerance_s: float = 0.1,
    ):
        self.sample_rate = sample_rate
        self.stereo = stereo
        self._delay = int(commit_delay_s * sample_rate)
        self._max_buffer = int(max_buffer_s * sample_rate)
        self._tolerance = int(gap_tolerance_s * sample_rate)
        self._conversation = WavAppender(path_conversation, sample_rate, 2 if stereo else 1)
        self._interviewer = (
            WavAppender(path_interviewer, sample_rate, 1) if path_interviewer else None
        )
        self._tracks: dict[Side, _Track] = {
            "candidate": _Track(sample_rate),
            "interviewer": _Track(sample_rate),
        }
        self._t0: float | None = None
        #: Samples the timeline runs ahead of the wall clock (see ``_commit``).
        self._ahead = 0
        #: Samples already on disk; nothing can be placed before this.
        self.written = 0
        self.closed = False

    @property
    def buffered_bytes(self) -> int:
        """Audio held in memory (the bound the recorder promises to keep)."""
        return sum(t.buffered_bytes for t in self._tracks.values())

    @property
    def ahead_s(self) -> float:
        """How far the recording had to run ahead of the wall clock (0 when paced)."""
        return self._ahead / self.sample_rate

    def start(self, now: float) -> None:
        if self._t0 is None:
            self._t0 = now

    def _pos(self, now: float) -> int:
        self.start(now)
        assert self._t0 is not None
        return max(0, round((now - self._t0) * self.sample_rate)) + self._ahead

    def add(
        self,
        side: Side,
        pcm: bytes,
        sample_rate: int,
        num_channels: int,
        now: float,
        *,
        ends_now: bool = False,
    ) -> None:
        """Place one chunk. ``ends_now``: the chunk was captured up to ``now`` (mic input)
        rather than starting to play at ``now`` (output just handed to the room)."""
        if self.closed or not pcm:
            return
        raw = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2")
        if num_channels > 1:
            raw = raw[: len(raw) - len(raw) % num_channels].reshape(-1, num_channels)
            raw = raw.mean(axis=1).astype(np.int16)
        track = self._tracks[side]
        duration = round(len(raw) * self.sample_rate / sample_rate)
        expected = self._pos(now) - (duration if ends_now else 0)
        if expected - track.cursor > self._tolerance:
            # A pause: the previous run's resampler tail ends it, then silence until now.
            track.place(track.flush_resampler(), max(track.cursor, self.written))
            start = max(expected, track.cursor)
        else:
            start = track.cursor
        samples = track.resample(raw, sample_rate)
        track.place(samples, max(start, self.written))
        self._commit(now)

    def interrupt(self, now: float) -> None:
        """The candidate barged in: interviewer audio the clock has not reached was
        still queued in the transport, which drops it, so the recording drops it too."""
        if not self.closed:
            self._tracks["interviewer"].drop_from(max(self._pos(now), self.written))

    def _commit(self, now: float, *, final: bool = False) -> None:
        target = self._pos(now) - self._delay
        for track in self._tracks.values():
            if track.cursor <= target or final:
                # Idle side: its resampler tail can go out before the clock passes it.
                track.place(track.flush_resampler(), max(track.cursor, self.written))
            if final:
                target = max(target, track.end, self._pos(now))
            elif track.end - self.written > self._max_buffer:
                target = max(target, track.end - self._max_buffer)
        if not final and target > self._pos(now) - self._delay:
            # Audio is arriving faster than real time (a transport that does not pace
            # playback). Writing it early keeps memory bounded; the whole timeline moves
            # ahead with it so the other side stays aligned instead of falling behind.
            self._ahead += target - (self._pos(now) - self._delay)
        block = self.sample_rate  # write in one-second blocks: long pauses never allocate much
        while self.written < target:
            b = min(target, self.written + block)
            cand = self._tracks["candidate"].render(self.written, b)
            intv = self._tracks["interviewer"].render(self.written, b)
            if self.stereo:
                self._conversation.write(np.column_stack((cand, intv)))
            else:
                mixed = cand.astype(np.int32) + intv.astype(np.int32)
                self._conversation.write(np.clip(mixed, -32768, 32767).astype(np.int16))
            if self._interviewer is not None:
                self._interviewer.write(intv)
            self.written = b

    def close(self, now: float) -> None:
        """Write everything still held (up to ``now`` at least) and finalise the headers."""
        if self.closed:
            return
        try:
            self._commit(now, final=True)
        finally:
            self.closed = True
            self._conversation.close()
            if self._interviewer is not None:
                self._interviewer.close()


class ConversationRecorder(FrameProcessor):
    """Records the interview; put it right after ``transport.output()``.

    Recording trouble (a full disk) is logged and stops the recording, never the
    interview. Frames always pass through unchanged.
    """

    def __init__(
        self,
        path_conversation: Path,
        path_interviewer: Path | None = None,
        sample_rate: int = 16000,
        *,
        stereo: bool = True,
        max_buffer_s: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: object,
    ):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock
        self._tapped = False
        self._tape = RecordingTape(
            path_conversation,
            path_interviewer,
            sample_rate,
            stereo=stereo,
            max_buffer_s=max_buffer_s,
        )

    @property
    def tape(self) -> RecordingTape:
        return self._tape

    def candidate_tap(self) -> CandidateAudioTap:
        """A processor for right after ``transport.input()``: from then on the candidate's
        audio is recorded there, so it need not travel the whole pipeline to reach us."""
        self._tapped = True
        return CandidateAudioTap(lambda frame: self._safely(frame, FrameDirection.DOWNSTREAM))

    def _handle(self, frame: Frame, direction: FrameDirection, now: float) -> None:
        tape = self._tape
        downstream = direction is FrameDirection.DOWNSTREAM
        if isinstance(frame, StartFrame):
            tape.start(now)
        elif downstream and isinstance(frame, InputAudioRawFrame):
            tape.add(
                "candidate", frame.audio, frame.sample_rate, frame.num_channels, now, ends_now=True
            )
        elif downstream and isinstance(frame, OutputAudioRawFrame):
            tape.add("interviewer", frame.audio, frame.sample_rate, frame.num_channels, now)
        elif isinstance(frame, InterruptionFrame):
            tape.interrupt(now)
        elif isinstance(frame, (EndFrame, CancelFrame)):
            tape.close(now)

    def _safely(self, frame: Frame | None, direction: FrameDirection) -> None:
        if self._tape.closed:
            return
        now = self._clock()
        try:
            if frame is None:
                self._tape.close(now)
            else:
                self._handle(frame, direction, now)
        except (OSError, ValueError) as exc:
            logger.error(f"{self}: recording stopped: {exc}")
            try:
                self._tape.close(now)
            except (OSError, ValueError):
                self._tape.closed = True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not (self._tapped and isinstance(frame, InputAudioRawFrame)):
            self._safely(frame, direction)
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await super().cleanup()
        self._safely(None, FrameDirection.DOWNSTREAM)
