"""The fakes' transcriber: real local Whisper, so tests see the words that were spoken."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from interview_pipeline.config import Settings


class WhisperTranscriber:
    """Local faster-whisper tiny.en, loaded on first use and shared by every fake in the process.

    Loading takes about a second, so each model directory is loaded once; calls are serialised
    because one model instance is not meant to run two decodes at once.

    Args:
        model_dir: A CTranslate2 Whisper model; default ``Settings().whisper_model_path()``.
    """

    _lock = threading.Lock()
    _models: dict[str, Any] = {}

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir

    def __call__(self, pcm: np.ndarray, sample_rate: int) -> str:
        if pcm.size == 0:
            return ""
        audio = pcm.astype(np.float32) / 32768.0
        if sample_rate != 16000:
            import soxr

            audio = soxr.resample(audio, sample_rate, 16000)
        with self._lock:
            model = self.load()
            segments, _info = model.transcribe(
                audio, language="en", beam_size=1, condition_on_previous_text=False
            )
            return " ".join(s.text.strip() for s in segments).strip()

    def load(self) -> Any:
        """The model, loading it now if needed (call early to keep the first result fast)."""
        # pydantic-settings fills Settings from the environment; mypy has no plugin to know it.
        path = str(self.model_dir or Settings().whisper_model_path())  # type: ignore[call-arg]
        if path not in self._models:
            from faster_whisper import WhisperModel

            model = WhisperModel(path, device="cpu", compute_type="int8")
            # The first decode is twice as slow as the rest; pay for it here, not in a result.
            noise = np.random.default_rng(0).normal(0, 0.01, 16000).astype(np.float32)
            list(model.transcribe(noise, language="en", beam_size=1)[0])
            self._models[path] = model
        return self._models[path]
