"""The report's shapes (pydantic), shared by both scorers, the HTML page and the review page.

Reports are stored as JSON and read back later by newer code, so every field added after the
first version has a default: an old report still validates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Score = Literal[1, 2, 3, 4, 5]
#: ``asked``: put to the candidate, then the interview ended before an answer.
Status = Literal["asked", "not_asked", "not_answered", "answered"]
Recommendation = Literal["strong_yes", "yes", "lean_no", "no", "insufficient_data"]

#: Fewer candidate words than this after a question counts as "not answered".
MIN_ANSWER_WORDS = 3
MAX_QUOTES = 3


class Evidence(BaseModel):
    quote: str
    #: Index of the candidate turn in the transcript the report was made from.
    turn: int
    question_id: str | None = None
    #: Seconds since the interview started: where the quote is heard in the recording (the
    #: turn's start, moved on by the quote's position in the turn's text).
    at_s: float = 0.0


class CriterionScore(BaseModel):
    id: str
    name: str
    weight: float
    score: Score | None
    evidence: list[Evidence] = Field(default_factory=list)
    rationale: str
    #: The words the heuristic scorer looked for (the criterion's ``keywords``, else the words
    #: of its name and description); empty for the LLM scorer.
    keywords: list[str] = Field(default_factory=list)
    #: Those of ``keywords`` the candidate used.
    keywords_heard: list[str] = Field(default_factory=list)


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
    #: How the recommendation follows from the figures shown next to it (one sentence).
    basis: str = ""
    #: Expected points mentioned / expected in the questions put to the candidate.
    points_found: int | None = None
    points_expected: int | None = None


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
