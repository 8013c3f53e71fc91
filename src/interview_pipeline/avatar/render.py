"""``interview-pipeline personas render ID``: pre-render a persona's scripted sentences with Hedra.

What gets rendered: every sentence of the opening, the planned questions and the closing,
*except* sentences that contain the candidate's name. Those differ per interview, so no clip
can be made ahead of time; at run time they are lip-synced locally and the rest of their line
still plays from clips (see matcher.py). Rendering them with the name left out would make the
interviewer say something other than the transcript, so we don't.

Audio comes from the local Piper voice (the clip key names it), so clips play in deployments
that speak with the same voice; with another TTS voice the keys differ and lines are simply
lip-synced locally. Each clip's idempotency key is its cache key: re-running after a crash
replays Hedra's ack instead of paying for the same job twice.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from loguru import logger

from interview_pipeline.avatar.clips import ClipCache, ClipLibrary, split_sentences, voice_key
from interview_pipeline.avatar.face import (
    pixel_digest,
    png_bytes,
    prepare_portrait,
)
from interview_pipeline.avatar.hedra import HedraClient, HedraError
from interview_pipeline.avatar.media import decode_audio, wav_bytes
from interview_pipeline.avatar.metrics import HEDRA_FAILURES
from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.personas.loader import PersonaError, PersonaLibrary
from interview_pipeline.personas.schema import AvatarRenderer, Persona

#: (text) → (mono int16 PCM, sample rate).
Synthesize = Callable[[str], Awaitable[tuple[np.ndarray, int]]]

#: Stands in for the candidate's name to find the sentences that contain it.
_NAME_PROBE = "Qzxcandidate"
#: Hedra refuses audio shorter than 500 ms; short lines ("Goodbye!") get trailing silence.
_MIN_AUDIO_S = 0.6
#: Jobs in flight at once.
_PARALLEL = 3


@dataclass(frozen=True)
class ClipResult:
    text: str
    status: str  # cached | rendered | failed | skipped
    path: Path | None = None
    error: str | None = None


async def scripted_sentences(persona: Persona) -> tuple[list[str], list[str]]:
    """(sentences to render, sentences skipped because they name the candidate)."""
    lines = [persona.render(persona.opening, _NAME_PROBE)]
    lines += [persona.render(q.text, _NAME_PROBE) for q in persona.questions]
    lines.append(persona.render(persona.closing, _NAME_PROBE))
    keep: list[str] = []
    skipped: list[str] = []
    for line in lines:
        for sentence in await split_sentences(line):
            target = skipped if _NAME_PROBE in sentence else keep
            if sentence not in target:
                target.append(sentence)
    return keep, [s.replace(_NAME_PROBE, "{candidate_name}") for s in skipped]


class PiperSynthesizer:
    """The persona's Piper voice, loaded once; synthesis runs on a worker thread."""

    def __init__(self, settings: Settings, persona: Persona) -> None:
        self._path = settings.piper_voice_path() / f"{persona.voice.piper}.onnx"
        self._speed = persona.voice.speed
        self._voice: object | None = None

    def _synth(self, text: str) -> tuple[np.ndarray, int]:
        from piper import PiperVoice, SynthesisConfig

        if self._voice is None:
            self._voice = PiperVoice.load(str(self._path))
        voice: PiperVoice = self._voice  # type: ignore[assignment]
        config = SynthesisConfig(length_scale=1.0 / self._speed)
        chunks = list(voice.synthesize(text, syn_config=config))
        pcm = np.concatenate([np.frombuffer(c.audio_int16_bytes, np.int16) for c in chunks])
        return pcm, chunks[0].sample_rate

    async def __call__(self, text: str) -> tuple[np.ndarray, int]:
        return await asyncio.to_thread(self._synth, text)


async def render_persona_clips(
    settings: Settings,
    persona: Persona,
    portrait: Path | None,
    synthesize: Synthesize | None = None,
    *,
    client: HedraClient | None = None,
    cache: ClipCache | None = None,
    voice: str | None = None,
) -> list[ClipResult]:
    """Render every missing scripted-sentence clip; cached ones cost nothing (no upload)."""
    spec = persona.avatar
    image = prepare_portrait(
        portrait,
        spec.width,
        spec.height,
        persona.id,
        settings.resolved_face_cache_dir(),
        photo=spec.style == "photo",
    )
    cache = cache or ClipCache(settings.resolved_clip_cache_dir())
    library = ClipLibrary(
        cache,
        voice=voice or voice_key(persona, "piper"),
        portrait_digest=pixel_digest(image),
        width=spec.width,
        height=spec.height,
    )
    sentences, _ = await scripted_sentences(persona)
    results: dict[str, ClipResult] = {}
    todo = []
    for s in sentences:
        hit = library.find(s)
        if hit is not None:
            results[s] = ClipResult(s, "cached", hit)
        else:
            todo.append(s)
    if todo:
        synthesize = synthesize or PiperSynthesizer(settings, persona)
        own = client is None
        if client is None:
            key = settings.require_key(settings.hedra_api_key, "HEDRA_API_KEY", "Hedra")
            client = HedraClient(
                key, settings.hedra_base_url, poll_timeout_s=settings.hedra_poll_timeout_s
            )
        try:
            results |= await _render_all(
                client, library, image_png=png_bytes(image), todo=todo, synthesize=synthesize
            )
        finally:
            if own:
                await client.aclose()
    return [results[s] for s in sentences]


async def _render_all(
    client: HedraClient,
    library: ClipLibrary,
    *,
    image_png: bytes,
    todo: list[str],
    synthesize: Synthesize,
) -> dict[str, ClipResult]:
    results: dict[str, ClipResult] = {}
    stop: list[HedraError] = []  # set on errors that will fail every job (auth, balance)
    gate = asyncio.Semaphore(_PARALLEL)
    image_url: asyncio.Task[str] | None = None

    async def one(text: str) -> None:
        nonlocal image_url
        async with gate:
            if stop:
                results[text] = ClipResult(text, "skipped", error=str(stop[0]))
                return
            spec = library.spec(text)
            try:
                if image_url is None:  # the portrait is uploaded once (handles last an hour)
                    image_url = asyncio.ensure_future(
                        client.upload(image_png, "portrait.png", "image/png")
                    )
                pcm, rate = await synthesize(text)
                if len(pcm) < _MIN_AUDIO_S * rate:
                    pcm = np.concatenate(
                        [pcm, np.zeros(int(_MIN_AUDIO_S * rate) - len(pcm), np.int16)]
                    )
                audio_url = await client.upload(wav_bytes(pcm, rate), "line.wav", "audio/wav")
                job_id = await client.submit(
                    await image_url,
                    audio_url,
                    aspect_ratio=library.aspect_ratio,
                    resolution=library.resolution,
                    idempotency_key=spec.key(),
                )
                mp4 = await client.download(await client.wait(job_id))
                try:  # never cache something that will not play
                    decode_audio(mp4)
                except Exception as exc:
                    raise HedraError("bad_output", f"output does not decode: {exc}") from None
                path = library.cache.store(spec, mp4, job_id=job_id, source_audio_s=len(pcm) / rate)
                results[text] = ClipResult(text, "rendered", path)
            except HedraError as exc:
                HEDRA_FAILURES.labels(reason=exc.reason).inc()
                if exc.reason in ("auth", "balance"):
                    stop.append(exc)
                results[text] = ClipResult(text, "failed", error=str(exc))

    await asyncio.gather(*(one(t) for t in todo))
    return results


def render_command(settings: Settings, persona_id: str) -> int:
    """CLI entry: render a persona's clips, one line per sentence. Exit 0 ok, 1 failures, 2 usage."""
    library = PersonaLibrary(
        settings.personas_dir, face_cache_dir=settings.resolved_face_cache_dir()
    )
    try:
        persona = library.load(persona_id)
    except PersonaError as exc:
        print(exc, file=sys.stderr)
        return 2
    if persona.avatar.renderer is not AvatarRenderer.HEDRA:
        print(
            f"{persona.id}: avatar.renderer is {persona.avatar.renderer.value!r}; set it to "
            "'hedra' to use Hedra clips (nothing rendered, nothing charged)",
            file=sys.stderr,
        )
        return 2
    try:
        settings.require_key(settings.hedra_api_key, "HEDRA_API_KEY", "Hedra")
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    _, skipped = asyncio.run(scripted_sentences(persona))
    try:
        results = asyncio.run(render_persona_clips(settings, persona, library.portrait(persona)))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    for r in results:
        note = f"  ({r.error})" if r.error else ""
        print(f"{r.status:<9} {r.text}{note}")
    for s in skipped:
        print(f"{'local':<9} {s}  (names the candidate: lip-synced live)")
    failed = [r for r in results if r.status in ("failed", "skipped")]
    if failed:
        logger.warning(
            f"{len(failed)} of {len(results)} clips not rendered; they fall back to local lip-sync"
        )
    return 1 if failed else 0
