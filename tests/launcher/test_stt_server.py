"""The launcher's shared Whisper server, with the real model: transcribes for a client,
comes back after a crash, and leaves nothing behind on close."""

from __future__ import annotations

import asyncio
import os
import signal
import wave
from pathlib import Path

import numpy as np

from interview_pipeline.config import Settings
from interview_pipeline.launcher.stt_server import SharedWhisper, wanted
from interview_pipeline.providers.whisper_remote import RemoteWhisperModel
from tests.launcher.conftest import alive

ANSWER = Path(__file__).parents[1] / "fixtures" / "answers" / "alex_background.wav"


def answer_audio() -> np.ndarray:
    with wave.open(str(ANSWER)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def test_wanted_only_for_local_whisper(tmp_path: Path) -> None:
    def settings(**values: object) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[arg-type]

    assert wanted(settings(stt_provider="whisper"))
    assert not wanted(settings(stt_provider="whisper", whisper_shared=False))
    assert not wanted(settings(stt_provider="whisper", whisper_socket=tmp_path / "s"))
    assert not wanted(settings(stt_provider="deepgram", deepgram_api_key="k"))


async def test_transcribes_restarts_and_cleans_up(tmp_path: Path) -> None:
    server = SharedWhisper(
        Settings(_env_file=None),
        env=dict(os.environ),
        log_path=tmp_path / "w.log",  # type: ignore[call-arg]
    )
    await server.start()
    try:
        client = RemoteWhisperModel(server.socket, lambda: None)

        async def heard() -> str:
            segments, _ = await asyncio.to_thread(
                client.transcribe, answer_audio(), language="en", beam_size=1
            )
            return " ".join(s.text for s in segments)

        assert "python" in (await heard()).lower()
        first = server.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert "python" in (await heard()).lower()  # waited for the restarted server
        assert server.restarts == 1 and server.pid not in (None, first)
        second = server.pid
    finally:
        await server.close()
    assert second is not None and not alive(second)
    assert not server.socket.parent.exists()
