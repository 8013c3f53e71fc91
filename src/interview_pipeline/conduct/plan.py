"""The interview plan as a deterministic state machine.

The persona's plan decides what comes next (question order, follow-ups, wrap-up); the LLM
only phrases it. Nothing here calls a model or depends on one calling a tool, so the
scripted offline interviewer and a cloud LLM walk exactly the same plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from interview_pipeline.personas.schema import Persona, Question


class StepKind(StrEnum):
    OPENING = "opening"
    QUESTION = "question"
    FOLLOW_UP = "follow_up"
    NUDGE = "nudge"
    REPEAT = "repeat"
    CLOSING = "closing"


@dataclass(frozen=True)
class Step:
    """What the interviewer says next, and why."""

    kind: StepKind
    question_id: str | None
    #: Text to be spoken word for word (opening, planned question, closing, repeat).
    verbatim: str = ""
    #: For follow-ups: the points a good answer mentions that the candidate has not.
    missing: tuple[str, ...] = ()
    #: 1-based position of the question in the plan, and the plan's length.
    number: int = 0
    total: int = 0
    #: Whether an acknowledgement of the last answer should come first.
    acknowledge: bool = False
    #: What the candidate just said (the LLM phrases its acknowledgement from it).
    answer: str = ""

    @property
    def ends_interview(self) -> bool:
        return self.kind is StepKind.CLOSING


_WORD = re.compile(r"[a-z0-9']+")


def _stem(word: str) -> str:
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def _stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower())]


def mentions_found(answer: str, mentions: list[str]) -> tuple[list[str], list[str]]:
    """Split a question's 'good answer mentions' into those the answer covers and not.

    Matching is deliberately simple and explainable (stemmed words in order), because the
    same rule decides follow-ups and feeds the transparent offline scorer.
    """
    words = _stems(answer)
    joined = " " + " ".join(words) + " "
    found, missing = [], []
    for mention in mentions:
        needle = " " + " ".join(_stems(mention)) + " "
        (found if needle.strip() and needle in joined else missing).append(mention)
    return found, missing


@dataclass
class InterviewPlan:
    """Walks the persona's questions; one instance per interview."""

    persona: Persona
    candidate_name: str
    index: int = -1
    follow_ups_used: int = 0
    finished: bool = False
    asked: list[str] = field(default_factory=list)

    @property
    def questions(self) -> list[Question]:
        return self.persona.questions

    @property
    def current(self) -> Question | None:
        if 0 <= self.index < len(self.questions):
            return self.questions[self.index]
        return None

    def opening(self) -> Step:
        """The greeting and the first question, spoken verbatim (no LLM round trip)."""
        self.index, self.follow_ups_used = 0, 0
        first = self.questions[0]
        self.asked.append(first.id)
        text = self.persona.render(self.persona.opening, self.candidate_name)
        return Step(
            StepKind.OPENING,
            first.id,
            verbatim=f"{text} {first.text}",
            number=1,
            total=len(self.questions),
        )

    def after_answer(self, answer: str) -> Step:
        """The step that follows the candidate's answer to the current question."""
        q = self.current
        if q is None:
            return self.closing(answer)
        _, missing = mentions_found(answer, q.good_answer_mentions)
        wants_more = bool(missing) and len(missing) * 2 > len(q.good_answer_mentions)
        if self.follow_ups_used < q.follow_ups and (wants_more or len(answer.split()) < 8):
            self.follow_ups_used += 1
            return Step(
                StepKind.FOLLOW_UP,
                q.id,
                missing=tuple(missing),
                number=self.index + 1,
                total=len(self.questions),
                acknowledge=True,
                answer=answer,
            )
        return self.next_question(answer)

    def next_question(self, answer: str = "") -> Step:
        self.index += 1
        self.follow_ups_used = 0
        q = self.current
        if q is None:
            return self.closing(answer)
        self.asked.append(q.id)
        return Step(
            StepKind.QUESTION,
            q.id,
            verbatim=q.text,
            number=self.index + 1,
            total=len(self.questions),
            acknowledge=bool(answer),
            answer=answer,
        )

    def closing(self, answer: str = "") -> Step:
        self.finished = True
        self.index = len(self.questions)
        return Step(
            StepKind.CLOSING,
            None,
            verbatim=self.persona.render(self.persona.closing, self.candidate_name),
            total=len(self.questions),
            acknowledge=bool(answer),
            answer=answer,
        )

    def repeat(self) -> Step:
        q = self.current
        if q is None:
            return self.closing()
        return Step(
            StepKind.REPEAT, q.id, verbatim=q.text, number=self.index + 1, total=len(self.questions)
        )
