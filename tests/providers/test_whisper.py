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


CORPUS_WAV = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "wav"


async def _transcribe_segment(stt: Any, wav: Path) -> str:
    """One VAD segment through the service as pipecat's pipeline feeds it, 20 ms at a time."""
    from pipecat.frames.frames import (
        Frame,
        InputAudioRawFrame,
        TranscriptionFrame,
        VADUserStartedSpeakingFrame,
        VADUserStoppedSpeakingFrame,
    )
    from pipecat.tests.utils import SleepFrame, run_test

    pcm = load_pcm16(wav, 16000).tobytes()
    step = 640  # 20 ms of 16 kHz int16
    frames: list[Frame] = [VADUserStartedSpeakingFrame()]
    for i in range(0, len(pcm), step):
        frames.append(InputAudioRawFrame(pcm[i : i + step], 16000, 1))
        if i % (step * 25) == 0:
            frames.append(SleepFrame(0.02))  # let the piece transcriptions run meanwhile
    frames += [VADUserStoppedSpeakingFrame(stop_secs=0.3), SleepFrame(3.0)]
    down, _ = await run_test(stt, frames_to_send=frames, expected_down_frames=None)
    return " ".join(f.text for f in down if isinstance(f, TranscriptionFrame))


async def test_a_long_answer_is_transcribed_in_pieces_as_well_as_whole(tmp_path: Path) -> None:
    import yaml

    manifest = yaml.safe_load((CORPUS_WAV.parent / "corpus.yaml").read_text())
    ref = next(a["text"] for a in manifest["answers"] if a["id"] == "i12-background")
    base: dict[str, Any] = {"_env_file": None, "data_dir": tmp_path, "whisper_model": "tiny.en"}
    whole = await _transcribe_segment(
        build_whisper_stt(Settings(**base, whisper_chunk_s=None)), CORPUS_WAV / "i12-background.wav"
    )
    stt: Any = build_whisper_stt(Settings(**base, whisper_chunk_s=2.0))
    pieces = await _transcribe_segment(stt, CORPUS_WAV / "i12-background.wav")
    assert stt._pieces.texts, "no piece taken while the answer was spoken"
    print(f"pieces: {pieces}\nwhole: {whole}")
    assert word_error_rate(ref, pieces) <= word_error_rate(ref, whole) + 0.1, (pieces, whole)
    assert ". " not in pieces.rstrip(".") or ". " in whole  # no full stop made up at a piece end


def test_pieces_keep_a_full_stop_only_where_the_candidate_paused_for_it() -> None:
    from interview_pipeline.providers.whisper import _Pieces

    pieces = _Pieces(texts=["First I would run explain.", "And read the plan."], gaps=[0.1])
    assert pieces.joined("") == "First I would run explain and read the plan."
    pieces = _Pieces(texts=["I shipped it.", "Then I wrote tests."], gaps=[0.25, 0.1])
    assert pieces.joined("That's all.") == "I shipped it. Then I wrote tests that's all."


def test_the_end_of_a_segment_is_transcribed_again_with_the_pieces_just_before_it() -> None:
    """A short last piece alone loses the words that say the answer goes on ("and, um")."""
    from interview_pipeline.providers.whisper import _Pieces

    pieces = _Pieces(texts=["One.", "Two.", "Three"], ends=[100, 200, 300], gaps=[0.1, 0.3, 0.2])
    assert pieces.keep_before(250) == 200
    assert pieces.texts == ["One.", "Two."] and pieces.gaps == [0.1, 0.3]
    assert pieces.keep_before(50) == 0 and not pieces.texts and not pieces.gaps
