"""The shared Whisper wire: client and server agree, bad requests are answered, and a bot
whose server is gone loads the model itself instead of losing the answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from interview_pipeline.config import Settings
from interview_pipeline.providers import whisper_remote
from interview_pipeline.providers.whisper import build_whisper_stt
from interview_pipeline.providers.whisper_remote import RemoteWhisperModel, Segment, WhisperServer


class RecordingModel:
    """Stands in for faster-whisper: records what it was asked, answers one segment."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, dict[str, Any]]] = []

    def transcribe(self, audio: np.ndarray, **options: Any) -> tuple[list[Segment], None]:
        self.calls.append((audio.size, options))
        return [Segment(f"{audio.size} samples", 0.25)], None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, RecordingModel]]:
    model = RecordingModel()
    path = tmp_path / "w.sock"
    server = WhisperServer(path, model)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path, model
    server.shutdown()
    server.server_close()


def no_local() -> Any:
    raise AssertionError("the model must not be loaded in the bot")


def test_round_trip_passes_audio_and_known_options(served: tuple[Path, RecordingModel]) -> None:
    path, model = served
    client = RemoteWhisperModel(path, no_local)
    audio = np.linspace(-1, 1, 16000, dtype=np.float32)
    segments, info = client.transcribe(audio, language="en", beam_size=1, evil="rm -rf")
    assert segments == [Segment("16000 samples", 0.25)] and info is None
    assert model.calls == [(16000, {"language": "en", "beam_size": 1})]


def test_malformed_request_gets_an_error_and_the_server_lives_on(
    served: tuple[Path, RecordingModel],
) -> None:
    path, _ = served
    for request in (b"not json\n", b'{"samples": 100}\n' + b"\0" * 8, b'{"samples": -1}\n'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(path))
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            assert b'"error"' in sock.makefile("rb").readline()
    segments, _ = RemoteWhisperModel(path, no_local).transcribe(np.zeros(8, np.float32))
    assert segments == [Segment("8 samples", 0.25)]


def test_unreachable_server_falls_back_to_a_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper_remote, "CONNECT_WAIT_S", 0.2)
    local = RecordingModel()
    client = RemoteWhisperModel(tmp_path / "nobody.sock", lambda: local)
    segments, _ = client.transcribe(np.zeros(4, np.float32), language="en")
    assert segments == [Segment("4 samples", 0.25)]
    client.transcribe(np.zeros(4, np.float32))
    assert len(local.calls) == 2  # loaded once, then used directly


def test_stt_service_with_a_socket_loads_no_model(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, whisper_socket=tmp_path / "w.sock")  # type: ignore[call-arg]
    stt: Any = build_whisper_stt(settings)
    assert isinstance(stt.whisper_model._model, RemoteWhisperModel)
