"""Hostile persona YAML: each case is one ``file:line field: message`` line, fast and small."""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from interview_pipeline.personas import PersonaError, load_persona_file
from interview_pipeline.personas.safe_yaml import MAX_BYTES, MAX_VALUES, parse_yaml

GOOD = """\
id: p
interviewer:
  name: Test
company:
  name: Acme
  role_title: Engineer
opening: "Hi {candidate_name}"
closing: Bye
questions:
  - id: a
    text: First?
    follow_ups: 1
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so files display as "p.yaml", as a person would type them


def problems(content: str | bytes, name: str = "p.yaml") -> list[str]:
    path = Path(name)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(PersonaError) as err:
        load_persona_file(path)
    lines = str(err.value).splitlines()
    assert lines == [str(i) for i in err.value.issues]
    return lines


def billion_laughs(levels: int = 9) -> str:
    lines = ["id: p", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_a_billion_laughs_fails_at_the_first_anchor_fast_and_small() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        found = problems(billion_laughs())
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found == ["p.yaml:2 a0: anchors (&name) are not allowed; write the value out"]
    assert elapsed < 1.0
    assert peak < 5 * 2**20


def test_an_alias_is_refused_even_without_an_anchor() -> None:
    assert problems("id: p\nx: *a\n") == [
        "p.yaml:2 x: aliases (*name) are not allowed; write the value out"
    ]


def test_deep_flow_nesting_is_cut_off_at_the_limit() -> None:
    started = time.perf_counter()
    found = problems("id: p\nx: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert time.perf_counter() - started < 5.0  # ~0.5 s here; the scanner looks 1 KiB ahead
    assert found == ["p.yaml:2 x" + "[0]" * 9 + ": nested more than 10 levels deep"]


def test_deep_block_nesting_is_cut_off_at_the_limit() -> None:
    text = "a:\n" + "".join(" " * i + f"b{i}:\n" for i in range(1, 40))
    assert problems(text) == [
        "p.yaml:11 a."
        + ".".join(f"b{i}" for i in range(1, 10))
        + ": nested more than 10 levels deep"
    ]


def test_the_shipped_depth_is_well_inside_the_limit() -> None:
    # persona → questions → a question → good_answer_mentions: 4 of the 10 levels.
    doc = parse_yaml(GOOD + "    good_answer_mentions: [x, y]\n", "p.yaml")
    assert doc.value["questions"][0]["good_answer_mentions"] == ["x", "y"]


def test_a_raw_control_character_names_line_column_and_field() -> None:
    text = GOOD.replace('"Hi {candidate_name}"', '"Hi\x07 {candidate_name}"')
    assert problems(text) == [
        "p.yaml:7 opening: forbidden character U+0007 at column 13; delete it"
    ]


def test_raw_control_characters_are_reported_per_line_and_keep_windows_line_ends() -> None:
    text = GOOD.replace("name: Test", "name: Te\x00st").replace("Bye", "By\x1be")
    found = problems(text.replace("\n", "\r\n"))
    assert found == [
        "p.yaml:3 interviewer.name: forbidden character U+0000 at column 11; delete it",
        "p.yaml:8 closing: forbidden character U+001B at column 12; delete it",
    ]


def test_line_break_lookalikes_are_refused_so_line_numbers_mean_one_thing() -> None:
    found = problems(GOOD.replace("Bye", "By\u2028e"))
    assert found == ["p.yaml:8 closing: forbidden character U+2028 at column 12; delete it"]


@pytest.mark.parametrize(
    ("escape", "code"), [("\\0", "0000"), ("\\a", "0007"), ("\\ud800", "D800")]
)
def test_an_escaped_control_character_in_a_value_is_refused(escape: str, code: str) -> None:
    text = GOOD.replace('"Hi {candidate_name}"', f'"Hi{escape} {{candidate_name}}"')
    assert problems(text) == [
        f"p.yaml:7 opening: contains the control character U+{code}; remove it"
    ]


def test_a_file_over_the_size_cap_is_refused_without_parsing() -> None:
    text = GOOD + "#" * (MAX_BYTES - len(GOOD)) + "\n"
    assert problems(text) == [
        "p.yaml:1 file is larger than 256 KiB (see personas/README.md, Limits)"
    ]


def test_too_many_values_stop_the_parse() -> None:
    text = "id: p\nx: [" + ", ".join(["1"] * MAX_VALUES) + "]\n"
    started = time.perf_counter()
    # the root mapping, 'id', 'p', 'x' and the list come first
    assert problems(text) == ["p.yaml:2 x[9995]: more than 10000 keys and values in one file"]
    assert time.perf_counter() - started < 5.0


def test_tags_are_refused() -> None:
    text = GOOD.replace("id: p", "id: !!python/object/apply:os.system [p]")
    assert problems(text) == ["p.yaml:1 id: YAML tags (!name) are not allowed; remove it"]


def test_directives_and_second_documents_are_refused() -> None:
    assert problems("%YAML 1.1\n---\n" + GOOD) == [
        "p.yaml:2 YAML directives (%YAML, %TAG) are not allowed"
    ]
    assert problems(GOOD + "---\nid: q\n") == [
        "p.yaml:13 only one document per file (remove the second '---')"
    ]


def test_duplicate_keys_are_all_reported() -> None:
    text = GOOD + "id: q\nclosing: Again\n"
    assert problems(text) == [
        "p.yaml:13 id: duplicate key (first on line 1); keep one",
        "p.yaml:14 closing: duplicate key (first on line 8); keep one",
    ]


def test_a_list_as_a_key_is_refused() -> None:
    assert problems("? [a]\n: b\n") == [
        "p.yaml:1 a key must be a plain name, not a list or mapping"
    ]


def test_an_absurdly_long_number_is_refused() -> None:
    text = GOOD.replace("follow_ups: 1", "follow_ups: " + "9" * 5000)
    assert problems(text) == [
        "p.yaml:12 questions[0].follow_ups: number longer than 100 characters"
    ]


def test_invalid_yaml_names_the_line_and_nearest_field() -> None:
    assert problems("id: p\nquestions: [a\nfoo: ]\n") == [
        "p.yaml:3 questions[1]: invalid YAML: expected ',' or ']', but got ':'"
    ]


def test_not_utf8_names_the_line() -> None:
    assert problems(b"id: p\nclosing: caf\xe9\n") == [
        "p.yaml:2 not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]
    assert problems(b"id: p\r\nx: 1\ry: caf\xe9\n") == [  # old Mac line ends count too
        "p.yaml:3 not UTF-8 text (byte 0xe9); save the file as UTF-8"
    ]


def test_a_fifo_or_a_folder_is_not_read() -> None:
    os.mkfifo("f.yaml")  # reading it would block forever
    with pytest.raises(PersonaError, match=r"^f\.yaml not a regular file$"):
        load_persona_file(Path("f.yaml"))
    Path("d.yaml").mkdir()
    with pytest.raises(PersonaError, match=r"^d\.yaml not a regular file$"):
        load_persona_file(Path("d.yaml"))


def test_a_symlink_loop_is_unreadable_not_a_crash() -> None:
    os.symlink("loop_b.yaml", "loop_a.yaml")
    os.symlink("loop_a.yaml", "loop_b.yaml")
    with pytest.raises(PersonaError, match="loop_a.yaml unreadable: Too many levels"):
        load_persona_file(Path("loop_a.yaml"))


def test_an_empty_file_or_a_list_is_not_a_persona() -> None:
    assert problems("") == ["p.yaml:1 must be a mapping of fields"]
    assert problems("- a\n- b\n") == ["p.yaml:1 must be a mapping of fields"]


def test_plain_scalars_follow_yaml_1_2_and_dates_stay_text() -> None:
    doc = parse_yaml(
        "a: 0x1F\nb: 1_000\nc: -1.5e3\nd: .inf\ne: ~\nf: yes\ng: 2024-01-31\nh: '12'\ni: 0o17\n",
        "p.yaml",
    )
    assert doc.value == {
        "a": 31,
        "b": 1000,
        "c": -1500.0,
        "d": float("inf"),
        "e": None,
        "f": "yes",
        "g": "2024-01-31",
        "h": "12",
        "i": 15,
    }


def test_infinite_seconds_are_refused_by_the_schema() -> None:
    text = GOOD + "silence:\n  abandon_after_s: .inf\n"
    assert problems(text) == ["p.yaml:14 silence.abandon_after_s: must be a finite number"]


def test_a_file_of_nothing_but_nul_bytes_is_reported_in_bounded_memory() -> None:
    text = "\x00\n" * (MAX_BYTES // 2 - 1)
    tracemalloc.start()
    try:
        found = problems(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found) == 21 and found[-1] == "p.yaml:21 more lines with such characters"
    assert found[0] == "p.yaml:1 forbidden character U+0000 at column 1; delete it"
    assert peak < 16 * 2**20  # one search per reported line, not a match object per byte
