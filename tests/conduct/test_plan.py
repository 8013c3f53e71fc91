"""The plan as a state machine: order, follow-ups, time limits and budget, on a fake clock."""

from __future__ import annotations

import pytest

from interview_pipeline.conduct.plan import (
    ALL_ASKED,
    NO_ANSWER,
    OUT_OF_TIME_LINE,
    TIME_BUDGET,
    TIME_LIMIT,
    InterviewPlan,
    StepKind,
    mentions_found,
)
from interview_pipeline.personas.schema import Persona, Question, Silence

FULL = "I read the logs and the metrics, reproduced it, found the root cause and shipped a fix."


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _persona(**update: object) -> Persona:
    base = Persona(
        id="t",
        interviewer={"name": "Alex"},
        company={"name": "Acme", "role_title": "Engineer"},
        opening="Hi {candidate_name}.",
        closing="Goodbye, {candidate_name}.",
        questions=[
            Question(id="one", text="First?", good_answer_mentions=["project", "team"]),
            Question(
                id="two",
                text="Second?",
                follow_ups=1,
                time_limit_s=60,
                good_answer_mentions=["logs", "metrics", "reproduce", "root cause", "fix"],
            ),
            Question(id="three", text="Third?"),
        ],
        time_budget_s=600,
    )
    return base.model_copy(update=update)


def _plan(**update: object) -> tuple[InterviewPlan, FakeClock]:
    clock = FakeClock()
    return InterviewPlan(_persona(**update), "Sam", clock=clock), clock


def test_walks_every_question_in_order_then_closes() -> None:
    plan, _ = _plan()
    opening = plan.opening()
    assert opening.kind is StepKind.OPENING and opening.verbatim == "Hi Sam. First?"
    plan.start_clock()
    kinds = [plan.after_answer(FULL) for _ in range(3)]
    assert [s.kind for s in kinds] == [StepKind.QUESTION, StepKind.QUESTION, StepKind.CLOSING]
    assert plan.asked == ["one", "two", "three"]
    assert kinds[-1].reason == ALL_ASKED and kinds[-1].verbatim == "Goodbye, Sam."
    assert plan.finished


def test_follow_up_when_most_points_are_missing_and_only_once() -> None:
    plan, _ = _plan()
    plan.opening()
    plan.start_clock()
    plan.after_answer(FULL)  # -> two
    follow = plan.after_answer("We had a bug and I looked into it for a while, then it was fine.")
    assert follow.kind is StepKind.FOLLOW_UP and follow.question_id == "two"
    assert "logs" in follow.missing
    again = plan.after_answer("Still not much to add here, sorry about that one really.")
    assert again.kind is StepKind.QUESTION and again.question_id == "three"


def test_question_time_limit_moves_on_instead_of_following_up() -> None:
    plan, clock = _plan()
    plan.opening()
    plan.start_clock()
    plan.after_answer(FULL)  # -> two, asked at t=1000
    clock.now += 61  # past two's 60 s limit
    step = plan.after_answer("We had a bug and I looked into it for a while, then it was fine.")
    assert step.kind is StepKind.QUESTION and step.question_id == "three"
    assert step.reason == TIME_LIMIT


def test_time_budget_wraps_up_at_the_next_answer() -> None:
    plan, clock = _plan(time_budget_s=30)
    plan.opening()
    plan.start_clock()
    assert not plan.budget_spent()
    clock.now += 31
    assert plan.budget_spent()
    step = plan.after_answer(FULL)
    assert step.kind is StepKind.CLOSING and step.reason == TIME_BUDGET
    assert step.verbatim.startswith(OUT_OF_TIME_LINE) and step.verbatim.endswith("Goodbye, Sam.")
    assert plan.asked == ["one"] and plan.finished


def test_clock_starts_when_the_candidate_first_hears_the_interviewer() -> None:
    plan, clock = _plan(time_budget_s=30)
    plan.opening()
    clock.now += 120  # greeting held until the candidate joined: not interview time
    assert not plan.budget_spent()
    plan.start_clock()
    clock.now += 10
    assert plan.elapsed_s() == 10
    assert not plan.question_time_up()


def test_nudge_repeat_and_abandon_steps() -> None:
    plan, _ = _plan(silence=Silence(nudge_line="Take your time, {candidate_name}."))
    plan.opening()
    nudge = plan.nudge()
    assert nudge.kind is StepKind.NUDGE and nudge.verbatim == "Take your time, Sam."
    assert nudge.question_id == "one"
    repeat = plan.repeat()
    assert repeat.kind is StepKind.REPEAT and repeat.verbatim == "First?"
    bye = plan.abandon("Bye.")
    assert bye.ends_interview and bye.reason == NO_ANSWER and plan.finished


def test_nudge_line_is_checked_by_the_schema_and_filled_by_the_plan() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        Silence(nudge_line="Take {your} time.")
    plan, _ = _plan(silence=Silence(nudge_line="Take your time, {candidate_name}."))
    plan.opening()
    assert plan.nudge().verbatim == "Take your time, Sam."


def test_mentions_match_stemmed_words() -> None:
    found, missing = mentions_found(
        "I reproduced it and found the root causes", ["reproduce", "root cause", "fix"]
    )
    assert found == ["reproduce", "root cause"] and missing == ["fix"]
