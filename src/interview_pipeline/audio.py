"""Loading candidate audio for replay: any WAV in, 16 kHz mono int16 out.

Stereo and 48 kHz recordings are normal (phones, browsers), so they are converted, not
rejected; what cannot be played (missing, not audio, empty, silent) is a clear error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

REPLAY_RATE = 16000


class AudioInputError(Exception):
    """A candidate recording that cannot be replayed; the message names the file."""


def load_pcm16(path: Path, rate: int = REPLAY_RATE) -> np.ndarray:
    """Mono int16 samples at ``rate`` (mixes channels down, resamples with soxr)."""
    if not path.is_file():
        raise AudioInputError(f"{path}: file not found")
    try:
        data, source_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioInputError(f"{path}: not a readable audio file ({exc})") from None
    if data.shape[0] == 0:
        raise AudioInputError(f"{path}: the recording is empty (0 samples)")
    mono = data.mean(axis=1)
    if source_rate != rate:
        mono = soxr.resample(mono, source_rate, rate)
    if not np.any(np.abs(mono) > 1e-4):
        raise AudioInputError(f"{path}: the recording is silent")
    return (np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


def speech_end_s(pcm: np.ndarray, rate: int = REPLAY_RATE, threshold_db: float = -40.0) -> float:
    """Where speech ends (seconds): the end of the last 20 ms window above the threshold."""
    win = rate // 50
    n = len(pcm) // win
    if n == 0:
        return len(pcm) / rate
    frames = pcm[: n * win].astype(np.float32).reshape(n, win) / 32768.0
    rms_db = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    loud = np.nonzero(rms_db > threshold_db)[0]
    return float((loud[-1] + 1) * win / rate) if len(loud) else len(pcm) / rate


def write_wav(path: Path, pcm: np.ndarray, rate: int = REPLAY_RATE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), pcm, rate, subtype="PCM_16")
