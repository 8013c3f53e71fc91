"""The after-interview report: rubric scores with quoted evidence, per-question summaries.

Two scorers produce the same ``Report``:

* ``heuristic_report`` (offline, deterministic): coverage of each question's
  ``good_answer_mentions`` (the same stemmed matching that decides follow-ups), answer
  length bands and how many questions were answered. It never pretends to judge; the
  report's ``method`` and ``notes`` say it is a heuristic.
* ``llm_report`` (OpenAI-compatible server): the model scores the rubric under a JSON
  schema; the output is validated, retried once, and replaced by the heuristic if it is
  still invalid. Everything that can be computed (which questions were asked, which
  points were mentioned, the weighted overall score) is computed, not asked of the model.

Scores are integers 1-5 per criterion (``None`` when there was nothing to judge); the
overall score is their weight-averaged mean. Every evidence quote is a verbatim substring
of a candidate turn: quotes the model cannot back with the transcript are dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from interview_pipeline.conduct.plan import mentions_found
from interview_pipeline.config import ConfigError, LLMProvider, Settings
from interview_pipeline.personas.schema import Criterion, Persona, Question
from interview_pipeline.transcript import Turn

Score = Literal[1, 2, 3, 4, 5]
#: ``asked``: put to the candidate, then the interview ended before an answer.
Status = Literal["asked", "not_asked", "not_answered", "answered"]
Recommendation = Literal["strong_yes", "yes", "lean_no", "no", "insufficient_data"]

#: Fewer candidate words than this after a question counts as "not answered".
MIN_ANSWER_WORDS = 3
MAX_QUOTES = 3
HEURISTIC_NOTE = (
    "heuristic: scored by coverage of each question's expected points (stemmed keyword "
    "match), answer length, how many questions were answered and, a little, the rubric's "
    "own keywords; no model judgement"
)


class Evidence(BaseModel):
    quote: str
    #: Index of the candidate turn in the transcript the report was made from.
    turn: int
    question_id: str | None = None
    #: Seconds since the interview started, for people reading the report.
    at_s: float = 0.0


class CriterionScore(BaseModel):
    id: str
    name: str
    weight: float
    score: Score | None
    evidence: list[Evidence] = Field(default_factory=list)
    rationale: str


class QuestionReport(BaseModel):
    id: str
    text: str
    status: Status
    summary: str
    mentions_found: list[str] = Field(default_factory=list)
    mentions_missing: list[str] = Field(default_factory=list)


class Overall(BaseModel):
    #: Weight-averaged criterion score, 1.0-5.0; ``None`` when nothing could be scored.
    score: float | None
    recommendation: Recommendation
    summary: str


class Report(BaseModel):
    persona_id: str
    #: ``"heuristic"`` or ``"llm:<model>"``.
    method: str
    generated_at: datetime
    criteria: list[CriterionScore]
    questions: list[QuestionReport]
    overall: Overall
    notes: list[str] = Field(default_factory=list)
    #: The interview ended before the plan did.
    partial: bool = False


# --- the transcript, per question --------------------------------------------------------------


class _Answers:
    """Candidate turns grouped by the question they answer.

    Candidate turns without a question id belong to the last question the interviewer put
    (until the closing line). ``partial``: the interview stopped early, so a last question
    without an answer was cut off ("asked") rather than left unanswered.
    """

    def __init__(self, persona: Persona, turns: Sequence[Turn], partial: bool = False):
        self.turns = list(turns)
        self.partial = partial
        self.asked: dict[str, None] = {}  # in order, so the last one is known
        self.by_question: dict[str, list[int]] = {q.id: [] for q in persona.questions}
        self.candidate: list[int] = []
        current: str | None = None
        for i, turn in enumerate(self.turns):
            if turn.speaker == "interviewer":
                if turn.question_id in self.by_question:
                    current = turn.question_id
                    self.asked.pop(current, None)
                    self.asked[current] = None
                elif turn.kind in ("opening", "closing"):
                    current = None
                continue
            self.candidate.append(i)
            qid = turn.question_id if turn.question_id in self.by_question else current
            if qid is not None:
                self.by_question[qid].append(i)

    def text(self, qid: str) -> str:
        return " ".join(self.turns[i].text.strip() for i in self.by_question[qid])

    def status(self, qid: str) -> Status:
        if len(_words(self.text(qid))) >= MIN_ANSWER_WORDS:
            return "answered"
        if qid not in self.asked:
            return "not_asked"
        cut_off = self.partial and qid == next(reversed(self.asked))
        return "asked" if cut_off else "not_answered"

    def evidence(self, index: int, quote: str) -> Evidence:
        turn = self.turns[index]
        qid = next((q for q, idx in self.by_question.items() if index in idx), None)
        return Evidence(quote=quote, turn=index, question_id=qid, at_s=round(turn.start, 2))


_WORDS = re.compile(r"[A-Za-z0-9']+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_STOP = frozenset(
    "a an and are as at be by can clear clearly describes demonstrates does for from good "
    "has have how in into is it its of on or others shows that the their them they this "
    "to under uses well what when which who with work works".split()
)


def _words(text: str) -> list[str]:
    return _WORDS.findall(text)


def _sentences(text: str) -> list[str]:
    """Sentences as verbatim substrings of ``text`` (so they can be quoted)."""
    return [m.group().strip() for m in _SENTENCE.finditer(text) if m.group().strip()]


def _keywords(criterion: Criterion) -> list[str]:
    seen: dict[str, None] = {}
    for w in (w.strip("'") for w in _words(f"{criterion.name} {criterion.description}".lower())):
        if w not in _STOP and len(w) > 2:
            seen.setdefault(w, None)
    return list(seen)


def _length_band(words: int) -> tuple[str, float]:
    if words == 0:
        return "none", 0.0
    if words < 20:
        return "very short", 0.25
    if words < 50:
        return "short", 0.6
    if words <= 300:
        return "substantive", 1.0
    return "long", 0.85


def _quality(q: Question, answer: str) -> tuple[float, list[str], list[str], str]:
    """0-1 answer quality: 70 % expected-point coverage, 30 % length (length only when
    the persona lists no expected points)."""
    found, missing = mentions_found(answer, q.good_answer_mentions)
    band, length = _length_band(len(_words(answer)))
    if not q.good_answer_mentions:
        return length, found, missing, band
    return 0.7 * len(found) / len(q.good_answer_mentions) + 0.3 * length, found, missing, band


_SCORES: tuple[Score, ...] = (1, 2, 3, 4, 5)


def _to_score(quality: float) -> Score:
    """0-1 quality to 1-5, in equal bands (0.5 → 3)."""
    return _SCORES[min(4, max(0, math.floor(4 * quality + 0.5)))]


def _recommend(score: float | None, answered: int, total: int) -> Recommendation:
    if score is None or answered == 0 or answered * 2 < total:
        return "insufficient_data"
    if score >= 4.2:
        return "strong_yes"
    if score >= 3.4:
        return "yes"
    return "lean_no" if score >= 2.5 else "no"


def _weighted(criteria: list[CriterionScore]) -> float | None:
    scored = [(c.score, c.weight) for c in criteria if c.score is not None]
    if not scored:
        return None
    return round(sum(s * w for s, w in scored) / sum(w for _, w in scored), 2)


def _question_reports(persona: Persona, answers: _Answers) -> list[QuestionReport]:
    out = []
    for q in persona.questions:
        status = answers.status(q.id)
        found, missing = mentions_found(answers.text(q.id), q.good_answer_mentions)
        if status == "not_asked":
            summary = "Not asked."
        elif status == "not_answered":
            summary = "Asked, but the candidate did not answer."
        elif status == "asked":
            summary = "Asked just before the interview ended; no answer was given."
        else:
            _, _, _, band = _quality(q, answers.text(q.id))
            n = len(_words(answers.text(q.id)))
            summary = f"Answered in {n} words ({band})."
            if q.good_answer_mentions:
                summary += (
                    f" Mentioned {len(found)} of {len(q.good_answer_mentions)} expected points."
                )
        out.append(
            QuestionReport(
                id=q.id,
                text=q.text,
                status=status,
                summary=summary,
                mentions_found=found,
                mentions_missing=missing,
            )
        )
    return out


def _base_notes(persona: Persona, answers: _Answers, partial: bool) -> list[str]:
    notes = []
    if partial:
        notes.append("The interview ended early; questions after that point were not asked.")
    if not persona.rubric:
        notes.append("The persona has no rubric; only questions are reported.")
    return notes


def heuristic_report(
    persona: Persona,
    turns: Sequence[Turn],
    *,
    partial: bool = False,
    generated_at: datetime | None = None,
) -> Report:
    """Score the interview without a model; the same transcript always gives the same report."""
    answers = _Answers(persona, turns, partial)
    questions = _question_reports(persona, answers)
    # A question cut off by the end of the interview is not held against the candidate.
    judged = [q for q in persona.questions if answers.status(q.id) in ("answered", "not_answered")]
    answered = [q for q in judged if answers.status(q.id) == "answered"]
    qualities = [_quality(q, answers.text(q.id))[0] if q in answered else 0.0 for q in judged]
    mean_quality = sum(qualities) / len(qualities) if qualities else 0.0
    all_text = " ".join(answers.turns[i].text for i in answers.candidate)

    criteria = []
    for c in persona.rubric:
        if not answered:
            criteria.append(
                CriterionScore(
                    id=c.id,
                    name=c.name,
                    weight=c.weight,
                    score=None,
                    rationale="No answers to judge.",
                )
            )
            continue
        keywords = _keywords(c)
        hit, _ = mentions_found(all_text, keywords)
        quality = mean_quality
        if keywords:
            # The rubric's own words are a weak signal (a description is not a checklist).
            quality = 0.75 * mean_quality + 0.25 * len(hit) / len(keywords)
        evidence = _heuristic_evidence(persona, answers, hit)
        rationale = (
            f"Heuristic: answer quality {mean_quality:.2f} across {len(judged)} asked "
            f"question(s) (expected-point coverage and length)"
        )
        if keywords:
            rationale += f"; criterion keywords mentioned {len(hit)} of {len(keywords)}" + (
                f" ({', '.join(hit)})" if hit else ""
            )
        criteria.append(
            CriterionScore(
                id=c.id,
                name=c.name,
                weight=c.weight,
                score=_to_score(quality),
                evidence=evidence,
                rationale=rationale + ".",
            )
        )

    score = _weighted(criteria)
    if score is None and answered and not persona.rubric:
        score = float(_to_score(mean_quality))
    recommendation = _recommend(score, len(answered), len(persona.questions))
    found = sum(len(q.mentions_found) for q in questions)
    expected = sum(len(q.good_answer_mentions) for q in persona.questions)
    summary = (
        f"Answered {len(answered)} of {len(persona.questions)} questions "
        f"({sum(q.status == 'not_asked' for q in questions)} not asked); mentioned {found} of "
        f"{expected} expected points."
    )
    return Report(
        persona_id=persona.id,
        method="heuristic",
        generated_at=generated_at or datetime.now(UTC),
        criteria=criteria,
        questions=questions,
        overall=Overall(score=score, recommendation=recommendation, summary=summary),
        notes=[HEURISTIC_NOTE, *_base_notes(persona, answers, partial)],
        partial=partial,
    )


def _heuristic_evidence(persona: Persona, answers: _Answers, keywords: list[str]) -> list[Evidence]:
    """Candidate sentences that use the criterion's keywords or an expected point, those
    with the most (keyword hits count double) first, earlier ones on ties."""
    ranked: list[tuple[int, int, str]] = []
    for index in answers.candidate:
        qid = next((q for q, idx in answers.by_question.items() if index in idx), None)
        expected = persona.question(qid).good_answer_mentions if qid else []
        for sentence in _sentences(answers.turns[index].text):
            weight = 2 * len(mentions_found(sentence, keywords)[0])
            weight += len(mentions_found(sentence, expected)[0])
            if weight:
                ranked.append((-weight, index, sentence))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [answers.evidence(i, s) for _, i, s in ranked[:MAX_QUOTES]]


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
