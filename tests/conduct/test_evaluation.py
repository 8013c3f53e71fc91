"""The report: heuristic scoring on a hand-written transcript, and the LLM path against the
loopback OpenAI fake (valid, retried, given up on, fabricated quotes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from interview_pipeline.conduct.evaluation import (
    HEURISTIC_NOTE,
    Report,
    evaluate,
    heuristic_report,
    llm_report,
)
from interview_pipeline.config import Settings
from interview_pipeline.fakes.openai import FakeHTTPError, OpenAIFake
from interview_pipeline.personas.schema import Persona
from interview_pipeline.transcript import Turn

PERSONA = Persona.model_validate(
    {
        "id": "maya",
        "interviewer": {"name": "Maya"},
        "company": {"name": "Bluebird Health", "role_title": "Product Designer"},
        "opening": "Hello {candidate_name}.",
        "closing": "Thank you {candidate_name}.",
        "questions": [
            {
                "id": "process",
                "text": "Walk me through how you start a new design project.",
                "follow_ups": 1,
                "good_answer_mentions": ["research", "users", "problem", "prototype"],
            },
            {
                "id": "feedback",
                "text": "How do you handle feedback you disagree with?",
                "good_answer_mentions": ["listen", "data", "test", "compromise"],
            },
            {
                "id": "tools",
                "text": "Which tools do you use?",
                "good_answer_mentions": ["figma"],
            },
        ],
        "rubric": [
            {
                "id": "craft",
                "name": "Design craft",
                "weight": 60,
                "description": "Describes a clear process grounded in users and evidence.",
            },
            {
                "id": "collaboration",
                "name": "Collaboration",
                "weight": 40,
                "description": "Works with others' views and resolves disagreement constructively.",
            },
        ],
    }
)

PROCESS_ANSWER = (
    "I always start with research. I talk to users to understand the real problem "
    "before anything else. Then I sketch and build a quick prototype to test with them."
)
FEEDBACK_ANSWER = (
    "First I listen properly, because the disagreement often hides a real concern. "
    "Then I look at the data we have, and if we still disagree we test both options "
    "with a few users and go with what works."
)


def turn(i: int, speaker: str, text: str, qid: str | None = None, kind: str = "") -> Turn:
    return Turn(
        speaker=speaker, text=text, start=i * 10.0, end=i * 10.0 + 8, question_id=qid, kind=kind
    )  # type: ignore[arg-type]


def transcript(feedback_answer: str = "Hmm.", ask_tools: bool = False) -> list[Turn]:
    turns = [
        turn(0, "interviewer", "Hello Sam.", kind="opening"),
        turn(1, "candidate", "Hi, thanks for having me."),
        turn(2, "interviewer", PERSONA.questions[0].text, "process", "question"),
        turn(3, "candidate", PROCESS_ANSWER, "process", "answer"),
        turn(4, "interviewer", "How did you measure success?", "process", "follow_up"),
        turn(5, "candidate", "We measured success with task completion rates.", None, "answer"),
        turn(6, "interviewer", PERSONA.questions[1].text, "feedback", "question"),
        turn(7, "candidate", feedback_answer, "feedback", "answer"),
    ]
    if ask_tools:
        turns.append(turn(8, "interviewer", PERSONA.questions[2].text, "tools", "question"))
        turns.append(turn(9, "candidate", "Mostly Figma and a notebook.", "tools", "answer"))
    turns.append(turn(10, "interviewer", "Thank you Sam.", kind="closing"))
    turns.append(turn(11, "candidate", "Thanks, bye!"))
    return turns


def assert_quotes_verbatim(report: Report, turns: list[Turn]) -> None:
    for c in report.criteria:
        for e in c.evidence:
            assert turns[e.turn].speaker == "candidate"
            assert e.quote and e.quote in turns[e.turn].text


# --- heuristic --------------------------------------------------------------------------------


def test_heuristic_answered_not_answered_not_asked() -> None:
    turns = transcript()
    report = heuristic_report(PERSONA, turns)
    status = {q.id: q.status for q in report.questions}
    assert status == {"process": "answered", "feedback": "not_answered", "tools": "not_asked"}
    process = report.questions[0]
    assert process.mentions_found == ["research", "users", "problem", "prototype"]
    assert process.mentions_missing == []
    assert report.questions[1].mentions_missing == ["listen", "data", "test", "compromise"]
    assert report.questions[2].summary == "Not asked."
    assert "did not answer" in report.questions[1].summary
    assert report.method == "heuristic"
    assert HEURISTIC_NOTE in report.notes and "heuristic" in report.notes[0]
    # One answer out of three questions is not enough to recommend anything.
    assert report.overall.recommendation == "insufficient_data"
    assert_quotes_verbatim(report, turns)
    craft = report.criteria[0]
    assert craft.score is not None and 1 <= craft.score <= 5
    assert craft.evidence and "users" in craft.evidence[0].quote
    assert craft.evidence[0].question_id == "process"
    assert "Heuristic" in craft.rationale


def test_heuristic_is_deterministic_and_rewards_better_answers() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    good = transcript(FEEDBACK_ANSWER, ask_tools=True)
    weak_turns = transcript("I just do what I am told to do.", ask_tools=True)
    a = heuristic_report(PERSONA, good, generated_at=when)
    assert a == heuristic_report(PERSONA, good, generated_at=when)
    b = heuristic_report(PERSONA, weak_turns, generated_at=when)
    assert all(q.status == "answered" for q in a.questions)
    assert a.overall.score is not None and b.overall.score is not None
    assert a.overall.score > b.overall.score
    assert a.overall.recommendation in ("strong_yes", "yes")
    assert b.overall.recommendation in ("lean_no", "no", "yes")
    assert a.questions[1].mentions_found == ["listen", "data", "test"]
    assert a.questions[1].mentions_missing == ["compromise"]
    assert_quotes_verbatim(a, good)
    collab = a.criteria[1]
    assert any("disagree" in e.quote for e in collab.evidence)


def test_follow_up_answer_without_question_id_counts_for_the_current_question() -> None:
    report = heuristic_report(PERSONA, transcript())
    assert "completion rates" not in report.questions[0].summary  # summary is numbers only
    assert "Answered in" in report.questions[0].summary
    words = len(PROCESS_ANSWER.split()) + len(
        "We measured success with task completion rates.".split()
    )
    assert f"Answered in {words} words" in report.questions[0].summary


def test_partial_interview_marks_the_cut_off_question() -> None:
    turns = transcript()[:7]  # ended right after the feedback question was asked
    report = heuristic_report(PERSONA, turns, partial=True)
    assert report.partial
    assert [q.status for q in report.questions] == ["answered", "asked", "not_asked"]
    assert any("ended early" in n for n in report.notes)


def test_no_answers_means_no_scores() -> None:
    report = heuristic_report(PERSONA, transcript()[:3], partial=True)
    assert all(c.score is None for c in report.criteria)
    assert report.overall.score is None
    assert report.overall.recommendation == "insufficient_data"


# --- LLM ----------------------------------------------------------------------------------------


def assessment(
    quote: str = "I talk to users to understand the real problem", turn_no: int = 3
) -> str:
    return json.dumps(
        {
            "criteria": [
                {
                    "id": "craft",
                    "score": 4,
                    "evidence": [{"quote": quote, "turn": turn_no}],
                    "rationale": "Grounds the process in research with users.",
                },
                {
                    "id": "collaboration",
                    "score": 3,
                    "evidence": [{"quote": "we test both options", "turn": 7}],
                    "rationale": "Resolves disagreement with tests.",
                },
            ],
            "questions": [
                {"id": "process", "summary": "Research first, then prototypes."},
                {"id": "feedback", "summary": "Listens, then tests."},
                {"id": "tools", "summary": "Invented summary for an unasked question."},
            ],
            "overall": {"recommendation": "yes", "summary": "A solid, user-centred designer."},
        }
    )


class Script:
    """Replies in order; remembers every request body."""

    def __init__(self, *replies: str | Exception):
        self.replies = list(replies)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, body: dict[str, Any]) -> str:
        self.bodies.append(body)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


async def run_llm(script: Script, turns: list[Turn] | None = None) -> Report:
    fake = OpenAIFake(script, token_delay_s=0.0)
    url = await fake.start()
    try:
        return await llm_report(
            PERSONA,
            turns or transcript(FEEDBACK_ANSWER),
            base_url=url,
            api_key="sk-test",
            model="judge-1",
        )
    finally:
        await fake.stop()


async def test_llm_valid_first_time() -> None:
    # Curly quotes and case differences still match; the stored quote is the transcript's.
    script = Script(assessment(quote="\u201ci talk to USERS to understand the real problem\u201d"))
    report = await run_llm(script)
    assert len(script.bodies) == 1
    body = script.bodies[0]
    assert body["model"] == "judge-1"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert "criteria" in fmt["json_schema"]["schema"]["properties"]
    assert "[3] candidate (question process): " + PROCESS_ANSWER in body["messages"][1]["content"]

    assert report.method == "llm:judge-1"
    assert [c.score for c in report.criteria] == [4, 3]
    assert report.overall.score == pytest.approx((4 * 60 + 3 * 40) / 100)
    assert report.overall.recommendation == "yes"
    craft = report.criteria[0]
    assert craft.evidence[0].quote == "I talk to users to understand the real problem"
    assert report.questions[0].summary == "Research first, then prototypes."
    assert report.questions[2].status == "not_asked" and report.questions[2].summary == "Not asked."
    assert report.questions[1].mentions_found == ["listen", "data", "test"]
    assert_quotes_verbatim(report, transcript(FEEDBACK_ANSWER))
    assert not any("Dropped" in n for n in report.notes)


async def test_llm_invalid_json_then_valid() -> None:
    script = Script("Sure! Here is the assessment: {criteria: ...", assessment())
    report = await run_llm(script)
    assert len(script.bodies) == 2
    retry = script.bodies[1]["messages"]
    assert retry[-2]["role"] == "assistant" and retry[-1]["role"] == "user"
    assert "not valid" in retry[-1]["content"]
    assert report.method == "llm:judge-1"


async def test_llm_schema_failure_twice_falls_back_to_heuristic() -> None:
    missing_criterion = json.loads(assessment())
    missing_criterion["criteria"].pop()
    script = Script('{"criteria": []', json.dumps(missing_criterion))
    report = await run_llm(script)
    assert len(script.bodies) == 2
    assert report.method == "heuristic"
    assert "invalid output twice" in report.notes[0]
    assert HEURISTIC_NOTE in report.notes


async def test_llm_fabricated_quote_is_dropped() -> None:
    script = Script(assessment(quote="I have led design at Google for ten years", turn_no=3))
    report = await run_llm(script)
    craft = report.criteria[0]
    assert craft.evidence == []
    assert any("Dropped 1 evidence quote" in n for n in report.notes)
    assert report.criteria[1].evidence[0].quote == "we test both options"


async def test_llm_quote_with_wrong_turn_is_reattributed() -> None:
    script = Script(assessment(quote="we measured success with task completion rates", turn_no=2))
    report = await run_llm(script)
    assert report.criteria[0].evidence[0].turn == 5


async def test_llm_http_error_falls_back() -> None:
    script = Script(FakeHTTPError(400))
    report = await run_llm(script)
    assert report.method == "heuristic"
    assert "failed (BadRequestError)" in report.notes[0]


async def test_llm_not_called_without_answers() -> None:
    script = Script()
    report = await run_llm(script, transcript()[:3])
    assert script.bodies == [] and report.method == "heuristic"


async def test_evaluate_chooses_by_settings() -> None:
    offline = Settings(_env_file=None, llm_provider="scripted")  # type: ignore[call-arg]
    report = await evaluate(offline, PERSONA, transcript())
    assert report.method == "heuristic"

    script = Script(assessment())
    fake = OpenAIFake(script, token_delay_s=0.0, expected_key="sk-eval")
    url = await fake.start()
    try:
        cloud = Settings(  # type: ignore[call-arg]
            _env_file=None, openai_api_key="sk-eval", openai_base_url=url, openai_model="judge-2"
        )
        report = await evaluate(cloud, PERSONA, transcript(FEEDBACK_ANSWER), partial=True)
    finally:
        await fake.stop()
    assert report.method == "llm:judge-2" and report.partial
