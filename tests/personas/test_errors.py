"""A persona problem is always one line, whatever the file it quotes contains."""

from __future__ import annotations

from interview_pipeline.personas.errors import PersonaError, PersonaIssue, field_name


def test_the_shape_is_file_line_field_message() -> None:
    issue = PersonaIssue("personas/alex.yaml", 14, "questions[2].follow_ups", "must be >= 0")
    assert str(issue) == "personas/alex.yaml:14 questions[2].follow_ups: must be >= 0"
    assert str(PersonaIssue("p.yaml", 1, "", "must be a mapping")) == "p.yaml:1 must be a mapping"
    assert str(PersonaIssue("p.yaml", None, "", "file not found")) == "p.yaml file not found"


def test_field_names_are_spelled_as_the_docs_do() -> None:
    assert field_name(("questions", 2, "follow_ups")) == "questions[2].follow_ups"
    assert field_name(()) == ""


def test_line_breaks_and_control_characters_from_the_file_are_escaped() -> None:
    issue = PersonaIssue("p.yaml", 3, "bad\nkey\x07", "unknown field\r\u2028")
    assert str(issue) == "p.yaml:3 bad\\nkey\\x07: unknown field\\r\\u2028"
    assert "\n" not in str(PersonaError([issue]))


def test_runaway_text_is_cut() -> None:
    issue = PersonaIssue("p.yaml", 3, "k" * 100_000, "m" * 100_000)
    assert len(str(issue)) < 500 and str(issue).endswith("…")
