"""Property tests: whatever a persona file holds, loading ends in a persona or in file:line issues.

Mutations of a shipped persona, both of its structure (random values, types and nesting put
anywhere, keys dropped) and of its text (hostile snippets and random characters spliced in at
random offsets): loading never raises anything but PersonaError, never hits the loader's
"internal error" fallback, every issue is one ``file:line field: message`` line, and a persona
that does load renders every line without raising or growing past its placeholders.
Derandomized and bounded (a few seconds) so the suite stays stable on a shared machine.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from interview_pipeline.personas import Persona, PersonaError, load_persona_file

ROOT = Path(__file__).resolve().parents[2]
BASE_TEXT = (ROOT / "personas" / "maya.yaml").read_text(encoding="utf-8")
BASE: dict[str, Any] = YAML(typ="safe", pure=True).load(BASE_TEXT)
NAME = "maya.yaml"  # the id must match the file name for an unmutated persona to load
CANDIDATE = "C" * 120  # the longest name the launcher accepts

BOUNDED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module", autouse=True)
def _in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Work in a scratch folder so issues name the file as a person would type it."""
    before = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("persona-props"))
    yield
    os.chdir(before)


def assert_loads_or_reports(content: bytes) -> None:
    Path(NAME).write_bytes(content)
    try:
        persona = load_persona_file(Path(NAME))
    except PersonaError as exc:
        assert exc.issues
        lines = len(re.split(rb"\r\n|\r|\n", content))  # YAML's line breaks
        for issue in exc.issues:
            shown = str(issue)
            assert "internal error" not in shown, shown
            assert issue.file == NAME and issue.line is not None, shown
            assert 1 <= issue.line <= lines, shown
            assert shown.startswith(f"{NAME}:{issue.line} "), shown
            assert shown.isprintable() and issue.message, shown
        assert str(exc).splitlines() == [str(i) for i in exc.issues]
    else:
        assert_renders(persona)


def assert_renders(persona: Persona) -> None:
    spoken = [persona.opening, persona.closing, persona.silence.nudge_line]
    for line in spoken + [q.text for q in persona.questions]:
        rendered = persona.render(line, CANDIDATE)
        assert len(rendered) <= len(line) + line.count("{") * len(CANDIDATE)
        # a validated line means what it always meant
        assert rendered == line.format(**persona.placeholders(CANDIDATE))


# --- structure ------------------------------------------------------------------------------

_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),  # any code point but surrogates, control characters included
    st.lists(
        st.sampled_from(
            ["{", "}", "{{", "}}", "candidate_name", ":>99999999", "!r", ".__class__", "[0]"]
            + ["\x00", "\x07", "\x1b", "\u2028", "\t", "\n", " ", "x", "&a", "*a", "!!str"]
        ),
        max_size=10,
    ).map("".join),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # nan and infinities included
    _HOSTILE_TEXT,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_HOSTILE_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
_DEEP = st.integers(min_value=1, max_value=40).map(lambda n: _nest(n))


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def _mutate(data: st.DataObject, doc: Any) -> Any:
    """Replace or drop one value somewhere in ``doc`` (a copy), chosen by walking down."""
    if not isinstance(doc, (dict, list)) or not doc or data.draw(st.integers(0, 3)) == 0:
        return data.draw(st.one_of(_VALUES, _DEEP, _HOSTILE_TEXT))
    if isinstance(doc, dict):
        key = data.draw(st.sampled_from(sorted(doc)))
        out = dict(doc)
        action = data.draw(st.sampled_from(["descend", "descend", "drop", "add"]))
        if action == "drop":
            del out[key]
        elif action == "add":
            out[data.draw(_HOSTILE_TEXT)] = data.draw(_VALUES)
        else:
            out[key] = _mutate(data, doc[key])
        return out
    index = data.draw(st.integers(0, len(doc) - 1))
    items = list(doc)
    items[index] = _mutate(data, doc[index])
    return items


def _dump(doc: Any) -> bytes:
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.allow_unicode = True
    yaml.dump(doc, stream)
    return stream.getvalue().encode("utf-8")


@settings(BOUNDED, max_examples=250)
@given(st.data())
def test_structural_mutations_load_or_report_file_line_issues(data: st.DataObject) -> None:
    doc: Any = BASE
    for _ in range(data.draw(st.integers(1, 4))):
        doc = _mutate(data, doc)
    assert_loads_or_reports(_dump(doc))


# --- text -----------------------------------------------------------------------------------

_SNIPPETS = st.one_of(
    st.sampled_from(
        [
            b"\x00",
            b"\x07",
            b"\x1b",
            b"\x7f",
            b"\xc2\x85",  # NEL
            b"\xe2\x80\xa8",  # LINE SEPARATOR
            b"\xef\xbb\xbf",  # BOM
            b"\xff",  # not UTF-8
            b"\xed\xa0\x80",  # an encoded surrogate: not UTF-8 either
            b"\t",
            b"\r",
            b"\n",
            b"\n  ",
            b"\n- ",
            b": ",
            b"? ",
            b"#",
            b"'",
            b'"',
            b"\\",
            b'"\\ud800"',
            b'"\\x07"',
            b"{",
            b"}",
            b"{candidate_name:>99999999}",
            b"{candidate_name!r}",
            b"{candidate_name.__class__}",
            b"{candidate_name[0]}",
            b"{nobody}",
            b"&a ",
            b"*a",
            b"!!python/object/apply:os.system ",
            b"!custom ",
            b"<<: ",
            b"---\n",
            b"...\n",
            b"%YAML 1.1\n",
            b"%TAG ! tag:x,2000:\n",
            b".inf",
            b".nan",
            b"~",
            b"2024-13-45",
            b"0x",
            b"1_",
            b"9" * 5000,
            b"[" * 200,
            b"]" * 50,
            b"{a: " * 30,
        ]
    ),
    st.text(max_size=8).map(lambda s: s.encode("utf-8")),
    st.binary(max_size=4),
)


@settings(BOUNDED, max_examples=400)
@given(st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), _SNIPPETS), min_size=1, max_size=5))
def test_text_mutations_load_or_report_file_line_issues(
    edits: list[tuple[float, int, bytes]],
) -> None:
    content = BASE_TEXT.encode("utf-8")
    for where, cut, snippet in edits:
        at = int(where * len(content))
        content = content[:at] + snippet + content[at + cut :]
    assert_loads_or_reports(content)


def test_the_unmutated_persona_loads() -> None:
    # Guards the properties above: mutations start from a persona that does load.
    assert_loads_or_reports(BASE_TEXT.encode("utf-8"))
    assert load_persona_file(Path(NAME)).id == "maya"
