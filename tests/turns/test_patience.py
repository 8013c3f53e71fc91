"""Patience: the transcript check, and the stop strategy inside a real user aggregator.

The strategy runs in pipecat's own LLMUserAggregator; only the turn model is a stand-in
(it always says "complete", which is what Smart Turn said on the thinking-pause fixture).
VAD and transcription frames are sent as the VAD and STT would send them.
"""

from __future__ import annotations

import pytest

from interview_pipeline.turns.patience import (
    Expectation,
    answer_progress,
    judge_transcript,
    wait_after_speech,
)


@pytest.mark.parametrize(
    "text",
    [
        "We had a memory leak in production and the find it, I first.",
        "I would run explain to read the query plan, and then...",
        "So we moved the whole service to",
        "The main problem was the",
        "I looked at it because",
        "And I think, um.",
        "Well, we first,",
        "That's a good question. Let me think.",
        "Hmm, let me see.",
        "We then",
    ],
)
def test_unfinished_endings(text: str) -> None:
    verdict = judge_transcript(text)
    assert verdict.unfinished, text
    assert verdict.reason


@pytest.mark.parametrize(
    "text",
    [
        "I have five years of Python experience, which had a real impact.",
        "We read the logs, reproduced it, found the root cause and shipped a fix.",
        "Yes, I think so.",
        "I had to.",
        "That's what we were looking for.",
        "I fixed it.",
        "Could you repeat the question?",
        "and so on.",
        "",
        "   ",
    ],
)
def test_finished_endings(text: str) -> None:
    assert not judge_transcript(text).unfinished, text


# --- how far the answer has got ---------------------------------------------------------

OPEN_QUESTION = Expectation(words=40, mentions=("token bucket", "redis", "per customer"))


def _wait(text: str, expectation: Expectation | None = OPEN_QUESTION) -> float:
    return wait_after_speech(text, expectation, min_pause_s=0.6, max_pause_s=5.0).seconds


def test_one_sentence_answer_to_an_open_question_gets_the_long_wait() -> None:
    wait = wait_after_speech(
        "For a rate limiter I would start with a simple counter.",
        OPEN_QUESTION,
        min_pause_s=0.6,
        max_pause_s=5.0,
    )
    assert wait.seconds == 5.0 and wait.patient and "barely started" in wait.reason


def test_complete_multi_point_answer_gets_the_short_wait() -> None:
    text = (
        "I would keep a token bucket per customer in Redis. Each request takes a token. "
        "When the bucket is empty the request is rejected with a retry header."
    )
    assert _wait(text) == 0.6


def test_wait_shrinks_as_the_answer_grows() -> None:
    one = "I would start with a token bucket, kept in memory on each node of the fleet."
    two = one + " Then I would move the counters to a shared store."
    assert _wait(two) < _wait(one) <= 5.0


def test_questions_back_and_done_get_the_short_wait() -> None:
    assert _wait("Sorry, could you repeat the question?") == 0.6
    assert _wait("Honestly, I don't know.") == 0.6
    assert _wait("That's all.") == 0.6


def test_without_a_question_only_the_words_count() -> None:
    assert _wait("I fixed it.", None) == 0.6
    assert _wait("And then I", None) == 5.0


def test_mentions_count_as_progress() -> None:
    assert answer_progress("A token bucket per customer in Redis.", OPEN_QUESTION) == 1.0
