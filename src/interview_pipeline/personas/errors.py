"""The one shape of a persona problem: ``file:line field: message``, always a single line.

Product people read these in a terminal and in the launcher log, and editors jump to
``file:line``. The text of a problem can quote what the file contains (a key, a placeholder),
and a file can contain anything, so ``str()`` escapes what would break the line and cuts what
would flood it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A position in the persona document: keys of mappings and indexes of lists, as pydantic
#: reports them (``("questions", 2, "follow_ups")``).
Loc = tuple[int | str, ...]

#: Longest field name or message shown; a 200 KiB key would otherwise be one 200 KiB line.
_MAX_SHOWN = 200


def _one_line(text: str) -> str:
    """Escape anything a terminal would not print on this line, and cut runaway text."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return text


def field_name(loc: Loc) -> str:
    """``("questions", 2, "follow_ups")`` → ``questions[2].follow_ups``, as the docs spell it."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass(frozen=True)
class PersonaIssue:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = _one_line(f"{self.file}:{self.line}" if self.line else self.file)
        message = _one_line(self.message)
        if self.field:
            return f"{where} {_one_line(self.field)}: {message}"
        return f"{where} {message}"


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
