"""The live progress the candidate page shows: question k of n and time left."""

from __future__ import annotations

from pathlib import Path

from interview_pipeline.conduct.conductor import InterviewConductor
from interview_pipeline.personas import PersonaLibrary

PERSONAS = Path(__file__).resolve().parents[2] / "personas"


def test_progress_names_question_k_of_n_and_time_left() -> None:
    persona = PersonaLibrary(PERSONAS).load("alex")
    conductor = InterviewConductor(persona, "Sam")
    opening = conductor.plan.opening()
    before = conductor.progress(opening)
    assert before == {
        "type": "interview-progress",
        "step": "opening",
        "question_id": "background",
        "question": 1,
        "total": 3,
        "time_left_s": None,
    }
    conductor.plan.start_clock()
    after = conductor.progress(conductor.plan.next_question("an answer"))
    assert after["question"] == 2 and after["question_id"] == "debugging"
    assert 0 < after["time_left_s"] <= persona.time_budget_s
