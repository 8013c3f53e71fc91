"""Packaged Whisper models: a split model.bin is joined once, checked against its pin, and a
missing package is a setting error that names the requirements file to install."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest

from interview_pipeline import whisper_models
from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.whisper_models import ModelFilesError, WhisperModelFiles

PART1, PART2 = b"ct2 header and first half|", b"second half of the weights"


def _fake_split_model(
    root: Path, monkeypatch: pytest.MonkeyPatch, sha256: str | None = None
) -> None:
    """Two importable packages holding a model.bin cut in two, registered as ``base``."""
    for n, data in ((1, PART1), (2, PART2)):
        folder = root / f"fake_whisper_part{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"model.bin.part{n}").write_bytes(data)
    for side in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (root / "fake_whisper_part1" / "data" / side).write_text(side)
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    files = WhisperModelFiles(
        ("fake_whisper_part1", "fake_whisper_part2"),
        "data",
        "requirements/models-base.txt",
        sha256=sha256 or hashlib.sha256(PART1 + PART2).hexdigest(),
        size=len(PART1 + PART2),
    )
    monkeypatch.setitem(whisper_models.MODELS, "base", files)


def test_split_model_is_joined_once_into_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_split_model(tmp_path / "site", monkeypatch)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", whisper_model="base")  # type: ignore[call-arg]
    folder = settings.whisper_model_path()
    assert folder.parent == tmp_path / "data" / "models"
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "tokenizer.json").read_text() == "tokenizer.json"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]  # no temporary file left behind
    joined = (folder / "model.bin").stat()
    assert settings.whisper_model_path() == folder
    again = (folder / "model.bin").stat()
    assert (again.st_ino, again.st_mtime_ns) == (joined.st_ino, joined.st_mtime_ns)


def test_parts_that_do_not_make_the_pinned_file_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_split_model(tmp_path / "site", monkeypatch, sha256="0" * 64)
    with pytest.raises(ModelFilesError, match="not the pinned"):
        whisper_models.model_dir("base", tmp_path / "cache")
    folder = next((tmp_path / "cache").iterdir())
    assert not any(p.name.startswith(("model.bin", ".model.bin")) for p in folder.iterdir())


def test_a_missing_part_names_the_requirements_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = WhisperModelFiles(
        ("no_such_part1", "no_such_part2"), "data", "requirements/models-base.txt", "0" * 64, 1
    )
    monkeypatch.setitem(whisper_models.MODELS, "base", files)
    settings = Settings(_env_file=None, data_dir=tmp_path, whisper_model="base")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match=r"no_such_part1 is not installed.*models-base\.txt"):
        settings.whisper_model_path()
    assert not (tmp_path / "models").exists()


def test_a_model_dir_overrides_the_packaged_model(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, whisper_model="base", whisper_model_dir=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="has no model.bin"):
        settings.whisper_model_path()
    (tmp_path / "model.bin").write_bytes(b"x")
    assert settings.whisper_model_path() == tmp_path
