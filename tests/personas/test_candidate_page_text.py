"""The persona's candidate-page text: the consent notice and the end screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from interview_pipeline.personas import PersonaError, load_persona_file
from interview_pipeline.personas.schema import DEFAULT_CONSENT_TEXT

from .test_loader import GOOD, write


def test_defaults_say_recorded_ai_evaluated_and_kept(tmp_path: Path) -> None:
    persona = load_persona_file(write(tmp_path, GOOD.format(id="p")))
    assert persona.consent.text == DEFAULT_CONSENT_TEXT and persona.consent.version
    shown = persona.render(persona.consent.text, "Sam")
    for needed in ("AI interviewer", "recorded", "evaluated by an AI", "kept for", "Acme"):
        assert needed in shown
    assert "Sam" in persona.render(persona.end_screen, "Sam")


def test_own_wording_and_version(tmp_path: Path) -> None:
    text = GOOD.format(id="p") + (
        "consent:\n  version: acme-7\n  text: Recorded by {company_name}.\n"
        "end_screen: We will write to you, {candidate_name}.\n"
    )
    persona = load_persona_file(write(tmp_path, text))
    assert persona.consent.version == "acme-7"
    assert persona.render(persona.consent.text, "Sam") == "Recorded by Acme."
    assert persona.render(persona.end_screen, "Sam") == "We will write to you, Sam."


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("consent:\n  version: acme 7\n", "consent.version"),
        ("consent:\n  text: Kept by {company}.\n", "consent.text"),
        ("consent:\n  wording: x\n", "consent.wording"),
        ("end_screen: Bye {score}\n", "end_screen"),
    ],
)
def test_bad_text_names_file_line_and_field(tmp_path: Path, block: str, field: str) -> None:
    text = GOOD.format(id="p") + block
    with pytest.raises(PersonaError) as err:
        load_persona_file(write(tmp_path, text))
    assert "p.yaml:" in str(err.value) and f" {field}:" in str(err.value), str(err.value)
