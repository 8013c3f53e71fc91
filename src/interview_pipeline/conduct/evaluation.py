"""The after-interview report: rubric scores with quoted evidence, per-question summaries.

Two scorers produce the same ``Report`` (``report_model``):

* ``heuristic_report`` (offline, deterministic): coverage of each question's
  ``good_answer_mentions`` (the same stemmed matching that decides follow-ups), answer
  length bands, and per criterion its own words and quotes (``criteria``). It never
  pretends to judge; the report's ``method`` and ``notes`` say it is a heuristic.
* ``llm_report`` (OpenAI-compatible server): the model scores the rubric under a JSON
  schema; the output is validated, retried once, and replaced by the heuristic if it is
  still invalid. Everything that can be computed (which questions were asked, which
  points were mentioned, the weighted overall score) is computed, not asked of the model.

Scores are integers 1-5 per criterion (``None`` when there was nothing to judge); the
overall score is their weight-averaged mean. Every evidence quote is a verbatim substring
of a candidate turn: quotes the model cannot back with the transcript are dropped.

The recommendation rule (``recommend``; the report page and README state it too):
``insufficient_data`` when fewer than half the questions were answered; otherwise the
lower of what the expected-point coverage says (≥ 80 % strong yes, ≥ 60 % yes, ≥ 40 %
lean no, below: no) and what the overall score says (≥ 4.2, ≥ 3.4, ≥ 2.5, below). So a
recommendation never contradicts the coverage printed next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from interview_pipeline.conduct.answers import (
    Answers,
    base_notes,
    quality,
    question_reports,
)
from interview_pipeline.conduct.criteria import judge_criterion, to_score
from interview_pipeline.conduct.plan import mentions_found
from interview_pipeline.conduct.report_model import (
    MAX_QUOTES,
    MIN_ANSWER_WORDS,
    CriterionScore,
    Evidence,
    Overall,
    QuestionReport,
    Recommendation,
    Report,
    Score,
    Status,
)
from interview_pipeline.config import ConfigError, LLMProvider, Settings
from interview_pipeline.personas.schema import Persona
from interview_pipeline.transcript import Turn

__all__ = [
    "HEURISTIC_NOTE",
    "MAX_QUOTES",
    "MIN_ANSWER_WORDS",
    "RECOMMENDATION_RULE",
    "CriterionScore",
    "Evidence",
    "Overall",
    "QuestionReport",
    "Recommendation",
    "Report",
    "Score",
    "Status",
    "evaluate",
    "heuristic_report",
    "llm_report",
    "recommend",
]

HEURISTIC_NOTE = (
    "heuristic: scored by coverage of each question's expected points (stemmed keyword "
    "match), answer length, how many questions were answered and, per criterion, whether "
    "its own words were heard; no model judgement"
)

_ORDER: tuple[Recommendation, ...] = ("no", "lean_no", "yes", "strong_yes")
#: (lowest coverage, lowest score) for each recommendation, best first.
_BANDS: tuple[tuple[Recommendation, float, float], ...] = (
    ("strong_yes", 0.8, 4.2),
    ("yes", 0.6, 3.4),
    ("lean_no", 0.4, 2.5),
)
_LABEL = {"strong_yes": "strong yes", "yes": "yes", "lean_no": "lean no", "no": "no"}
RECOMMENDATION_RULE = (
    "Fewer than half the questions answered: insufficient data. Otherwise the lower of what "
    "the expected-point coverage says (80 % or more: strong yes; 60 %: yes; 40 %: lean no; "
    "less: no) and what the overall score says (4.2 or more: strong yes; 3.4: yes; 2.5: "
    "lean no; less: no)."
)


def _band(value: float, index: int) -> Recommendation:
    for rec, *limits in _BANDS:
        if value >= limits[index]:
            return rec
    return "no"


def recommend(
    score: float | None, answered: int, total: int, found: int, expected: int
) -> tuple[Recommendation, str]:
    """The recommendation and the sentence saying why (``RECOMMENDATION_RULE``)."""
    if score is None or answered == 0 or answered * 2 < total:
        return "insufficient_data", (
            f"Insufficient data: {answered} of {total} questions answered (at least half needed)."
        )
    by_score = _band(score, 1)
    said = [f"score {score:.1f} says {_LABEL[by_score]}"]
    rec = by_score
    if expected:
        by_points = _band(found / expected, 0)
        said.insert(0, f"{found} of {expected} expected points ({found / expected:.0%}) says "
                    f"{_LABEL[by_points]}")  # fmt: skip
        rec = min(by_points, by_score, key=_ORDER.index)
    return rec, f"{_LABEL[rec].capitalize()}: {' and '.join(said)}; the lower counts."


def _weighted(criteria: list[CriterionScore]) -> float | None:
    scored = [(c.score, c.weight) for c in criteria if c.score is not None]
    if not scored:
        return None
    return round(sum(s * w for s, w in scored) / sum(w for _, w in scored), 2)


def coverage(persona: Persona, answers: Answers) -> tuple[int, int]:
    """Expected points mentioned and expected, over the questions the candidate is judged on."""
    found = expected = 0
    for q in answers.judged():
        expected += len(q.good_answer_mentions)
        found += len(mentions_found(answers.text(q.id), q.good_answer_mentions)[0])
    return found, expected


def overall(
    persona: Persona,
    answers: Answers,
    questions: list[QuestionReport],
    score: float | None,
) -> Overall:
    """The overall verdict with the rule's figures, shared by both scorers."""
    found, expected = coverage(persona, answers)
    answered = sum(q.status == "answered" for q in questions)
    rec, basis = recommend(score, answered, len(questions), found, expected)
    summary = (
        f"Answered {answered} of {len(questions)} questions "
        f"({sum(q.status == 'not_asked' for q in questions)} not asked)"
    )
    if expected:
        summary += (
            f"; mentioned {found} of {expected} expected points ({found / expected:.0%}) "
            "in the questions put to the candidate"
        )
    return Overall(
        score=score,
        recommendation=rec,
        summary=summary + ".",
        basis=basis,
        points_found=found,
        points_expected=expected,
    )


def heuristic_report(
    persona: Persona,
    turns: Sequence[Turn],
    *,
    partial: bool = False,
    generated_at: datetime | None = None,
) -> Report:
    """Score the interview without a model; the same transcript always gives the same report."""
    answers = Answers(persona, turns, partial)
    questions = question_reports(persona, answers)
    # A question cut off by the end of the interview is not held against the candidate.
    judged = answers.judged()
    answered = {q.id for q in answers.answered()}
    qualities = [quality(q, answers.text(q.id)) if q.id in answered else 0.0 for q in judged]
    mean_quality = sum(qualities) / len(qualities) if qualities else 0.0
    used: set[tuple[int, int]] = set()
    criteria = [judge_criterion(c, answers, mean_quality, used) for c in persona.rubric]
    score = _weighted(criteria)
    if score is None and answered and not persona.rubric:
        score = float(to_score(mean_quality))
    return Report(
        persona_id=persona.id,
        method="heuristic",
        generated_at=generated_at or datetime.now(UTC),
        criteria=criteria,
        questions=questions,
        overall=overall(persona, answers, questions, score),
        notes=[HEURISTIC_NOTE, *base_notes(persona, partial)],
        partial=partial,
    )


async def llm_report(
    persona: Persona,
    turns: Sequence[Turn],
    *,
    base_url: str | None,
    api_key: str,
    model: str,
    partial: bool = False,
    timeout_s: float = 120.0,
) -> Report:
    """Score with a model; invalid output is retried once, then the heuristic stands in
    (with a note saying so). Never raises for model or network trouble.

    The model side lives in ``evaluation_llm`` and is imported on first use, so the
    offline path never loads the OpenAI SDK.
    """
    from interview_pipeline.conduct import evaluation_llm

    return await evaluation_llm.llm_report(
        persona,
        turns,
        base_url=base_url,
        api_key=api_key,
        model=model,
        partial=partial,
        timeout_s=timeout_s,
    )


def _fallback(persona: Persona, turns: Sequence[Turn], partial: bool, why: str) -> Report:
    report = heuristic_report(persona, turns, partial=partial)
    report.notes.insert(0, why)
    return report


async def evaluate(
    settings: Settings, persona: Persona, turns: Sequence[Turn], *, partial: bool = False
) -> Report:
    """The report for a finished (or abandoned) interview, by model when one is configured."""
    if settings.resolved_llm() is not LLMProvider.OPENAI:
        return heuristic_report(persona, turns, partial=partial)
    try:
        key = settings.require_key(settings.openai_api_key, "OPENAI_API_KEY", "OpenAI LLM")
    except ConfigError as exc:
        return _fallback(persona, turns, partial, f"{exc}; the heuristic scorer was used.")
    return await llm_report(
        persona,
        turns,
        base_url=settings.openai_base_url,
        api_key=key,
        model=persona.llm.model or settings.openai_model,
        partial=partial,
    )
