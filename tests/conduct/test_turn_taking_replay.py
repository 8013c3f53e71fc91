"""Replayed interviews: the real pipeline (Whisper, Silero, Smart Turn, Piper, scripted LLM)
hears recorded answers in real time, and we check how the interviewer takes turns.

Each test is a whole interview, so the personas are trimmed to one or two questions with
short lines; only the thinking-pause run uses Alex as shipped, as the full happy path.
The figures each run prints (questions asked, cut-ins, nudges) feed the design note.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from interview_pipeline.audio import load_pcm16, speech_end_s
from interview_pipeline.conduct.plan import OUT_OF_TIME_LINE
from interview_pipeline.config import Settings
from interview_pipeline.personas import PersonaLibrary
from interview_pipeline.personas.schema import Avatar, AvatarRenderer, Persona, Question, Silence
from interview_pipeline.simulate import SimulationResult, load_script, run_simulation
from interview_pipeline.transcript import Turn
from interview_pipeline.transports.replay import ReplayAnswer

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def alex(settings: Settings) -> Persona:
    persona = PersonaLibrary(settings.personas_dir).load("alex")
    return persona.model_copy(update={"avatar": Avatar(renderer=AvatarRenderer.NONE)})


def _short(persona: Persona, questions: list[Question], **update: Any) -> Persona:
    """A quick interview: one-line greeting and goodbye, only the given questions."""
    return persona.model_copy(
        update={
            "opening": "Hi {candidate_name}.",
            "closing": "Thank you, {candidate_name}. Goodbye!",
            "questions": questions,
            **update,
        }
    )


def _answer(name: str, **kw: Any) -> ReplayAnswer:
    pcm = load_pcm16(FIXTURES / "answers" / f"{name}.wav")
    return ReplayAnswer(pcm, kw.pop("think_s", 0.8), speech_end_s=speech_end_s(pcm), **kw)


async def _simulate(
    settings: Settings, persona: Persona, answers: list[ReplayAnswer], out: Path
) -> SimulationResult:
    return await run_simulation(
        settings, persona, answers, out, echo=lambda line: print(line), with_avatar=False
    )


def _said(result: SimulationResult) -> list[Turn]:
    return [t for t in result.turns if t.speaker == "interviewer"]


def _heard(result: SimulationResult) -> list[Turn]:
    return [t for t in result.turns if t.speaker == "candidate"]


def _windows(result: SimulationResult, answers: list[ReplayAnswer]) -> list[tuple[float, float]]:
    """(start, end of speech) of each replayed answer, on the interview's clock."""
    out = []
    for timing, answer in zip(result.metrics["turns"], answers, strict=False):
        end = timing["speech_end_s"]
        out.append((end - (answer.speech_end_s or 0.0), end))
    return out


def _cut_ins(result: SimulationResult, answers: list[ReplayAnswer]) -> int:
    """Interviewer lines that began while a (non barge-in) answer was still being spoken."""
    cuts = 0
    for (start, end), answer in zip(_windows(result, answers), answers, strict=False):
        if answer.barge_in_after_s is None:
            cuts += sum(1 for t in _said(result) if start + 0.3 < t.start < end)
    return cuts


def _figures(result: SimulationResult, persona: Persona, answers: list[ReplayAnswer]) -> None:
    nudges = sum(1 for t in _said(result) if t.kind == "nudge")
    print(
        f"FIGURES asked={len(result.questions_asked)}/{len(persona.questions)} "
        f"cut_ins={_cut_ins(result, answers)} nudges={nudges} outcome={result.outcome}"
    )


@pytest.mark.xfail(
    strict=False,
    reason="issue 10, open: when embedded Whisper takes ~2 s or more per segment (a busy 2-core "
    "machine), the late words of the segment before a thinking pause end the turn inside it; "
    "seen in the clean-clone run of 2026-12-02 and on the code before this stop's merges",
)
async def test_full_interview_with_thinking_pauses_is_never_cut_in(
    settings: Settings, alex: Persona, tmp_path: Path
) -> None:
    answers = load_script(FIXTURES / "scripts" / "alex_pauses.yaml")
    result = await _simulate(settings, alex, answers, tmp_path / "run")
    _figures(result, alex, answers)

    assert result.outcome == "completed"
    assert result.questions_asked == ["background", "debugging", "databases"]
    assert _cut_ins(result, answers) == 0
    heard = _heard(result)
    # One candidate turn per answer, including both with a 3.5-4 s pause mid-sentence.
    assert [t.question_id for t in heard] == ["background", "debugging", "databases"]
    assert "first" in heard[1].text.lower() and "logs" in heard[1].text.lower()
    assert "then" in heard[2].text.lower() and "index" in heard[2].text.lower()
    # The interviewer's next line starts after the whole answer, and without waiting out
    # the max pause once the answer is really over.
    for i, (_, end) in enumerate(_windows(result, answers)):
        v2v = result.metrics["turns"][i]["voice_to_voice_s"]
        assert v2v is not None and 0 < v2v < 3.5, (i, v2v)
        assert next(t for t in _said(result) if t.start > end - 0.3).start > end
    assert not any(t.kind in ("nudge", "repeat") for t in _said(result))


async def test_silence_nudges_then_repeats_then_ends_as_abandoned(
    settings: Settings, alex: Persona, tmp_path: Path
) -> None:
    persona = _short(
        alex,
        [alex.question("databases")],
        silence=Silence(nudge_after_s=2, repeat_after_s=4, abandon_after_s=7),
    )
    result = await _simulate(settings, persona, [], tmp_path / "run")
    _figures(result, persona, [])

    assert result.outcome == "abandoned"
    said = _said(result)
    assert [t.kind for t in said] == ["opening", "nudge", "repeat", "closing"]
    assert said[1].text == persona.silence.nudge_line
    assert said[2].text.endswith(alex.question("databases").text)
    assert "end the interview" in said[3].text
    # Escalation counts silence only: 2 s, then 2 more, then 3 more (plus TTS latency).
    gaps = [b.start - a.end for a, b in zip(said, said[1:], strict=False)]
    for gap, expected in zip(gaps, (2, 2, 3), strict=True):
        assert expected - 0.2 < gap < expected + 1.5, gaps


async def test_barge_in_interrupts_only_where_the_question_allows_it(
    settings: Settings, alex: Persona, tmp_path: Path
) -> None:
    long_q = (
        "Before we start, a few words on the format: I will ask you two questions, and "
        "you can take as long as you need for each. First, tell me about your background."
    )
    persona = _short(
        alex,
        [
            Question(id="background", text=long_q),
            Question(
                id="instructions",
                text="Now listen carefully: how would you make a slow database query faster?",
                barge_in=False,
            ),
        ],
    )
    answers = [
        # Talks over the greeting 2 s in, before its question was spoken: not an answer.
        _answer("alex_background", barge_in_after_s=2.0),
        # The question is asked again, heard to the end, and answered.
        _answer("alex_background"),
        _answer("alex_databases", barge_in_after_s=1.5),
    ]
    result = await _simulate(settings, persona, answers, tmp_path / "run")
    _figures(result, persona, answers)

    said = _said(result)
    first = said[0]
    assert first.interrupted, "barge-in on: the candidate cut the long question short"
    assert first.kind == "cut_off" and first.end - first.start < 4.0
    # Its words are kept (Piper reports a sentence's text only once it has all played, so the
    # aggregator had none), marked as not played to the end.
    assert first.text.startswith("Hi ") and first.meta.get("unfinished") is True, first
    again = next(t for t in said if t.question_id == "background")
    assert again.kind == "repeat" and not again.interrupted and again.text.endswith(long_q)
    second = next(t for t in said if t.question_id == "instructions")
    assert not second.interrupted, "barge-in off: the question was read to the end"
    heard = _heard(result)
    # What was said over the unheard question answers nothing; the rest is attributed.
    assert [t.question_id for t in heard] == [None, "background", "instructions"]
    # With barge-in off, what was said over the question is not taken as the answer:
    # only the part after the interviewer stopped was heard.
    assert heard[2].start >= second.end - 0.1
    assert result.outcome == "completed"
    assert result.questions_asked == ["background", "instructions"]


async def test_time_budget_exhausted_wraps_up_after_the_answer(
    settings: Settings, alex: Persona, tmp_path: Path
) -> None:
    persona = _short(
        alex, [alex.question("background"), alex.question("databases")], time_budget_s=4.0
    )
    answers = [replace(_answer("alex_background"), think_s=0.5)]
    result = await _simulate(settings, persona, answers, tmp_path / "run")
    _figures(result, persona, answers)

    assert result.outcome == "completed"
    assert result.questions_asked == ["background"]
    closing = _said(result)[-1]
    assert closing.kind == "closing" and OUT_OF_TIME_LINE in closing.text
    assert len(_heard(result)) == 1
