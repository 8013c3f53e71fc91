"""The interview plan as a deterministic state machine.

The persona's plan decides what comes next (question order, follow-ups, wrap-up); the LLM
only phrases it. Nothing here calls a model or depends on one calling a tool, so the
scripted offline interviewer and a cloud LLM walk exactly the same plan.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
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
    #: Why the plan chose this step (logged, and the outcome reason for a closing).
    reason: str = ""

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
    found: list[str] = []
    missing: list[str] = []
    for mention in mentions:
        needle = " " + " ".join(_stems(mention)) + " "
        (found if needle.strip() and needle in joined else missing).append(mention)
    return found, missing


#: Reasons a plan gives for its steps (stable strings: they end up in logs and outcomes).
ALL_ASKED = "all questions asked"
TIME_BUDGET = "time budget"
TIME_LIMIT = "question time limit"
FOLLOW_UP = "answer missed points"
NO_ANSWER = "no answer"

#: Said before the persona's closing line when the time budget ends the interview, so the
#: candidate hears why the remaining questions are skipped.
OUT_OF_TIME_LINE = "We've reached the end of our time, so let's stop here."


@dataclass(frozen=True)
class PlanState:
    """Where the plan stands: enough to go back to it.

    Two reasons to go back: a speculative reply walks the plan ahead of a turn that may
    not be over (and is thrown away if it was not), and a line cut off before its question
    was heard must not count as asked.
    """

    index: int
    follow_ups_used: int
    finished: bool
    asked: tuple[str, ...]
    question_started_at: float | None


@dataclass
class InterviewPlan:
    """Walks the persona's questions; one instance per interview.

    Time is read from ``clock`` so budgets can be tested without waiting. The interview
    clock starts with ``start_clock`` (when the candidate first hears the interviewer),
    not with ``opening``: a live bot synthesises its greeting before anyone has joined.
    """

    persona: Persona
    candidate_name: str
    index: int = -1
    follow_ups_used: int = 0
    finished: bool = False
    asked: list[str] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    started_at: float | None = None
    question_started_at: float | None = None

    @property
    def questions(self) -> list[Question]:
        return self.persona.questions

    @property
    def current(self) -> Question | None:
        if 0 <= self.index < len(self.questions):
            return self.questions[self.index]
        return None

    def start_clock(self) -> None:
        """The candidate hears the interviewer for the first time: budgets start now."""
        if self.started_at is None:
            self.started_at = self.clock()
            self.question_started_at = self.started_at

    def elapsed_s(self) -> float:
        return 0.0 if self.started_at is None else self.clock() - self.started_at

    def budget_spent(self) -> bool:
        """Past the persona's whole-interview budget (checked at natural boundaries)."""
        return self.started_at is not None and self.elapsed_s() >= self.persona.time_budget_s

    def question_time_up(self) -> bool:
        """Past the current question's time limit: no more follow-ups on it."""
        q = self.current
        if q is None or self.question_started_at is None:
            return False
        return self.clock() - self.question_started_at >= q.time_limit_s

    def snapshot(self) -> PlanState:
        return PlanState(
            self.index,
            self.follow_ups_used,
            self.finished,
            tuple(self.asked),
            self.question_started_at,
        )

    def restore(self, state: PlanState) -> None:
        self.index = state.index
        self.follow_ups_used = state.follow_ups_used
        self.finished = state.finished
        self.asked = list(state.asked)
        self.question_started_at = state.question_started_at

    def preview(self, answer: str) -> tuple[Step, PlanState]:
        """The step ``after_answer`` would take, and the state after it, without taking it."""
        before = self.snapshot()
        step = self.after_answer(answer)
        after = self.snapshot()
        self.restore(before)
        return step, after

    def question_text(self, step: Step) -> str | None:
        """The words a line must get through for its question to count as heard."""
        if step.kind is StepKind.CLOSING:
            return step.verbatim
        if step.question_id is None:
            return None
        return self.persona.question(step.question_id).text

    def progress(self, step: Step) -> dict[str, object]:
        """Question k of n and time left, as the candidate page shows them."""
        left = None
        if self.started_at is not None:
            left = max(0, round(self.persona.time_budget_s - self.elapsed_s()))
        return {
            "type": "interview-progress",
            "step": step.kind.value,
            "question_id": step.question_id,
            "question": step.number,
            "total": step.total or len(self.persona.questions),
            "time_left_s": left,
        }

    def _begin_question(self, q: Question) -> None:
        self.asked.append(q.id)
        self.follow_ups_used = 0
        if self.started_at is not None:
            self.question_started_at = self.clock()

    def opening(self) -> Step:
        """The greeting and the first question, spoken verbatim (no LLM round trip)."""
        self.index = 0
        first = self.questions[0]
        self._begin_question(first)
        text = self.persona.render(self.persona.opening, self.candidate_name)
        return Step(
            StepKind.OPENING,
            first.id,
            verbatim=f"{text} {first.text}",
            number=1,
            total=len(self.questions),
        )

    def after_answer(self, answer: str) -> Step:
        """The step that follows the candidate's answer to the current question.

        Order of precedence: the whole-interview budget (wrap up), then the question's
        time limit (move on even if a follow-up was due), then the follow-up rule.
        """
        q = self.current
        if q is None:
            return self.closing(answer)
        if self.budget_spent():
            return self.closing(answer, reason=TIME_BUDGET)
        _, missing = mentions_found(answer, q.good_answer_mentions)
        wants_more = bool(missing) and len(missing) * 2 > len(q.good_answer_mentions)
        if self.follow_ups_used < q.follow_ups and (wants_more or len(answer.split()) < 8):
            if self.question_time_up():
                return self.next_question(answer, reason=TIME_LIMIT)
            self.follow_ups_used += 1
            return Step(
                StepKind.FOLLOW_UP,
                q.id,
                missing=tuple(missing),
                number=self.index + 1,
                total=len(self.questions),
                acknowledge=True,
                answer=answer,
                reason=FOLLOW_UP,
            )
        return self.next_question(answer)

    def next_question(self, answer: str = "", reason: str = "") -> Step:
        self.index += 1
        q = self.current
        if q is None:
            return self.closing(answer)
        self._begin_question(q)
        return Step(
            StepKind.QUESTION,
            q.id,
            verbatim=q.text,
            number=self.index + 1,
            total=len(self.questions),
            acknowledge=bool(answer),
            answer=answer,
            reason=reason,
        )

    def closing(self, answer: str = "", reason: str = ALL_ASKED) -> Step:
        self.finished = True
        self.index = len(self.questions)
        text = self.persona.render(self.persona.closing, self.candidate_name)
        if reason == TIME_BUDGET:
            text = f"{OUT_OF_TIME_LINE} {text}"
        return Step(
            StepKind.CLOSING,
            None,
            verbatim=text,
            total=len(self.questions),
            acknowledge=bool(answer),
            answer=answer,
            reason=reason,
        )

    def abandon(self, line: str) -> Step:
        """End without an answer: a short goodbye instead of the persona's closing."""
        self.finished = True
        self.index = len(self.questions)
        return Step(
            StepKind.CLOSING, None, verbatim=line, total=len(self.questions), reason=NO_ANSWER
        )

    def nudge(self) -> Step:
        """The persona's gentle prompt after a silence, spoken verbatim."""
        q = self.current
        return Step(
            StepKind.NUDGE,
            q.id if q else None,
            verbatim=self.persona.render(self.persona.silence.nudge_line, self.candidate_name),
            number=self.index + 1,
            total=len(self.questions),
            reason=NO_ANSWER,
        )

    def repeat(self) -> Step:
        q = self.current
        if q is None:
            return self.closing()
        return Step(
            StepKind.REPEAT, q.id, verbatim=q.text, number=self.index + 1, total=len(self.questions)
        )
