"""The embedded STT loads its packaged model (no download) and hears a short answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interview_pipeline import whisper_models
from interview_pipeline.audio import load_pcm16
from interview_pipeline.config import Settings
from interview_pipeline.metrics import word_error_rate
from interview_pipeline.providers.whisper import build_whisper_stt

SHORT_OK = Path(__file__).resolve().parents[1] / "fixtures" / "answers" / "short_ok.wav"


def _hear(settings: Settings) -> str:
    return _hear_with(build_whisper_stt(settings))


def test_default_model_loads_from_its_package_and_transcribes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("INTERVIEW_WHISPER_MODEL", "INTERVIEW_WHISPER_MODEL_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    files = whisper_models.MODELS[settings.whisper_model]
    package = whisper_models.package_dir(files.packages[0])
    assert package is not None, f"install {files.requirements}"
    folder = settings.whisper_model_path()
    assert folder.is_relative_to(tmp_path if files.sha256 else package)
    assert word_error_rate("Yes, I think so.", _hear(settings)) == 0.0


@pytest.mark.parametrize("name", sorted(whisper_models.MODELS))
def test_each_model_transcribes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERVIEW_WHISPER_MODEL_DIR", raising=False)
    files = whisper_models.MODELS[name]
    missing = [m for m in files.packages if whisper_models.package_dir(m) is None]
    assert not missing, f"model {name!r} not installed: make setup ({files.requirements})"
    settings = Settings(_env_file=None, data_dir=tmp_path, whisper_model=name)  # type: ignore[call-arg]
    assert word_error_rate("Yes, I think so.", _hear(settings)) == 0.0


async def test_the_question_being_asked_becomes_the_decoder_prompt(tmp_path: Path) -> None:
    from pipecat.frames.frames import Frame
    from pipecat.processors.frame_processor import FrameDirection
    from pipecat.tests.utils import run_test

    from interview_pipeline.turns.frames import QuestionContextFrame

    settings = Settings(_env_file=None, data_dir=tmp_path, whisper_model="tiny.en")  # type: ignore[call-arg]
    stt: Any = build_whisper_stt(settings)
    question = "How would you design a rate limiter for our public API?"
    frames: list[Frame] = [QuestionContextFrame(text=question)]
    _, up = await run_test(
        stt, frames_to_send=frames, frames_to_send_direction=FrameDirection.UPSTREAM
    )
    assert stt.settings.initial_prompt == question
    assert not any(isinstance(f, QuestionContextFrame) for f in up)  # used here, not passed on
    assert word_error_rate("Yes, I think so.", _hear_with(stt)) == 0.0


def _hear_with(stt: Any) -> str:
    return str(stt._transcribe_text(load_pcm16(SHORT_OK, 16000).tobytes()))
