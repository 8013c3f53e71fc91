"""Replay tests of HedraVideoService in a real (transport-less) Pipecat pipeline.

Timing assertions are loose on purpose: the machine is shared and noisy.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from pipecat.frames.frames import (
    AggregatedTextFrame,
    BotStartedSpeakingFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.avatar import HedraVideoService
from interview_pipeline.avatar.face import prepare_portrait
from interview_pipeline.avatar.media import decode_audio
from interview_pipeline.config import Settings
from interview_pipeline.fakes.hedra import render_talking_mp4
from interview_pipeline.personas.loader import PersonaLibrary
from interview_pipeline.personas.schema import AvatarRenderer, Persona

from .conftest import SR, Collector, audio_frame, store_clip, tone, with_renderer

BLOCKS = (0.6, 0.0, 0.35, 0.0, 0.6, 0.0)  # 0.4 s each: loud, silent, ...


async def _run(
    svc: HedraVideoService, frames: list, collector: Collector | None = None
) -> Collector:
    collector = collector or Collector()
    await run_test(Pipeline([svc, collector]), frames_to_send=frames)
    return collector


def _service(
    settings: Settings, library: PersonaLibrary, pid: str = "maya", **avatar: object
) -> HedraVideoService:
    persona = library.load(pid)
    if avatar:
        persona = with_renderer(persona, persona.avatar.renderer, **avatar)
    return HedraVideoService(persona=persona, portrait=library.portrait(persona), settings=settings)


async def test_frames_flow_at_fps_while_idle_and_speaking_and_mouth_follows_energy(
    settings: Settings, library: PersonaLibrary
) -> None:
    svc = _service(settings, library, "alex", width=256, height=192, fps=20)
    audio = np.concatenate([tone(0.4, a) for a in BLOCKS])
    col = await _run(
        svc,
        [
            SleepFrame(1.0),
            TTSStartedFrame(),
            audio_frame(audio),
            TTSStoppedFrame(),
            SleepFrame(3.5),
        ],
    )
    images = col.images()
    assert all(f.size == (256, 192) and len(f.image) == 256 * 192 * 3 for _, f in images)
    t_audio = col.audio()[0][0]
    speaking = [t for t, f in images if t_audio <= t < t_audio + 2.4]
    idle = [t for t, f in images if t >= t_audio + 2.6]
    # Full rate while speaking; while not, at most half (listening_fps defaults to fps / 2)
    # and repeats of the same still frame left out, but one at least every second.
    rate = (len(speaking) - 1) / (speaking[-1] - speaking[0])
    assert 17 <= rate <= 23, rate
    assert max(np.diff(speaking)) < 0.15  # no stalls
    assert idle and max(np.diff([t_audio + 2.6, *idle])) < 1.1
    assert len(idle) <= 11 * (idle[-1] - t_audio - 2.6) + 1
    # Each frame carries the instant it is shown for; compare its mouth with the audio there.
    loud, quiet = [], []
    for _, f in images:
        info = f.metadata["avatar"]
        pos = info["t"] - t_audio
        block = int(pos / 0.4)
        if not 0 <= block < len(BLOCKS) or not 0.12 < pos - block * 0.4 < 0.32:
            continue
        (loud if BLOCKS[block] else quiet).append(info["mouth"])
    assert len(loud) >= 8 and len(quiet) >= 8
    assert min(loud) > 0.5 and max(quiet) < 0.1
    assert all(f.metadata["avatar"]["mouth"] == 0 for t, f in images if t > t_audio + 3.0)


async def test_interruption_closes_mouth_on_the_next_frame(
    settings: Settings, library: PersonaLibrary
) -> None:
    svc = _service(settings, library, "maya", width=128, height=128)
    col = await _run(
        svc,
        [
            TTSStartedFrame(),
            audio_frame(tone(5.0, 0.6)),
            SleepFrame(1.0),
            InterruptionFrame(),
            SleepFrame(0.5),
        ],
    )
    index = next(i for i, (_, f) in enumerate(col.frames) if isinstance(f, InterruptionFrame))
    before = [f for _, f in col.frames[:index] if f.__class__.__name__ == "OutputImageRawFrame"]
    after = [f for _, f in col.frames[index:] if f.__class__.__name__ == "OutputImageRawFrame"]
    assert before[-1].metadata["avatar"]["mouth"] > 0.5  # it was talking
    assert after[0].metadata["avatar"]["mouth"] == 0.0  # very next frame: closed
    assert all(f.metadata["avatar"]["mouth"] == 0.0 for f in after)


async def test_renderer_none_is_a_pass_through(settings: Settings, library: PersonaLibrary) -> None:
    persona = with_renderer(library.load("maya"), AvatarRenderer.NONE)
    svc = HedraVideoService(persona=persona, portrait=None, settings=settings)
    col = await _run(svc, [audio_frame(tone(0.2, 0.5)), SleepFrame(0.3)])
    assert not col.images() and len(col.audio()) == 1


@pytest.fixture
def hedra_persona(settings: Settings, library: PersonaLibrary) -> tuple[Persona, str]:
    """A hedra-renderer persona with one cached clip (rendered like the fake Hedra does)."""
    persona = with_renderer(library.load("maya"), AvatarRenderer.HEDRA, width=256, height=256)
    text = "Walk me through how you start a new design project."
    store_clip(settings, persona, text, tone(1.2, 0.5, freq=150.0, sr=16000), size=(270, 270))
    return persona, text


@pytest.fixture
def clip_setup(
    settings: Settings, hedra_persona: tuple[Persona, str]
) -> tuple[HedraVideoService, str]:
    persona, text = hedra_persona
    return HedraVideoService(persona=persona, portrait=None, settings=settings), text


def _spoken(text: str) -> list[Frame]:
    agg = AggregatedTextFrame(text, text_type="sentence")
    agg.will_be_spoken = True
    return [
        agg,
        TTSStartedFrame(),
        audio_frame(tone(2.0, 0.3)),
        TTSTextFrame(text, text_type="sentence"),
        TTSStoppedFrame(),
    ]


async def test_cached_clip_replaces_tts_audio_and_video(
    clip_setup: tuple[HedraVideoService, str],
) -> None:
    svc, text = clip_setup
    agg = AggregatedTextFrame(text, text_type="sentence")
    agg.will_be_spoken = True
    tts_audio = tone(2.0, 0.3)  # what the TTS said: must not be played
    frames = [
        SleepFrame(0.3),
        agg,
        TTSStartedFrame(),
        audio_frame(tts_audio),
        TTSTextFrame(text, text_type="sentence"),
        TTSStoppedFrame(),
        SleepFrame(1.8),
    ]
    col = await _run(svc, frames)
    ((t_audio, played),) = col.audio()
    assert played.sample_rate == SR
    duration = len(played.audio) / 2 / SR
    assert abs(duration - 1.2) < 0.1  # the clip's audio (AAC-decoded), not the 2 s TTS audio
    clip_frames = [(t, f) for t, f in col.images() if f.metadata["avatar"]["source"] == "clip"]
    assert len(clip_frames) >= 0.8 * 1.2 * 25
    shown = [f.metadata["avatar"]["t"] - t_audio for _, f in clip_frames]
    assert shown[0] < 0.1  # first clip frame is on screen within ~2 frames of its audio
    assert all(f.size == (256, 256) for _, f in clip_frames)


async def test_unreadable_clip_falls_back_to_tts_audio(
    clip_setup: tuple[HedraVideoService, str],
) -> None:
    svc, text = clip_setup
    assert svc._library is not None
    path = svc._library.find(text)
    assert path is not None
    path.write_bytes(b"not an mp4")
    agg = AggregatedTextFrame(text, text_type="sentence")
    agg.will_be_spoken = True
    tts_audio = tone(0.5, 0.3)
    col = await _run(
        svc,
        [agg, audio_frame(tts_audio), TTSTextFrame(text, text_type="sentence"), SleepFrame(0.8)],
    )
    ((_, played),) = col.audio()
    assert played.audio == tts_audio.tobytes()
    assert not [f for _, f in col.images() if f.metadata["avatar"]["source"] == "clip"]


def test_decoded_clip_audio_matches_what_went_in(tmp_path, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    pcm = tone(1.0, 0.5, sr=16000)
    mp4 = render_talking_mp4(prepare_portrait(None, 128, 128, "x"), pcm, 16000, (128, 128))
    out, rate = decode_audio(mp4, 16000)
    assert rate == 16000 and abs(len(out) - len(pcm)) < 0.05 * 16000


class _Output(FrameProcessor):
    """Stands in for the output transport: takes frames via write_video_frame and reports
    playback (BotStartedSpeakingFrame upstream) only after ``hold_s``, like a closed join gate."""

    def __init__(self, hold_s: float, end_delay_s: float = 0.0) -> None:
        super().__init__()
        self.hold_s = hold_s
        self.end_delay_s = end_delay_s  # a real transport lets queued audio finish first
        self.written: list[tuple[float, OutputImageRawFrame]] = []
        self.started_at: float | None = None

    async def write_video_frame(self, frame: OutputImageRawFrame) -> bool:
        self.written.append((time.monotonic(), frame))
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and self.started_at is None:
            self.create_task(self._release())
        if isinstance(frame, EndFrame):
            await asyncio.sleep(self.end_delay_s)
        await self.push_frame(frame, direction)

    async def _release(self) -> None:
        await asyncio.sleep(self.hold_s)
        self.started_at = time.monotonic()
        await self.push_frame(BotStartedSpeakingFrame(), FrameDirection.UPSTREAM)


async def test_direct_video_out_waits_for_transport_playback(
    settings: Settings, library: PersonaLibrary
) -> None:
    persona = with_renderer(library.load("maya"), AvatarRenderer.LOCAL, width=128, height=128)
    out = _Output(hold_s=1.0)
    svc = HedraVideoService(persona=persona, portrait=None, settings=settings, video_out=out)  # type: ignore[arg-type]
    col = Collector()
    await run_test(
        Pipeline([svc, out, col]), frames_to_send=[audio_frame(tone(1.0, 0.6)), SleepFrame(2.5)]
    )
    assert not col.images()  # frames went to the transport, not down the pipeline
    assert out.started_at is not None
    t_audio = col.audio()[0][0]
    held = [f for t, f in out.written if t_audio < t < out.started_at - 0.05]
    playing = [f for t, f in out.written if out.started_at + 0.1 < t < out.started_at + 0.9]
    assert len(held) > 15 and all(f.metadata["avatar"]["mouth"] == 0 for f in held)
    assert min(f.metadata["avatar"]["mouth"] for f in playing) > 0.5


async def test_clip_held_at_the_gate_plays_when_the_transport_starts(
    settings: Settings, hedra_persona: tuple[Persona, str]
) -> None:
    persona, text = hedra_persona
    out = _Output(hold_s=1.5)
    svc = HedraVideoService(persona=persona, portrait=None, settings=settings, video_out=out)  # type: ignore[arg-type]
    await run_test(Pipeline([svc, out]), frames_to_send=[*_spoken(text), SleepFrame(3.2)])
    assert out.started_at is not None
    clip = [t for t, f in out.written if f.metadata["avatar"]["source"] == "clip"]
    assert clip and min(clip) > out.started_at  # nothing of the clip shows while held
    assert len(clip) >= 0.8 * 1.2 * 25 and max(clip) - min(clip) > 1.0  # then all of it plays


async def test_last_line_keeps_moving_after_end_frame_passes(
    settings: Settings, library: PersonaLibrary
) -> None:
    persona = with_renderer(library.load("maya"), AvatarRenderer.LOCAL, width=128, height=128)
    out = _Output(hold_s=0.0, end_delay_s=1.6)
    svc = HedraVideoService(persona=persona, portrait=None, settings=settings, video_out=out)  # type: ignore[arg-type]
    await run_test(
        Pipeline([svc, out]), frames_to_send=[audio_frame(tone(1.2, 0.6))]
    )  # then EndFrame
    assert out.started_at is not None
    talking = [t for t, f in out.written if f.metadata["avatar"]["mouth"] > 0.5]
    assert talking and max(talking) - out.started_at > 1.0  # the whole line, not cut at EndFrame
