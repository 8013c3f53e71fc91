"""Load persona YAML with errors a product person can act on: file, line, field, reason.

ruamel's round-trip loader keeps the line of every key and list item, so a pydantic error
location such as ``("questions", 2, "follow_ups")`` maps back to the line to fix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from interview_pipeline.personas.schema import Persona

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class PersonaIssue:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where} {self.field}: {self.message}" if self.field else f"{where} {self.message}"


class PersonaError(Exception):
    """One or more problems in persona files; ``str()`` gives one line per problem."""

    def __init__(self, issues: list[PersonaIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class UnknownPersonaError(PersonaError):
    def __init__(self, persona_id: str, known: list[str]):
        self.persona_id = persona_id
        self.known = known
        msg = f"unknown persona {persona_id!r}; known: {', '.join(known) or '(none)'}"
        super().__init__([PersonaIssue("personas", None, "", msg)])


def _display(path: Path) -> str:
    """Relative to the working directory when inside it (as a person typed it), else absolute."""
    absolute = path.resolve()
    cwd = Path(os.getcwd()).resolve()
    if absolute == cwd or cwd in absolute.parents:
        return str(absolute.relative_to(cwd))
    return str(absolute)


def _field_name(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the deepest node of ``loc`` that exists in the YAML."""
    node, line = doc, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    if line is None and isinstance(doc, CommentedMap):
        line = doc.lc.line + 1
    return line


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
    }
    if kind in simple:
        return simple[kind].format(**ctx)
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; see personas/README.md)"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        return "must be a safe id: lowercase letters, digits, '-' or '_' (max 64)"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"]


def _issues(display: str, doc: Any, exc: ValidationError) -> list[PersonaIssue]:
    issues = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        issues.append(PersonaIssue(display, _line_of(doc, loc), _field_name(loc), _message(err)))
    return issues


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def load_persona_file(path: Path) -> Persona:
    """Parse and validate one persona file; raise PersonaError naming file and line."""
    display = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PersonaError([PersonaIssue(display, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PersonaError([PersonaIssue(display, None, "", f"unreadable: {exc}")]) from None
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = exc.problem or "invalid YAML"
        raise PersonaError([PersonaIssue(display, line, "", f"invalid YAML: {problem}")]) from None
    if not isinstance(doc, CommentedMap):
        raise PersonaError([PersonaIssue(display, 1, "", "must be a mapping of fields")])
    try:
        persona = Persona.model_validate(_plain(doc))
    except ValidationError as exc:
        raise PersonaError(_issues(display, doc, exc)) from None
    issues = [i for i in _file_checks(persona, path, doc, display)]
    if issues:
        raise PersonaError(issues)
    return persona


def _file_checks(persona: Persona, path: Path, doc: Any, display: str) -> list[PersonaIssue]:
    """Checks that need the file system: the id matches the file, the portrait exists."""
    issues = []
    if persona.id != path.stem:
        issues.append(
            PersonaIssue(
                display, _line_of(doc, ("id",)), "id", f"must match the file name ({path.stem!r})"
            )
        )
    if persona.avatar.image:
        image = resolve_asset(path, persona.avatar.image)
        line = _line_of(doc, ("avatar", "image"))
        if image is None:
            issues.append(
                PersonaIssue(
                    display, line, "avatar.image", "must be a path inside the personas folder"
                )
            )
        elif not image.is_file():
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
    return issues


def resolve_asset(persona_file: Path, relative: str) -> Path | None:
    """A file referenced by a persona, refusing anything outside the persona's folder."""
    base = persona_file.resolve().parent
    candidate = (base / relative).resolve()
    if base != candidate and base not in candidate.parents:
        return None
    return candidate


class PersonaLibrary:
    """The personas folder: lookup by id with path traversal refused."""

    def __init__(self, directory: Path):
        self.directory = directory

    def ids(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.yaml") if _ID_RE.match(p.stem))

    def path(self, persona_id: str) -> Path:
        if not _ID_RE.match(persona_id) or persona_id not in self.ids():
            raise UnknownPersonaError(persona_id, self.ids())
        return self.directory / f"{persona_id}.yaml"

    def load(self, persona_id: str) -> Persona:
        return load_persona_file(self.path(persona_id))

    def portrait(self, persona: Persona) -> Path | None:
        if not persona.avatar.image:
            return None
        return resolve_asset(self.path(persona.id), persona.avatar.image)

    def validate(self, paths: list[Path] | None = None) -> list[PersonaIssue]:
        """Validate the given files (default: every persona); return all problems found."""
        issues: list[PersonaIssue] = []
        targets = paths if paths else sorted(self.directory.glob("*.yaml"))
        if not targets:
            issues.append(
                PersonaIssue(_display(self.directory), None, "", "no persona files found")
            )
        for p in targets:
            try:
                load_persona_file(p)
            except PersonaError as exc:
                issues.extend(exc.issues)
        return issues
