"""Read persona YAML so that no file can crash the process or exhaust its time or memory.

The product team edits these files and the launcher reads them while it serves interviews. A
file may be huge, nested thousands deep, an alias bomb (a few lines that expand to gigabytes),
or hold bytes YAML forbids, and ruamel's loaders answer those with recursion errors, endless
expansion or a dozen exception types. So this module never runs a ruamel constructor: it reads
ruamel's *event* stream (an iterative state machine) once and builds plain dicts, lists and
scalars itself, checking every limit as it goes and stopping at the first one crossed. The
result holds only ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` and the line of
every key and list item, so later schema errors can name the line too.

The format needs no anchors, aliases, tags, directives or second documents (the shipped
personas use none), so they are refused outright rather than bounded.
"""

from __future__ import annotations

import bisect
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
)

from interview_pipeline.personas.errors import Loc, PersonaError, PersonaIssue, field_name

#: Largest persona file read. The shipped ones are ~3 KiB; 50 long questions stay under 64 KiB.
MAX_BYTES = 256 * 1024
#: Deepest nesting of mappings and lists; the format itself needs 4
#: (persona → questions → a question → good_answer_mentions).
MAX_DEPTH = 10
#: Most keys, values and list items in one file; a 50-question persona has about 2,000. This,
#: not the byte cap, bounds parsing time: ruamel needs tens of microseconds per value.
MAX_VALUES = 10_000
#: Longest number written out; longer ones are typos, and Python refuses to parse decimal
#: integers past 4,300 digits.
MAX_NUMBER_CHARS = 100
#: Lines with forbidden characters reported one by one before the rest are summed up.
_MAX_CHAR_ISSUES = 20

# Characters YAML forbids in a file, plus the line breaks editors and ruamel count differently
# (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR): refused, so line numbers mean one thing.
_FORBIDDEN_RAW = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
# Characters no spoken line, name or path should hold, reachable through "\x07"-style escapes;
# lone surrogates ("\ud800") would also fail the first time the text is encoded as UTF-8.
_FORBIDDEN_IN_VALUE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# YAML 1.2 core schema for unquoted scalars; anything else (dates included) stays text.
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9][0-9_]*")
_BASED_INT = re.compile(r"0(?:o[0-7][0-7_]*|x[0-9a-fA-F][0-9a-fA-F_]*|b[01][01_]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")


@dataclass
class ParsedYaml:
    """The document as plain Python values and the 1-based line of every key and list item."""

    value: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """Line of the deepest part of ``loc`` present in the file (a missing field's parent)."""
        for end in range(len(loc), 0, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return self.lines.get((), 1)

    def loc_at(self, line: int) -> Loc:
        """The field a line belongs to: the last key or item starting at or before it."""
        best: Loc = ()
        best_line = 0
        for loc, start in self.lines.items():
            if start <= line and (start, len(loc)) > (best_line, len(best)):
                best, best_line = loc, start
        return best


def read_text(path: Path, display: str) -> str:
    """The file's text, read without blocking on a FIFO or device and never past the cap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _fatal(display, None, (), "file not found") from None
    except (OSError, ValueError) as exc:
        raise _fatal(display, None, (), f"unreadable: {_reason(exc)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _fatal(display, None, (), "not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _fatal(display, None, (), f"unreadable: {_reason(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_BYTES:
        msg = f"file is larger than {MAX_BYTES // 1024} KiB (see personas/README.md, Limits)"
        raise _fatal(display, 1, (), msg)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(re.findall(rb"\r\n|\r|\n", data[: exc.start])) + 1  # YAML's line breaks
        msg = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        raise _fatal(display, line, (), msg) from None


def parse_yaml(text: str, display: str) -> ParsedYaml:
    """Build the document from ``text``; raise PersonaError with every problem found."""
    if _FORBIDDEN_RAW.search(text) is None:
        return _Builder(display).build(text)
    # Find which field each bad character is in from a copy with them blanked out (same
    # offsets, so same lines); that copy may fail for other reasons, the lines seen still help.
    builder = _Builder(display)
    try:
        builder.build(_FORBIDDEN_RAW.sub(" ", text))
    except PersonaError:
        pass
    issues: list[PersonaIssue] = []
    for line, col, char in _first_per_line(text):
        if len(issues) == _MAX_CHAR_ISSUES:
            issues.append(PersonaIssue(display, line, "", "more lines with such characters"))
            break
        msg = f"forbidden character U+{ord(char):04X} at column {col}; delete it"
        issues.append(PersonaIssue(display, line, field_name(builder.doc.loc_at(line)), msg))
    raise PersonaError(issues)


def _first_per_line(text: str) -> Iterator[tuple[int, int, str]]:
    """(line, column, character) of the first forbidden character of each line that has one.

    Jumps to the next line after each hit, so a file of nothing but NUL bytes costs one search
    per reported line, not one per byte.
    """
    starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
    line = 0
    hit = _FORBIDDEN_RAW.search(text)
    while hit is not None:
        line = bisect.bisect_right(starts, hit.start(), lo=line) - 1
        yield line + 1, hit.start() - starts[line] + 1, hit.group()
        if line + 1 >= len(starts):
            return
        hit = _FORBIDDEN_RAW.search(text, starts[line + 1])


@dataclass
class _Open:
    """A mapping or list being filled; ``key`` is set between a mapping's key and its value."""

    container: dict[str, Any] | list[Any]
    loc: Loc
    key: str | None = None
    keep: bool = True  # False for the value of a duplicate key: parsed, then dropped


class _Builder:
    def __init__(self, display: str):
        self.display = display
        self.doc = ParsedYaml(None)
        self.issues: list[PersonaIssue] = []
        self.stack: list[_Open] = []
        self.values = 0
        self.documents = 0
        self.line = 1  # of the last event, for the rare error that carries no position

    def build(self, text: str) -> ParsedYaml:
        try:
            for event in YAML(typ="safe", pure=True).parse(text):
                self._event(event)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else self.line
            problem = exc.problem or exc.context or "invalid YAML"
            raise self._stop(line, self._here(), f"invalid YAML: {problem}") from None
        except YAMLError as exc:  # the reader's own checks; the text was screened already
            raise self._stop(self.line, (), f"invalid YAML: {exc}") from None
        if self.issues:
            raise PersonaError(self.issues)
        return self.doc

    def _here(self) -> Loc:
        """Where the next event goes: the pending key, the next list item, or the root."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            return (*top.loc, len(top.container))
        return (*top.loc, top.key) if top.key is not None else top.loc

    def _stop(self, line: int | None, loc: Loc, message: str) -> PersonaError:
        return PersonaError(
            [*self.issues, PersonaIssue(self.display, line, field_name(loc), message)]
        )

    def _event(self, event: Any) -> None:
        line = self.line = event.start_mark.line + 1
        if isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise self._stop(line, (), "only one document per file (remove the second '---')")
            if event.version or event.tags:
                raise self._stop(line, (), "YAML directives (%YAML, %TAG) are not allowed")
            return
        if isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            self.stack.pop()
            self._placed()
            return
        if not isinstance(event, (ScalarEvent, CollectionStartEvent, AliasEvent)):
            return  # stream start/end, document end
        loc = self._here()
        if isinstance(event, AliasEvent):
            raise self._stop(line, loc, "aliases (*name) are not allowed; write the value out")
        if event.anchor is not None:
            raise self._stop(line, loc, "anchors (&name) are not allowed; write the value out")
        if event.tag is not None:
            raise self._stop(line, loc, "YAML tags (!name) are not allowed; remove it")
        self.values += 1
        if self.values > MAX_VALUES:
            raise self._stop(line, loc, f"more than {MAX_VALUES} keys and values in one file")
        top = self.stack[-1] if self.stack else None
        if top is not None and isinstance(top.container, dict) and top.key is None:
            self._key(event, top, line)
        elif isinstance(event, ScalarEvent):
            self._put(self._scalar(event, loc, line), loc, line)
            self._placed()
        else:
            if len(self.stack) >= MAX_DEPTH:
                raise self._stop(line, loc, f"nested more than {MAX_DEPTH} levels deep")
            container: dict[str, Any] | list[Any] = (
                {} if isinstance(event, MappingStartEvent) else []
            )
            keep = self._put(container, loc, line)
            self.stack.append(_Open(container, loc, keep=keep))

    def _key(self, event: Any, top: _Open, line: int) -> None:
        if not isinstance(event, ScalarEvent):
            raise self._stop(line, top.loc, "a key must be a plain name, not a list or mapping")
        key = str(event.value)
        loc = (*top.loc, key)
        self._check_text(key, loc, line)
        assert isinstance(top.container, dict)
        if key in top.container:
            first = self.doc.lines.get(loc)
            where = f" (first on line {first})" if first else ""
            msg = f"duplicate key{where}; keep one"
            self.issues.append(PersonaIssue(self.display, line, field_name(loc), msg))
        self.doc.lines.setdefault(loc, line)  # a mapping entry is at its key's line
        top.key = key

    def _put(self, value: Any, loc: Loc, line: int) -> bool:
        """Attach a value where it belongs; False when it is dropped (duplicate key)."""
        if not self.stack:
            self.doc.value = value
            self.doc.lines[()] = line
            return True
        top = self.stack[-1]
        if not top.keep:
            return False
        if isinstance(top.container, list):
            top.container.append(value)
            self.doc.lines[loc] = line
            return True
        assert top.key is not None
        if top.key in top.container:
            return False
        top.container[top.key] = value  # its line is the key's, recorded in _key
        return True

    def _placed(self) -> None:
        """A value is complete: its mapping now expects the next key."""
        if self.stack and isinstance(self.stack[-1].container, dict):
            self.stack[-1].key = None

    def _scalar(self, event: ScalarEvent, loc: Loc, line: int) -> Any:
        text = str(event.value)
        if event.style is not None:  # quoted or block: always text
            self._check_text(text, loc, line)
            return text
        if text in _NULL:
            return None
        if text in _BOOL:
            return _BOOL[text]
        if _INF.fullmatch(text):
            return float("-inf" if text[0] == "-" else "inf")
        if _NAN.fullmatch(text):
            return float("nan")
        number = _INT.fullmatch(text) or _BASED_INT.fullmatch(text) or _FLOAT.fullmatch(text)
        if number and len(text) > MAX_NUMBER_CHARS:
            msg = f"number longer than {MAX_NUMBER_CHARS} characters"
            self.issues.append(PersonaIssue(self.display, line, field_name(loc), msg))
            return None
        try:
            if _INT.fullmatch(text):
                return int(text.replace("_", ""))
            if _BASED_INT.fullmatch(text):
                return int(text[2:].replace("_", ""), {"o": 8, "x": 16, "b": 2}[text[1]])
            if _FLOAT.fullmatch(text):
                return float(text.replace("_", ""))
        except ValueError:
            pass
        self._check_text(text, loc, line)
        return text

    def _check_text(self, text: str, loc: Loc, line: int) -> None:
        bad = _FORBIDDEN_IN_VALUE.search(text)
        if bad:
            msg = f"contains the control character U+{ord(bad.group()):04X}; remove it"
            self.issues.append(PersonaIssue(self.display, line, field_name(loc), msg))


def _fatal(display: str, line: int | None, loc: Loc, message: str) -> PersonaError:
    return PersonaError([PersonaIssue(display, line, field_name(loc), message)])


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(
        exc
    ).__name__
