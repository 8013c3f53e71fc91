"""The content-addressed clip cache: one Hedra Character-3 MP4 per scripted sentence.

Why per sentence: Pipecat's TTS speaks LLM text sentence by sentence (``SimpleTextAggregator``),
so a sentence is the unit the avatar stage sees and can swap for a clip. A scripted line is
split the same way at render time (``split_sentences`` runs that same aggregator).

The key is a SHA-256 over everything that changes the pixels or the sound: the sentence
(whitespace-normalised), the voice, the portrait's *pixels* (see ``face.pixel_digest``), the
model, aspect ratio and resolution. Change any of them and the old clip is simply not found:
the line falls back to local lip-sync instead of showing a stale face.

Layout: ``<cache>/<key[:2]>/<key>/clip.mp4`` plus ``meta.json``; written to a temporary
directory and renamed into place, so a reader never sees half a clip.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.utils.text.simple_text_aggregator import SimpleTextAggregator

from interview_pipeline.avatar.media import ClipVideoReader, decode_audio
from interview_pipeline.personas.schema import Persona

CLIP_MODEL = "hedra-character-3"
_ASPECTS = {"1:1": 1.0, "4:3": 4 / 3, "3:4": 3 / 4, "16:9": 16 / 9, "9:16": 9 / 16}


def normalise_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


async def split_sentences(text: str) -> list[str]:
    """Sentences exactly as Pipecat's TTS aggregator would cut them."""
    aggregator = SimpleTextAggregator()
    out = [a.text async for a in aggregator.aggregate(text)]
    rest = await aggregator.flush()
    if rest is not None and rest.text.strip():
        out.append(rest.text)
    return [normalise_text(s) for s in out if s.strip()]


def hedra_format(width: int, height: int) -> tuple[str, str]:
    """Hedra's closest aspect ratio and the smallest resolution that covers the persona size."""
    ratio = width / height
    aspect = min(_ASPECTS, key=lambda a: abs(np.log(_ASPECTS[a] / ratio)))
    short = min(width, height)
    resolution = "540p" if short <= 540 else "720p" if short <= 720 else "1080p"
    return aspect, resolution


def voice_key(persona: Persona, provider: str = "piper") -> str:
    """The voice part of a clip key: provider, voice id and speed."""
    voice = persona.voice.piper if provider == "piper" else persona.voice.elevenlabs
    return f"{provider}:{voice}@{persona.voice.speed:g}"


@dataclass(frozen=True)
class ClipSpec:
    text: str
    voice: str
    portrait: str
    aspect_ratio: str = "1:1"
    resolution: str = "540p"
    model: str = CLIP_MODEL

    def key(self) -> str:
        import hashlib

        fields = asdict(self) | {"text": normalise_text(self.text), "v": 1}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class ClipCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def entry(self, spec: ClipSpec) -> Path:
        key = spec.key()
        return self.directory / key[:2] / key

    def lookup(self, spec: ClipSpec) -> Path | None:
        """The clip's MP4 when cached."""
        mp4 = self.entry(spec) / "clip.mp4"
        return mp4 if mp4.is_file() else None

    def meta(self, spec: ClipSpec) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.entry(spec) / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return data

    def store(self, spec: ClipSpec, mp4: bytes, **meta: Any) -> Path:
        """Write atomically; a concurrent writer of the same key simply loses the race."""
        final = self.entry(spec)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
        try:
            (tmp / "clip.mp4").write_bytes(mp4)
            info = asdict(spec) | {"key": spec.key(), "created_at": time.time()} | meta
            (tmp / "meta.json").write_text(json.dumps(info, indent=2, sort_keys=True))
            try:
                os.replace(tmp, final)
            except OSError:  # already there (another render won): keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final / "clip.mp4"


@dataclass
class LoadedClip:
    """A clip ready to play: all of its audio, and its video decoding just ahead."""

    text: str
    path: Path
    audio: np.ndarray
    sample_rate: int
    video: ClipVideoReader

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate

    def close(self) -> None:
        self.video.close()


def load_clip(text: str, path: Path, sample_rate: int, width: int, height: int) -> LoadedClip:
    """Blocking (decode); call from a thread. Waits for the first video frame (~10 ms)."""
    audio, rate = decode_audio(path, sample_rate)
    if len(audio) == 0:
        raise ValueError(f"clip {path} has no audio")
    reader = ClipVideoReader(path, width, height)
    if not reader.wait_first(timeout=2.0):
        reader.close()
        raise ValueError(f"clip {path} has no decodable video")
    return LoadedClip(text, path, audio, rate, reader)


class ClipLibrary:
    """Run-time lookup of the clips rendered for one persona, voice and portrait."""

    def __init__(
        self,
        cache: ClipCache,
        *,
        voice: str,
        portrait_digest: str,
        width: int,
        height: int,
        model: str = CLIP_MODEL,
    ) -> None:
        self.cache = cache
        self.voice = voice
        self.portrait_digest = portrait_digest
        self.aspect_ratio, self.resolution = hedra_format(width, height)
        self.model = model

    def spec(self, sentence: str) -> ClipSpec:
        return ClipSpec(
            text=normalise_text(sentence),
            voice=self.voice,
            portrait=self.portrait_digest,
            aspect_ratio=self.aspect_ratio,
            resolution=self.resolution,
            model=self.model,
        )

    def find(self, sentence: str) -> Path | None:
        return self.cache.lookup(self.spec(sentence))


def blend(clip: np.ndarray, local: bytes, alpha: float) -> bytes:
    """A clip frame over the local frame, for the cross-fade between the two."""
    if alpha >= 1.0:
        return clip.tobytes()
    base = np.frombuffer(local, np.uint8).reshape(clip.shape)
    mixed = clip.astype(np.float32) * alpha + base.astype(np.float32) * (1 - alpha)
    return mixed.astype(np.uint8).tobytes()


def close_loaded(fut: asyncio.Future[LoadedClip]) -> None:
    """Done-callback for a prefetch nobody will play: close its reader once it has loaded."""
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()
