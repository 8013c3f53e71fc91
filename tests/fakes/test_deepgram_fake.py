"""Pipecat's real DeepgramSTTService against the loopback fake, transcribing with local Whisper."""

from __future__ import annotations

import json
import time

import aiohttp
import numpy as np
import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.fakes import DeepgramFake, PiperSynth, WhisperTranscriber

RATE = 16000
FRAME = RATE // 50  # 20 ms
LINE = "I enjoy working with Python and databases."


@pytest.fixture(scope="module")
def utterance() -> bytes:
    """Real speech at 16 kHz, followed by the silence a VAD waits out before 'stopped'."""
    WhisperTranscriber().load()  # pay the model load once, outside the timed tests
    return PiperSynth()(LINE, RATE) + b"\0\0" * int(0.3 * RATE)


def _stt(url: str, key: str = "test-key") -> DeepgramSTTService:
    return DeepgramSTTService(api_key=key, base_url=url)


def _turn(pcm: bytes, pace_s: float) -> list[Frame]:
    """What a transport plus VAD would feed the STT: start, 20 ms chunks, stop."""
    frames: list[Frame] = [VADUserStartedSpeakingFrame(start_secs=0.2)]
    for i in range(0, len(pcm), FRAME * 2):
        frames += [InputAudioRawFrame(pcm[i : i + FRAME * 2], RATE, 1), SleepFrame(pace_s)]
    frames.append(VADUserStoppedSpeakingFrame(stop_secs=0.2))
    return frames


async def test_vad_stop_finalizes_into_a_transcription(utterance: bytes) -> None:
    delay = 0.25
    async with DeepgramFake(finalize_delay_s=delay, expected_key="test-key") as fake:
        down, up = await run_test(
            _stt(fake.base_url),
            frames_to_send=[*_turn(utterance, pace_s=0.01), SleepFrame(1.5)],
            pipeline_params=PipelineParams(audio_in_sample_rate=RATE),
        )
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    finals = [f for f in down if isinstance(f, TranscriptionFrame)]
    assert len(finals) == 1
    text = finals[0].text.lower()
    assert "python" in text and "database" in text
    assert finals[0].finalized  # pipecat saw from_finalize=true for its Finalize

    (conn,) = fake.connections
    assert conn.request.headers["Authorization"] == "Token test-key"
    assert conn.request.query["sample_rate"] == str(RATE)
    assert conn.request.query["encoding"] == "linear16"
    assert conn.audio_bytes == len(utterance)
    assert [c["type"] for c in conn.control][:1] == ["Finalize"]
    assert conn.finalize_latencies[0] >= 0.9 * delay
    # Usually 1 (transcribed during the VAD's stop wait, so the latency is the set delay); a
    # loaded machine can still be busy with a guess from a mid-sentence pause, hence no assert.
    print(f"finalize latency {conn.finalize_latencies[0]:.3f}s, hits {conn.speculative_hits}")


async def test_wrong_key_is_an_error_frame() -> None:
    async with DeepgramFake(lambda pcm, rate: "unused", expected_key="test-key") as fake:
        _down, up = await run_test(
            _stt(fake.base_url, key="wrong-key"),
            frames_to_send=[SleepFrame(0.1)],
            pipeline_params=PipelineParams(audio_in_sample_rate=RATE),
        )
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert errors and "401" in errors[0].error
    assert fake.rejected and not fake.connections


async def test_wire_protocol_timing_and_close_stream() -> None:
    """Drive the socket directly, with an instant transcriber, to check shape and delay."""
    calls: list[int] = []

    def transcriber(pcm: np.ndarray, rate: int) -> str:
        calls.append(len(pcm))
        return "Hello there, world."

    delay = 0.3
    tone = (np.sin(np.arange(RATE) * 2 * np.pi * 220 / RATE) * 8000).astype("<i2").tobytes()
    async with DeepgramFake(transcriber, finalize_delay_s=delay) as fake:
        url = f"{fake.base_url}/v1/listen?encoding=linear16&sample_rate={RATE}&channels=1"
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, headers={"Authorization": "Token k"}) as ws:
                await ws.send_bytes(tone)
                await ws.send_str(json.dumps({"type": "KeepAlive"}))
                sent = time.monotonic()
                await ws.send_str(json.dumps({"type": "Finalize"}))
                first = json.loads((await ws.receive()).data)
                latency = time.monotonic() - sent
                await ws.send_bytes(tone[:RATE])  # half a second
                await ws.send_str(json.dumps({"type": "CloseStream"}))
                rest = [json.loads(m.data) async for m in ws]

    assert latency >= 0.9 * delay
    assert first["type"] == "Results" and first["is_final"] and first["from_finalize"]
    assert first["speech_final"] and first["start"] == 0 and first["duration"] == 1.0
    alt = first["channel"]["alternatives"][0]
    assert alt["transcript"] == "Hello there, world."
    assert [w["word"] for w in alt["words"]] == ["hello", "there", "world"]
    assert first["metadata"]["request_id"]

    # CloseStream flushes the remaining audio as a final, then Metadata, then the socket closes.
    assert [m["type"] for m in rest] == ["Results", "Metadata"]
    assert rest[0]["start"] == 1.0 and rest[0]["from_finalize"] is False
    assert calls == [RATE, RATE // 2]  # custom transcribers are not called speculatively


async def test_speculative_guess_answers_finalize_and_is_sent_as_interim() -> None:
    calls: list[int] = []

    def transcriber(pcm: np.ndarray, rate: int) -> str:
        calls.append(len(pcm))
        return "Hello there."

    tone = (np.sin(np.arange(RATE) * 2 * np.pi * 220 / RATE) * 8000).astype("<i2").tobytes()
    pause = b"\0\0" * (RATE // 5)  # 200 ms, past the 80 ms that starts a guess
    async with DeepgramFake(transcriber, finalize_delay_s=0.1, speculative=True) as fake:
        url = f"{fake.base_url}/v1/listen?sample_rate={RATE}&interim_results=true"
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                await ws.send_bytes(tone)
                await ws.send_bytes(pause)
                interim = json.loads((await ws.receive(timeout=10)).data)
                await ws.send_bytes(pause)  # silence only: the guess still holds
                await ws.send_str(json.dumps({"type": "Finalize"}))
                final = json.loads((await ws.receive(timeout=10)).data)

    assert interim["is_final"] is False and "from_finalize" not in interim
    assert interim["channel"]["alternatives"][0]["transcript"] == "Hello there."
    assert final["is_final"] and final["from_finalize"] and final["duration"] == 1.4
    assert calls == [RATE + RATE // 5]  # one transcription, made at the pause
    assert fake.connections[0].speculative_hits == 1
