"""Pipecat's real ElevenLabsTTSService against the loopback fake, speaking with local Piper."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.services.elevenlabs.tts import ElevenLabsTTSService
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.fakes import ElevenLabsFake, PiperSynth

LINE = "Thanks for joining me today. Could you start by telling me about yourself?"
RATE = 24000


@pytest.fixture(scope="module")
def piper() -> PiperSynth:
    synth = PiperSynth()
    synth.load()  # pay the model load once, outside the timed tests
    return synth


def _tts(url: str, key: str = "test-key") -> ElevenLabsTTSService:
    return ElevenLabsTTSService(
        api_key=key,
        url=url,
        sample_rate=RATE,
        settings=ElevenLabsTTSService.Settings(voice="voice123"),
    )


def _audio(frames: list[object]) -> bytes:
    return b"".join(f.audio for f in frames if isinstance(f, TTSAudioRawFrame))


async def test_speak_frame_becomes_piper_audio(piper: PiperSynth) -> None:
    # Rendered (and cached) up front: on a loaded machine Piper can exceed pipecat's 3 s wait
    # for a context's first audio, after which it reports "completed with no audio".
    expected = len(piper(LINE, RATE)) / 2 / RATE
    delay = 0.2
    async with ElevenLabsFake(piper, first_audio_delay_s=delay, expected_key="test-key") as fake:
        down, up = await run_test(
            _tts(fake.base_url),
            frames_to_send=[TTSSpeakFrame(LINE)],
            pipeline_params=PipelineParams(audio_out_sample_rate=RATE),
        )
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    kinds = [type(f) for f in down]
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSAudioRawFrame)
    assert kinds.index(TTSStoppedFrame) > len(kinds) - 1 - kinds[::-1].index(TTSAudioRawFrame)
    assert all(f.sample_rate == RATE for f in down if isinstance(f, TTSAudioRawFrame))

    audio = np.frombuffer(_audio(down), np.int16).astype(np.float32)
    assert abs(len(audio) / RATE - expected) < 0.05
    assert float(np.sqrt(np.mean(audio**2))) > 500  # speech, not silence

    # The alignment the fake sent became the words pipecat reports as spoken.
    spoken = " ".join(f.text for f in down if isinstance(f, TTSTextFrame))
    assert spoken.split() == LINE.split()

    (conn,) = fake.connections
    assert conn.request.headers["xi-api-key"] == "test-key"
    assert conn.voice_id == "voice123" and conn.sample_rate == RATE
    assert conn.request.query["output_format"] == "pcm_24000"
    (ctx,) = conn.contexts.values()
    assert ctx.final_sent and not ctx.interrupted
    assert ctx.first_audio_latencies[0] >= 0.9 * delay


async def test_llm_turn_sentences_share_one_context(piper: PiperSynth) -> None:
    """An LLM reply arrives as tokens; pipecat sends sentences, then flush and close_context."""
    words = "Sounds good. What did you build there? And what was hard about it?".split(" ")
    tokens = [w if i == 0 else f" {w}" for i, w in enumerate(words)]
    delay = 0.075
    async with ElevenLabsFake(piper, first_audio_delay_s=delay) as fake:
        await fake.prewarm(["".join(tokens)], RATE)  # benchmarks do this to hide Piper's time
        down, _up = await run_test(
            _tts(fake.base_url),
            frames_to_send=[
                LLMFullResponseStartFrame(),
                *[LLMTextFrame(t) for t in tokens],
                LLMFullResponseEndFrame(),
            ],
            pipeline_params=PipelineParams(audio_out_sample_rate=RATE),
        )
    (ctx,) = fake.contexts
    assert len(ctx.generations) == 3  # one generation per sentence (auto_mode)
    assert ctx.final_sent
    spoken = " ".join(f.text for f in down if isinstance(f, TTSTextFrame))
    assert spoken.split() == words
    assert len(_audio(down)) == ctx.audio_bytes
    assert min(ctx.first_audio_latencies) >= 0.9 * delay
    print("first-audio latencies", [round(x, 3) for x in ctx.first_audio_latencies])


async def test_wrong_key_is_an_error_frame() -> None:
    async with ElevenLabsFake(lambda text, rate: b"\0\0" * rate, expected_key="test-key") as fake:
        down, up = await run_test(
            _tts(fake.base_url, key="wrong-key"),
            frames_to_send=[TTSSpeakFrame("Hello."), SleepFrame(0.2)],
            pipeline_params=PipelineParams(audio_out_sample_rate=RATE),
        )
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert errors and "401" in errors[0].error
    assert not _audio(down)
    assert fake.rejected and not fake.connections


async def test_interruption_closes_the_context_without_audio(piper: PiperSynth) -> None:
    async with ElevenLabsFake(piper, first_audio_delay_s=0.5) as fake:
        down, _up = await run_test(
            _tts(fake.base_url),
            frames_to_send=[
                LLMFullResponseStartFrame(),
                LLMTextFrame("Let me ask you something else. "),
                LLMTextFrame("What is your"),
                SleepFrame(0.1),
                InterruptionFrame(),
                SleepFrame(0.6),
            ],
            pipeline_params=PipelineParams(audio_out_sample_rate=RATE),
        )
    (ctx,) = fake.contexts
    assert ctx.interrupted and ctx.final_sent
    assert ctx.audio_bytes == 0 and not _audio(down)
