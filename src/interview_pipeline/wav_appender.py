"""A WAV file that can be read while it is still being written (recordings, live review)."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
from loguru import logger

_HEADER_BYTES = 44
_MAX_DATA_BYTES = 0xFFFFFFFF - 36  # RIFF sizes are 32-bit


class WavAppender:
    """A 16-bit PCM WAV file that is appended to and stays valid while it grows.

    The ``wave`` module and libsndfile only write the final sizes on close; a crash
    would leave a header claiming zero bytes of audio. Here the two size fields are
    rewritten every ``header_every_s`` seconds of audio and the file is flushed, so
    at any moment the on-disk header covers all but the last moments of audio.
    """

    def __init__(self, path: Path, sample_rate: int, channels: int, header_every_s: float = 1.0):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self._frame_bytes = 2 * channels
        self._header_every = max(1, int(header_every_s * sample_rate)) * self._frame_bytes
        self._fh: BinaryIO | None = path.open("wb")
        self._data_bytes = 0
        self._synced_bytes = 0
        self._full = False
        self._fh.write(self._header(0))
        self._fh.flush()

    @property
    def frames_written(self) -> int:
        return self._data_bytes // self._frame_bytes

    def _header(self, data_bytes: int) -> bytes:
        rate, ch = self.sample_rate, self.channels
        return b"".join(
            (
                b"RIFF",
                struct.pack("<I", 36 + data_bytes),
                b"WAVEfmt ",
                struct.pack("<IHHIIHH", 16, 1, ch, rate, rate * 2 * ch, 2 * ch, 16),
                b"data",
                struct.pack("<I", data_bytes),
            )
        )

    def write(self, pcm: np.ndarray) -> None:
        """Append int16 samples shaped ``(frames,)`` or ``(frames, channels)``."""
        if self._fh is None or self._full:
            return
        data = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
        if self._data_bytes + len(data) > _MAX_DATA_BYTES:
            logger.warning(f"{self.path}: WAV size limit reached, recording stops here")
            self._full = True
            return
        self._fh.write(data)
        self._data_bytes += len(data)
        if self._data_bytes - self._synced_bytes >= self._header_every:
            self.sync_header()

    def sync_header(self) -> None:
        """Write the current sizes into the header and hand everything to the OS."""
        if self._fh is None:
            return
        self._fh.flush()
        self._fh.seek(0)
        self._fh.write(self._header(self._data_bytes))
        self._fh.seek(0, os.SEEK_END)
        self._fh.flush()
        self._synced_bytes = self._data_bytes

    def close(self) -> None:
        if self._fh is None:
            return
        self.sync_header()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
