"""MP4 in and out (PyAV): clip audio and frames for playback, talking-head MP4s for the fake.

Decoding a clip's video runs on a thread that stays a few frames ahead of playback, so a
session never holds a whole clip in memory (a 5 s clip at 512×512 would be ~100 MB raw).
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import soxr
from loguru import logger


def decode_audio(source: Path | bytes, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """The first audio track (MP4, WAV, ...) as mono int16, resampled to ``sample_rate``."""
    chunks: list[np.ndarray] = []
    rate = 0
    src = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with av.open(src, mode="r") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono")
        for frame in container.decode(stream):
            rate = frame.sample_rate
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    pcm = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)
    if sample_rate and rate and sample_rate != rate:
        pcm = soxr.resample(pcm, rate, sample_rate).astype(np.int16)
        rate = sample_rate
    return pcm, rate


def _cover(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """Scale (swscale) to cover width×height, then crop the centre: same rule as portraits."""
    scale = max(width / frame.width, height / frame.height)
    sw, sh = max(width, round(frame.width * scale)), max(height, round(frame.height * scale))
    arr = frame.to_ndarray(width=sw, height=sh, format="rgb24")
    x0, y0 = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(arr[y0 : y0 + height, x0 : x0 + width])


class ClipVideoReader:
    """Frames of a clip, decoded on a thread just ahead of playback.

    ``frame_at(offset)`` is called once per output video frame with a non-decreasing offset
    (seconds since the clip's audio started); it returns the clip frame on screen at that
    offset, or None when decoding has not got there yet (the caller falls back to local).
    """

    def __init__(self, path: Path, width: int, height: int, *, ahead: int = 6) -> None:
        self.path = path
        self.width, self.height = width, height
        self._queue: queue.Queue[tuple[float, np.ndarray] | None] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._current: tuple[float, np.ndarray] | None = None
        self._next: tuple[float, np.ndarray] | None = None
        self._done = False
        self.duration = 0.0
        self._thread = threading.Thread(target=self._run, name="clip-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with av.open(str(self.path), mode="r") as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                origin: float | None = None
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    t = float(frame.time or 0.0)
                    origin = t if origin is None else origin
                    item = (t - origin, _cover(frame, self.width, self.height))
                    while not self._stop.is_set():
                        try:
                            self._queue.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
        except Exception as exc:  # a corrupt clip must not break the interview
            logger.warning(f"clip {self.path.name}: video decode failed: {exc}")
        finally:
            while not self._stop.is_set():
                try:
                    self._queue.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def frame_at(self, offset: float) -> np.ndarray | None:
        if self._stop.is_set():
            return None
        while not self._done:
            if self._next is None:
                try:
                    self._next = self._queue.get_nowait()
                except queue.Empty:
                    break
                if self._next is None:
                    self._done = True
                    break
            if self._next[0] <= offset + 1e-3:
                self._current, self._next = self._next, None
            else:
                break
        return self._current[1] if self._current is not None else None

    def wait_first(self, timeout: float) -> bool:
        """Block until the first frame is decoded (used off the event loop, in a thread)."""
        try:
            self._next = self._queue.get(timeout=timeout) if self._next is None else self._next
        except queue.Empty:
            return False
        if self._next is None:
            self._done = True
            return False
        return True

    def close(self) -> None:
        self._stop.set()


def write_mp4(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int,
    pcm: np.ndarray,
    sample_rate: int,
) -> None:
    """Encode RGB frames (H.264) and mono int16 audio (AAC) into an MP4."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "23"}
        audio = out.add_stream("aac", rate=sample_rate)
        audio.layout = "mono"
        first = True
        for arr in frames:
            if first:
                video.height, video.width = arr.shape[:2]
                first = False
            for packet in video.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        step = sample_rate  # one second per frame keeps AAC's internal FIFO happy
        for i in range(0, len(pcm), step):
            chunk = np.ascontiguousarray(pcm[i : i + step].astype(np.int16).reshape(1, -1))
            aframe = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            aframe.sample_rate = sample_rate
            aframe.pts = i
            for packet in audio.encode(aframe):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)


def wav_bytes(pcm: np.ndarray, sample_rate: int) -> bytes:
    """A mono 16-bit WAV file in memory."""
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(pcm.astype(np.int16)).tobytes())
    return buf.getvalue()
