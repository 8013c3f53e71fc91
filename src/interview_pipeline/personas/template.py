"""Spoken-line templates: ``{candidate_name}`` placeholders, refused if odd, filled safely.

The syntax is the part of ``str.format`` personas always used: ``{name}`` and ``{{``/``}}`` for
literal braces. Lines are *not* rendered with ``str.format``, though: its format specs and
conversions are code a product person can write by accident. ``{candidate_name:>99999999}``
renders 100 MB, ``{candidate_name:d}`` raises mid-interview, ``{x!r}``/``{x.attr}``/``{x[0]}``
expose Python internals. Validation refuses each with a reason; rendering only substitutes
known names and leaves anything else as written, so it can neither raise nor grow beyond the
line plus the values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Placeholders a line template may use; anything else in braces is an error.
PLACEHOLDERS = frozenset(
    {"candidate_name", "interviewer_name", "company_name", "role_title", "question_count"}
)

_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN = 40  # longest placeholder quoted in a message


def _allowed() -> str:
    return ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))


def _quote(token: str) -> str:
    return token if len(token) <= _SHOWN else token[: _SHOWN - 2] + "…}"


def _token_problem(token: str) -> str | None:
    """Why one brace token is not allowed, or None for ``{{``, ``}}`` and known names."""
    if token in ("{{", "}}"):
        return None
    if token == "{":
        return "unclosed '{' (write '{{' for a literal brace)"
    if token == "}":
        return "single '}' (write '}}' for a literal brace)"
    inner = token[1:-1]
    if inner in PLACEHOLDERS:
        return None
    special = re.search(r"[!:.\[]", inner)
    name = inner[: special.start()] if special else inner
    fix = f"; write {{{name}}}" if name in PLACEHOLDERS else f" (allowed: {_allowed()})"
    if special is None:
        if not inner:
            return f"empty placeholder {{}} (allowed: {_allowed()})"
        return f"unknown placeholder {_quote(token)} (allowed: {_allowed()})"
    what = {
        "!": "conversions (!r, !s, !a) are",
        ":": "format specs (:...) are",
        ".": "attribute access (.name) is",
        "[": "index access ([...]) is",
    }[special.group()]
    return f"{what} not allowed in placeholders: {_quote(token)}{fix}"


def template_problem(text: str) -> str | None:
    """The first thing wrong with a template, for the validation message; None if it is fine."""
    for match in _TOKEN.finditer(text):
        problem = _token_problem(match.group())
        if problem is not None:
            return problem
    return None


def check_template(text: str) -> str:
    """Pydantic validator: the template unchanged, or ValueError naming the problem."""
    problem = template_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def render_template(text: str, values: Mapping[str, str]) -> str:
    """Fill known placeholders; never raises, and leaves what is not a placeholder as written.

    On a template that passed validation this equals ``text.format(**values)``.
    """

    def fill(match: re.Match[str]) -> str:
        token = match.group()
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        inner = token[1:-1]
        if _NAME.fullmatch(inner) and inner in values:
            return str(values[inner])
        return token

    return _TOKEN.sub(fill, text)
