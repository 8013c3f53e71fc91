"""The model's part of the evaluation: prompt, strict JSON schema, validation, retry, and
checking every quote against the transcript.

Only what needs judgement is asked of the model (criterion scores, evidence, rationales,
answer summaries, a recommendation); statuses, mentions and the weighted overall score are
computed the same way as for the heuristic report, so the two kinds of report agree on
facts. Use it through ``evaluation.llm_report``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from interview_pipeline.conduct.answers import Answers, base_notes, question_reports, words
from interview_pipeline.conduct.evaluation import _fallback, _weighted, overall
from interview_pipeline.conduct.report_model import (
    MAX_QUOTES,
    CriterionScore,
    Evidence,
    Recommendation,
    Report,
    Score,
)
from interview_pipeline.personas.schema import Persona
from interview_pipeline.transcript import Turn

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam
    from openai.types.shared_params import ResponseFormatJSONSchema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _LLMEvidence(_Strict):
    quote: str
    turn: int


class _LLMCriterion(_Strict):
    id: str
    score: Score
    evidence: list[_LLMEvidence]
    rationale: str


class _LLMQuestion(_Strict):
    id: str
    summary: str


class _LLMOverall(_Strict):
    recommendation: Recommendation
    summary: str


class _LLMAssessment(_Strict):
    """Only what needs judgement; statuses, mentions and the overall score are computed."""

    criteria: list[_LLMCriterion]
    questions: list[_LLMQuestion]
    overall: _LLMOverall


def _strict_schema(node: Any) -> Any:
    """Pydantic's schema in the subset OpenAI's strict mode accepts (no titles/defaults,
    every property required)."""
    if isinstance(node, list):
        return [_strict_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict_schema(v) for k, v in node.items() if k not in ("title", "default")}
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


ASSESSMENT_SCHEMA: dict[str, Any] = _strict_schema(_LLMAssessment.model_json_schema())

_SYSTEM = (
    "You assess a job interview against the hiring rubric below. Judge only what the "
    "candidate said. For every criterion give a score from 1 (poor) to 5 (excellent), up "
    f"to {MAX_QUOTES} evidence quotes copied exactly, character for character, from the "
    "candidate's turns (with the turn number in brackets), and a one-sentence rationale. "
    "Summarise each answered question in one or two sentences. Recommend strong_yes, yes, "
    "lean_no or no, or insufficient_data when too little was said. Reply with the JSON "
    "object only."
)


def _prompt(persona: Persona, answers: Answers) -> str:
    lines = [f"Role: {persona.company.role_title} at {persona.company.name}.", "", "Rubric:"]
    lines += [f"- {c.id} ({c.name}, weight {c.weight:g}): {c.description}" for c in persona.rubric]
    lines += ["", "Questions:"]
    for q in persona.questions:
        points = ", ".join(q.good_answer_mentions) or "none listed"
        lines.append(
            f"- {q.id} [{answers.status(q.id)}]: {q.text} (good answers mention: {points})"
        )
    lines += ["", "Transcript:"]
    for i, t in enumerate(answers.turns):
        tag = f" (question {t.question_id})" if t.question_id else ""
        lines.append(f"[{i}] {t.speaker}{tag}: {t.text.strip()}")
    return "\n".join(lines)


def _parse(content: str, persona: Persona) -> _LLMAssessment:
    text = content.strip()
    if text.startswith("```"):  # some OpenAI-compatible servers fence JSON anyway
        text = text.strip("`").removeprefix("json").strip()
    assessment = _LLMAssessment.model_validate(json.loads(text))
    missing = {c.id for c in persona.rubric} - {c.id for c in assessment.criteria}
    if missing:
        raise ValueError(f"criteria missing from the reply: {', '.join(sorted(missing))}")
    return assessment


_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased, straight-quoted, single-spaced text and each character's origin."""
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text.translate(_QUOTES)):
        if ch.isspace():
            if chars and chars[-1] == " ":
                continue
            ch = " "
        low = ch.lower()
        chars.append(low if len(low) == 1 else ch)
        origin.append(i)
    return "".join(chars), origin


def _locate(text: str, quote: str) -> str | None:
    """The verbatim span of ``text`` that ``quote`` reproduces (case, curly quotes and
    spacing aside), or ``None``."""
    # Models wrap quotes in quote marks or ellipses; those are not part of the evidence.
    needle, _ = _normalise(quote.strip("\"'\u201c\u201d\u2018\u2019.\u2026 \t\n"))
    if not words(needle):
        return None
    hay, origin = _normalise(text)
    pos = hay.find(needle)
    if pos < 0:
        return None
    return text[origin[pos] : origin[pos + len(needle) - 1] + 1]


def _verify(answers: Answers, item: _LLMEvidence) -> Evidence | None:
    order = [item.turn] if item.turn in answers.candidate else []
    for index in order + [i for i in answers.candidate if i != item.turn]:
        span = _locate(answers.turns[index].text, item.quote)
        if span is not None:
            return answers.evidence(index, span)
    return None


def _assemble(
    persona: Persona, answers: Answers, got: _LLMAssessment, model: str, partial: bool
) -> Report:
    by_id = {c.id: c for c in reversed(got.criteria)}  # first one wins on duplicates
    criteria, dropped = [], 0
    for c in persona.rubric:
        judged = by_id[c.id]
        evidence = [e for e in (_verify(answers, item) for item in judged.evidence) if e]
        dropped += len(judged.evidence) - len(evidence)
        criteria.append(
            CriterionScore(
                id=c.id,
                name=c.name,
                weight=c.weight,
                score=judged.score,
                evidence=evidence[:MAX_QUOTES],
                rationale=judged.rationale,
            )
        )
    summaries = {q.id: q.summary.strip() for q in reversed(got.questions)}
    questions = question_reports(persona, answers)
    for q in questions:
        if q.status == "answered" and summaries.get(q.id):
            q.summary = summaries[q.id]
    score = _weighted(criteria)
    # The facts and the rule's verdict are computed; the model's recommendation stands
    # unless too little was answered, and the basis says where the two differ.
    computed = overall(persona, answers, questions, score)
    recommendation: Recommendation = got.overall.recommendation
    basis = f"The model recommends {recommendation.replace('_', ' ')}."
    if computed.recommendation == "insufficient_data":
        recommendation, basis = "insufficient_data", computed.basis
    elif computed.recommendation != recommendation:
        basis += f" The coverage rule alone would say: {computed.basis}"
    notes = [f"Scored by {model}; quotes were checked against the transcript."]
    if dropped:
        notes.append(
            f"Dropped {dropped} evidence quote(s) the model gave that are not in the transcript."
        )
    return Report(
        persona_id=persona.id,
        method=f"llm:{model}",
        generated_at=datetime.now(UTC),
        criteria=criteria,
        questions=questions,
        overall=computed.model_copy(
            update={
                "recommendation": recommendation,
                "summary": got.overall.summary,
                "basis": basis,
            }
        ),
        notes=notes + base_notes(persona, partial),
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
    """See ``evaluation.llm_report``."""
    import openai

    answers = Answers(persona, turns, partial)
    if not any(answers.status(q.id) == "answered" for q in persona.questions):
        return _fallback(persona, turns, partial, "No answers to judge; the model was not asked.")
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": _prompt(persona, answers)},
    ]
    response_format: ResponseFormatJSONSchema = {
        "type": "json_schema",
        "json_schema": {
            "name": "interview_assessment",
            "strict": True,
            "schema": ASSESSMENT_SCHEMA,
        },
    }
    problem = ""
    # The SDK retries transport errors itself (once); our retry below is for bad output.
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key or "unused", max_retries=1, timeout=timeout_s
    )
    try:
        for _attempt in range(2):
            reply = await client.chat.completions.create(
                model=model, messages=messages, response_format=response_format
            )
            content = (reply.choices[0].message.content or "") if reply.choices else ""
            try:
                return _assemble(persona, answers, _parse(content, persona), model, partial)
            except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
                problem = " ".join(str(exc).split())[:300]
                retry = f"That reply was not valid ({problem}). Reply again with only the JSON."
                messages.append({"role": "assistant", "content": content})
                messages.append({"role": "user", "content": retry})
    except openai.OpenAIError as exc:
        why = f"LLM evaluation by {model} failed ({type(exc).__name__})"
        return _fallback(persona, turns, partial, f"{why}; the heuristic scorer was used instead.")
    finally:
        await client.close()
    why = f"LLM evaluation by {model} returned invalid output twice ({problem})"
    return _fallback(persona, turns, partial, f"{why}; the heuristic scorer was used instead.")
