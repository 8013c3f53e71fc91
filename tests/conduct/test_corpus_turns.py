"""Turn-taking on corpus answers in voices the product did not make (flite, espeak-ng).

The real pipeline (Whisper, Silero, Smart Turn, Piper, scripted interviewer) hears answers
from tests/fixtures/corpus with a thinking pause after a complete sentence, after a
conjunction and after a filler. With the shipped patience nothing is cut into and no
question is lost; with a deliberately impatient persona the interviewer does take the turn
inside a pause, and the false end of turn must be undone: the reply stops, the plan goes
back, the answer stays one answer and the next question is asked once, after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interview_pipeline.audio import load_pcm16
from interview_pipeline.config import Settings
from interview_pipeline.personas import PersonaLibrary
from interview_pipeline.personas.schema import Avatar, AvatarRenderer, Persona
from interview_pipeline.simulate import SimulationResult, run_simulation
from interview_pipeline.transports.replay import ReplayAnswer

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus" / "wav"
RATE_LIMITER = "How would you design a rate limiter for our public API?"


def _persona(settings: Settings, question_ids: list[str], **turn_taking: float) -> Persona:
    alex = PersonaLibrary(settings.personas_dir).load("alex")
    pool = {q.id: q for q in alex.questions}
    pool["rate_limiter"] = alex.questions[0].model_copy(
        update={"id": "rate_limiter", "text": RATE_LIMITER, "good_answer_mentions": []}
    )
    questions = [pool[q].model_copy(update={"follow_ups": 0}) for q in question_ids]
    return alex.model_copy(
        update={
            "opening": "Hi {candidate_name}.",
            "closing": "Thank you, {candidate_name}. Goodbye!",
            "questions": questions,
            "avatar": Avatar(renderer=AvatarRenderer.NONE),
            "turn_taking": alex.turn_taking.model_copy(update=turn_taking),
        }
    )


def _answer(name: str) -> tuple[ReplayAnswer, dict[str, float]]:
    timing = json.loads((CORPUS / f"{name}.json").read_text())
    pcm = load_pcm16(CORPUS / f"{name}.wav")
    return ReplayAnswer(pcm, 0.8, speech_end_s=timing["speech_end_s"]), timing


def _cut_ins(result: SimulationResult, timings: list[dict[str, float]]) -> int:
    """Interviewer lines that began inside an answer (between its start and end of speech)."""
    cuts = 0
    for entry, timing in zip(result.metrics["turns"], timings, strict=False):
        end = entry["speech_end_s"]
        start = end - timing["speech_end_s"] + timing["speech_start_s"]
        cuts += sum(
            1 for t in result.turns if t.speaker == "interviewer" and start + 0.3 < t.start < end
        )
    return cuts


def _asked_once_and_heard(result: SimulationResult, persona: Persona) -> None:
    for q in persona.questions:
        asking = [t for t in result.turns if t.speaker == "interviewer" and q.text in t.text]
        assert len(asking) == 1 and not asking[0].interrupted, (q.id, asking)


async def test_thinking_pauses_in_other_voices_are_waited_out(
    settings: Settings, tmp_path: Path
) -> None:
    names = ["i06-databases", "i04-debugging", "i06-rate_limiter"]  # sentence, "and", "um"
    persona = _persona(settings, ["databases", "debugging", "rate_limiter"])
    loaded = [_answer(n) for n in names]
    result = await run_simulation(
        settings, persona, [a for a, _ in loaded], tmp_path / "run", echo=print, with_avatar=False
    )
    assert result.outcome == "completed"
    assert _cut_ins(result, [t for _, t in loaded]) == 0
    assert result.questions_asked == ["databases", "debugging", "rate_limiter"]
    _asked_once_and_heard(result, persona)
    answers = [t.question_id for t in result.turns if t.speaker == "candidate"]
    assert answers == ["databases", "debugging", "rate_limiter"]  # one answer each, in order


async def test_false_end_of_turn_is_undone_and_the_reply_rebuilt(
    settings: Settings, tmp_path: Path
) -> None:
    # Impatient on purpose: replies 0.8-1 s into any pause, so it cuts into the 2.5 s one.
    persona = _persona(
        settings,
        ["databases", "background"],
        min_pause_s=0.8,
        max_thinking_pause_s=1.0,
        full_answer_words=1,
        resume_window_s=5.0,
    )
    loaded = [_answer("i06-databases"), _answer("i12-background")]
    result = await run_simulation(
        settings, persona, [a for a, _ in loaded], tmp_path / "run", echo=print, with_avatar=False
    )
    said = [t for t in result.turns if t.speaker == "interviewer"]
    cut = [t for t in said if t.kind == "cut_off"]
    assert cut and cut[0].interrupted, "the impatient interviewer should have cut in"
    assert cut[0].question_id == "databases"  # the line asked nothing: still on databases
    # Both parts of the paused answer are answers to databases, not to background.
    heard = [t for t in result.turns if t.speaker == "candidate"]
    assert [t.question_id for t in heard[:2]] == ["databases", "databases"]
    assert "query plan" in heard[0].text.lower() and "index" in heard[1].text.lower()
    # The rebuilt reply asks background once, after the whole answer, and it is answered.
    _asked_once_and_heard(result, persona)
    asking = next(t for t in said if persona.questions[1].text in t.text)
    assert asking.start > heard[1].end
    assert result.questions_asked == ["databases", "background"]
    assert result.outcome == "completed"
