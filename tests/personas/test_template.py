"""Line templates: odd placeholders are refused with a reason; rendering never fails or grows."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from interview_pipeline.personas.template import (
    PLACEHOLDERS,
    check_template,
    render_template,
    template_problem,
)

VALUES = {name: f"<{name}>" for name in PLACEHOLDERS}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi {candidate_name:>99999999}", "format specs (:...) are not allowed in placeholders:"),
        ("Hi {candidate_name:d}", "format specs (:...) are not allowed"),
        ("Hi {candidate_name!r}", "conversions (!r, !s, !a) are not allowed"),
        ("Hi {candidate_name.__class__}", "attribute access (.name) is not allowed"),
        ("Hi {candidate_name[0]}", "index access ([...]) is not allowed"),
        ("Hi {candidate}", "unknown placeholder {candidate} (allowed: {candidate_name},"),
        ("Hi {0}", "unknown placeholder {0}"),
        ("Hi {}", "empty placeholder {}"),
        ("Hi {candidate_name", "unclosed '{' (write '{{' for a literal brace)"),
        ("Hi candidate_name}", "single '}' (write '}}' for a literal brace)"),
        ("{a{candidate_name}}", "unclosed '{'"),
    ],
)
def test_odd_placeholders_are_refused_with_a_reason(text: str, expected: str) -> None:
    problem = template_problem(text)
    assert problem is not None and expected in problem
    with pytest.raises(ValueError, match=r"placeholder|brace"):
        check_template(text)


def test_the_fix_is_named_when_the_name_is_known() -> None:
    problem = template_problem("{candidate_name:>9}")
    assert problem is not None and problem.endswith("; write {candidate_name}")
    problem = template_problem("{nobody!r}")
    assert problem is not None and "(allowed: {candidate_name}" in problem


def test_a_huge_placeholder_is_quoted_short() -> None:
    problem = template_problem("{" + "x" * 100_000 + "}")
    assert problem is not None and len(problem) < 300


def test_valid_templates_render_like_str_format() -> None:
    text = "Hi {candidate_name}, {{literal}} {question_count} questions}}"
    assert check_template(text) == text
    assert render_template(text, VALUES) == text.format(**VALUES)


def test_rendering_leaves_odd_placeholders_as_written() -> None:
    # A line that never went through validation (built in code) must still be safe to speak.
    for text in ("{candidate_name:>99999999}", "{candidate_name!r}", "{x.y}", "{", "}", "{}"):
        assert render_template(text, VALUES) == text


# Brace soup built from the pieces placeholders are made of, so most cases are near misses.
_BRACEY = st.lists(
    st.sampled_from(["{", "}", ":", "!", ".", "[", "]", "x", " ", "0", *sorted(PLACEHOLDERS)]),
    max_size=12,
).map("".join)


@settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.one_of(_BRACEY, st.text(max_size=60)))
def test_any_text_is_refused_or_renders_exactly_like_str_format(text: str) -> None:
    rendered = render_template(text, VALUES)  # never raises, on anything
    longest = max(len(v) for v in VALUES.values())
    assert len(rendered) <= len(text) + text.count("{") * longest
    if template_problem(text) is None:
        assert rendered == text.format(**VALUES)
