"""The transcript read per question: what was asked, what was answered, and how well.

Shared by the heuristic and the LLM scorer, so both kinds of report agree on facts (which
questions were asked, which expected points were mentioned, where a quote is heard).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from interview_pipeline.conduct.plan import mentions_found
from interview_pipeline.conduct.report_model import (
    MIN_ANSWER_WORDS,
    Evidence,
    QuestionReport,
    Status,
)
from interview_pipeline.personas.schema import Persona, Question
from interview_pipeline.transcript import Turn

_WORDS = re.compile(r"[A-Za-z0-9']+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def words(text: str) -> list[str]:
    return _WORDS.findall(text)


def sentences(text: str) -> list[tuple[int, str]]:
    """Sentences as verbatim substrings of ``text`` (so they can be quoted), with offsets."""
    out = []
    for m in _SENTENCE.finditer(text):
        raw = m.group()
        stripped = raw.strip()
        if stripped:
            out.append((m.start() + raw.index(stripped), stripped))
    return out


class Answers:
    """Candidate turns grouped by the question they answer.

    Candidate turns without a question id belong to the last question the interviewer put
    (until the closing line). ``partial``: the interview stopped early, so a last question
    without an answer was cut off ("asked") rather than left unanswered.
    """

    def __init__(self, persona: Persona, turns: Sequence[Turn], partial: bool = False):
        self.persona = persona
        self.turns = list(turns)
        self.partial = partial
        self.asked: dict[str, None] = {}  # in order, so the last one is known
        self.by_question: dict[str, list[int]] = {q.id: [] for q in persona.questions}
        self.question_of: dict[int, str] = {}
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
                self.question_of[i] = qid

    def text(self, qid: str) -> str:
        return " ".join(self.turns[i].text.strip() for i in self.by_question[qid])

    def status(self, qid: str) -> Status:
        if len(words(self.text(qid))) >= MIN_ANSWER_WORDS:
            return "answered"
        if qid not in self.asked:
            return "not_asked"
        cut_off = self.partial and qid == next(reversed(self.asked))
        return "asked" if cut_off else "not_answered"

    def judged(self) -> list[Question]:
        """Questions put to the candidate and not cut off by the end of the interview: the
        ones the candidate is judged on."""
        return [
            q for q in self.persona.questions if self.status(q.id) in ("answered", "not_answered")
        ]

    def answered(self) -> list[Question]:
        return [q for q in self.persona.questions if self.status(q.id) == "answered"]

    def evidence(self, index: int, quote: str) -> Evidence:
        """``quote`` (a verbatim span of turn ``index``) with the moment it is heard: the turn's
        start moved on by where the quote starts in the turn's text."""
        turn = self.turns[index]
        at = turn.start
        pos = turn.text.find(quote)
        if pos > 0 and turn.text and turn.end > turn.start:
            at += (turn.end - turn.start) * pos / len(turn.text)
        return Evidence(
            quote=quote, turn=index, question_id=self.question_of.get(index), at_s=round(at, 2)
        )


def length_band(n_words: int) -> tuple[str, float]:
    if n_words == 0:
        return "none", 0.0
    if n_words < 20:
        return "very short", 0.25
    if n_words < 50:
        return "short", 0.6
    if n_words <= 300:
        return "substantive", 1.0
    return "long", 0.85


def quality(q: Question, answer: str) -> float:
    """0-1 answer quality: 70 % expected-point coverage, 30 % length (length only when
    the persona lists no expected points)."""
    found, _ = mentions_found(answer, q.good_answer_mentions)
    _, length = length_band(len(words(answer)))
    if not q.good_answer_mentions:
        return length
    return 0.7 * len(found) / len(q.good_answer_mentions) + 0.3 * length


def question_reports(persona: Persona, answers: Answers) -> list[QuestionReport]:
    out = []
    for q in persona.questions:
        status = answers.status(q.id)
        text = answers.text(q.id)
        found, missing = mentions_found(text, q.good_answer_mentions)
        if status == "not_asked":
            summary = "Not asked."
        elif status == "not_answered":
            summary = "Asked, but the candidate did not answer."
        elif status == "asked":
            summary = "Asked just before the interview ended; no answer was given."
        else:
            n = len(words(text))
            summary = f"Answered in {n} words ({length_band(n)[0]})."
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


def base_notes(persona: Persona, partial: bool) -> list[str]:
    notes = []
    if partial:
        notes.append("The interview ended early; questions after that point were not asked.")
    if not persona.rubric:
        notes.append("The persona has no rubric; only questions are reported.")
    return notes
