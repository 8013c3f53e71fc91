"""Load persona YAML with errors a product person can act on: file, line, field, reason.

``safe_yaml`` turns the file into plain values plus the line of every key and list item, so a
pydantic error location such as ``("questions", 2, "follow_ups")`` maps back to the line to
fix. Loading is total: whatever a file holds, the only exception is ``PersonaError``, and a
folder is checked file by file so one broken persona never hides the others' problems.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from interview_pipeline.personas.errors import (
    Loc,
    PersonaError,
    PersonaIssue,
    UnknownPersonaError,
    field_name,
)
from interview_pipeline.personas.safe_yaml import ParsedYaml, parse_yaml, read_text
from interview_pipeline.personas.schema import Persona

__all__ = [
    "FolderReport",
    "PersonaError",
    "PersonaIssue",
    "PersonaLibrary",
    "UnknownPersonaError",
    "load_persona_file",
    "resolve_asset",
]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _display(path: Path) -> str:
    """Relative to the working directory when inside it (as a person typed it), else absolute."""
    try:
        absolute = path.resolve()
        cwd = Path(os.getcwd()).resolve()
    except (OSError, RuntimeError, ValueError):  # symlink loop, NUL byte, vanished cwd
        return str(path)
    if absolute == cwd or cwd in absolute.parents:
        return str(absolute.relative_to(cwd))
    return str(absolute)


def _message(err: ErrorDetails) -> str:
    ctx = err.get("ctx") or {}
    kind = err["type"]
    simple = {
        "greater_than_equal": "must be >= {ge}",
        "greater_than": "must be > {gt}",
        "less_than_equal": "must be <= {le}",
        "less_than": "must be < {lt}",
        "too_short": "must have at least {min_length} item(s)",
        "string_too_short": "must not be empty",
        "string_too_long": "must be at most {max_length} characters",
        "too_long": "must have at most {max_length} item(s)",
        "enum": "must be one of {expected}",
    }
    # Wrong types, worded without pydantic's class names ("instance of Avatar").
    by_type = {
        "model_type": "must be a mapping of fields",
        "dict_type": "must be a mapping of fields",
        "list_type": "must be a list",
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
    }
    if kind in by_type:
        return by_type[kind]
    if kind in simple:
        return simple[kind].format(**ctx)
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see personas/README.md)"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return "must be a safe id: lowercase letters, digits, '-' or '_' (max 64)"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _issues(display: str, doc: ParsedYaml, exc: ValidationError) -> list[PersonaIssue]:
    issues = []
    for err in exc.errors():
        loc: Loc = tuple(err["loc"])
        issues.append(PersonaIssue(display, doc.line_of(loc), field_name(loc), _message(err)))
    return issues


def load_persona_file(path: Path, face_cache_dir: Path | None = None) -> Persona:
    """Parse and validate one persona file; raise PersonaError naming file and line.

    Nothing else ever escapes: a case the checks did not foresee becomes one "internal error"
    issue for this file (tests treat that as a bug), so a folder check goes on to the next.
    """
    display = _display(path)
    try:
        return _load(path, display, face_cache_dir)
    except PersonaError:
        raise
    except Exception as exc:
        msg = f"internal error while loading ({type(exc).__name__}: {exc}); please report it"
        raise PersonaError([PersonaIssue(display, None, "", msg)]) from exc


def _load(path: Path, display: str, face_cache_dir: Path | None = None) -> Persona:
    doc = parse_yaml(read_text(path, display), display)
    if not isinstance(doc.value, dict):
        raise PersonaError(
            [PersonaIssue(display, doc.line_of(()), "", "must be a mapping of fields")]
        )
    try:
        persona = Persona.model_validate(doc.value)
    except ValidationError as exc:
        raise PersonaError(_issues(display, doc, exc)) from None
    issues = _file_checks(persona, path, doc, display, face_cache_dir)
    if issues:
        raise PersonaError(issues)
    return persona


def _file_checks(
    persona: Persona, path: Path, doc: ParsedYaml, display: str, face_cache_dir: Path | None
) -> list[PersonaIssue]:
    """Checks that need the file system: the id matches the file, the portrait shows a face."""
    issues = []
    if persona.id != path.stem:
        issues.append(
            PersonaIssue(
                display, doc.line_of(("id",)), "id", f"must match the file name ({path.stem!r})"
            )
        )
    if persona.avatar.image:
        image = resolve_asset(path, persona.avatar.image)
        line = doc.line_of(("avatar", "image"))
        if image is None:
            issues.append(
                PersonaIssue(
                    display, line, "avatar.image", "must be a path inside the personas folder"
                )
            )
        elif not _is_file(image):
            issues.append(
                PersonaIssue(display, line, "avatar.image", f"file not found: {image.name}")
            )
        else:
            try:
                from PIL import Image

                with Image.open(image) as im:
                    im.verify()
            except Exception:
                issues.append(PersonaIssue(display, line, "avatar.image", "not a readable image"))
            else:
                shown = persona.avatar.renderer.value != "none"
                shown = shown and persona.avatar.style == "photo"
                problem = _portrait_problem(image, face_cache_dir) if shown else None
                if problem:
                    issues.append(PersonaIssue(display, line, "avatar.image", problem))
    return issues


def _portrait_problem(image: Path, face_cache_dir: Path | None) -> str | None:
    """Why the avatar could not animate this photo (no face, several, too small, profile)."""
    from interview_pipeline.avatar.portrait import check_portrait

    return check_portrait(image, face_cache_dir)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # name too long for the OS, and the like
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def resolve_asset(persona_file: Path, relative: str) -> Path | None:
    """A file referenced by a persona, refusing anything outside the persona's folder."""
    try:
        base = persona_file.resolve().parent
        candidate = (base / relative).resolve()
    except (OSError, RuntimeError, ValueError):  # symlink loop, NUL byte, name too long
        return None
    if base != candidate and base not in candidate.parents:
        return None
    return candidate


@dataclass
class FolderReport:
    """A check of persona files: the ones that load, and every problem of the others."""

    files: list[str]
    personas: dict[str, Persona] = field(default_factory=dict)
    issues: list[PersonaIssue] = field(default_factory=list)

    @property
    def valid_files(self) -> list[str]:
        bad = {issue.file for issue in self.issues}
        return [f for f in self.files if f not in bad]


class PersonaLibrary:
    """The personas folder: lookup by id with path traversal refused."""

    def __init__(self, directory: Path, *, face_cache_dir: Path | None = None):
        self.directory = directory
        #: Where portrait landmarks are kept (Settings.resolved_face_cache_dir): checking a
        #: portrait then costs its digest, not a face detection, after the first time.
        self.face_cache_dir = face_cache_dir

    def ids(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.yaml") if _ID_RE.match(p.stem))

    def path(self, persona_id: str) -> Path:
        if not _ID_RE.match(persona_id) or persona_id not in self.ids():
            raise UnknownPersonaError(persona_id, self.ids())
        return self.directory / f"{persona_id}.yaml"

    def load(self, persona_id: str) -> Persona:
        return load_persona_file(self.path(persona_id), self.face_cache_dir)

    def portrait(self, persona: Persona) -> Path | None:
        if not persona.avatar.image:
            return None
        return resolve_asset(self.path(persona.id), persona.avatar.image)

    def check(self, paths: list[Path] | None = None) -> FolderReport:
        """Load each given file (a folder: its ``*.yaml``; default: this folder) on its own.

        So a bad file reports all its problems, the next files are still checked, and the good
        ones are returned loaded.
        """
        report = FolderReport(files=[])
        targets: list[Path] = []
        for p in paths or [self.directory]:
            if _is_dir(p):
                found = sorted(p.glob("*.yaml"))
                if not found:
                    report.issues.append(
                        PersonaIssue(_display(p), None, "", "no persona files found")
                    )
                targets += found
            elif paths:
                targets.append(p)
            else:
                report.issues.append(
                    PersonaIssue(_display(p), None, "", "personas folder not found")
                )
        report.files = [_display(p) for p in targets]
        for p in targets:
            try:
                persona = load_persona_file(p, self.face_cache_dir)
            except PersonaError as exc:
                report.issues.extend(exc.issues)
            else:
                report.personas[persona.id] = persona
        return report

    def validate(self, paths: list[Path] | None = None) -> list[PersonaIssue]:
        """Validate the given files (default: every persona); return all problems found."""
        return self.check(paths).issues
