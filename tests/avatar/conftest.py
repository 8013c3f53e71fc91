"""Shared fixtures for the avatar tests: settings on a temp dir, personas, test audio, a frame sink."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from pipecat.frames.frames import Frame, OutputImageRawFrame, TTSAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interview_pipeline.config import Settings, TTSProvider
from interview_pipeline.personas.loader import PersonaLibrary
from interview_pipeline.personas.schema import AvatarRenderer, Persona

SR = 24000


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        tts_provider=TTSProvider.PIPER,
        hedra_api_key="test-key-id:test-secret",  # type: ignore[arg-type]
    )


@pytest.fixture
def library(settings: Settings) -> PersonaLibrary:
    return PersonaLibrary(settings.personas_dir)


def with_renderer(persona: Persona, renderer: AvatarRenderer, **avatar: object) -> Persona:
    spec = persona.avatar.model_copy(update={"renderer": renderer, **avatar})
    return persona.model_copy(update={"avatar": spec})


def tone(seconds: float, amplitude: float, freq: float = 180.0, sr: int = SR) -> np.ndarray:
    """A voiced-sounding tone (fundamental + harmonics) at a given peak amplitude (0..1)."""
    t = np.arange(int(seconds * sr)) / sr
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3, 4))
    wave = wave / np.max(np.abs(wave)) if amplitude else wave * 0
    return (wave * amplitude * 32767).astype(np.int16)


def audio_frame(pcm: np.ndarray, sr: int = SR) -> TTSAudioRawFrame:
    return TTSAudioRawFrame(pcm.tobytes(), sr, 1, context_id="ctx")


class Collector(FrameProcessor):
    """Records arrival time of every downstream frame (run_test's sink keeps no times)."""

    def __init__(self) -> None:
        super().__init__(enable_direct_mode=True)
        self.frames: list[tuple[float, Frame]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            self.frames.append((time.monotonic(), frame))
        await self.push_frame(frame, direction)

    def images(self) -> list[tuple[float, OutputImageRawFrame]]:
        return [(t, f) for t, f in self.frames if isinstance(f, OutputImageRawFrame)]

    def audio(self) -> list[tuple[float, TTSAudioRawFrame]]:
        return [(t, f) for t, f in self.frames if isinstance(f, TTSAudioRawFrame)]


def store_clip(
    settings: Settings,
    persona: Persona,
    text: str,
    audio: np.ndarray,
    *,
    portrait: Path | None = None,
    size: tuple[int, int] | None = None,
) -> None:
    """Cache a clip of ``audio`` for ``text``, made by the fake Hedra from the persona's
    prepared portrait (the image ``personas render`` would send)."""
    from interview_pipeline.avatar.clips import ClipCache, ClipLibrary, voice_key
    from interview_pipeline.avatar.face import pixel_digest, prepare_portrait
    from interview_pipeline.fakes.hedra import render_talking_mp4

    w, h = persona.avatar.width, persona.avatar.height
    image = prepare_portrait(portrait, w, h, persona.id)
    lib = ClipLibrary(
        ClipCache(settings.resolved_clip_cache_dir()),
        voice=voice_key(persona, "piper"),
        portrait_digest=pixel_digest(image),
        width=w,
        height=h,
    )
    lib.cache.store(lib.spec(text), render_talking_mp4(image, audio, 16000, size or (w, h)))
