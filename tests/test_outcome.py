"""The outcome vocabulary the bot reports and the launcher turns into a session status."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.session_state import final_status
from interview_pipeline.outcome import Outcome, OutcomeReport


def test_report_is_the_outcome_string_with_why() -> None:
    report = OutcomeReport(Outcome.ABANDONED, reason="no answer", degraded={"tts": 1})
    assert report == "abandoned" and str(report) == "abandoned"
    assert report.outcome is Outcome.ABANDONED
    assert (report.reason, report.degraded) == ("no answer", {"tts": 1})


@pytest.mark.parametrize(
    ("value", "joined", "status"),
    [
        (Outcome.COMPLETED, False, SessionStatus.COMPLETED),
        (Outcome.FAILED, True, SessionStatus.FAILED),
        (Outcome.ABANDONED, True, SessionStatus.ABANDONED),
        # Stopped by DELETE or drain: completed if the candidate heard the closing line.
        (Outcome.STOPPED, True, SessionStatus.COMPLETED),
        (Outcome.STOPPED, False, SessionStatus.ABANDONED),
        # A value this launcher does not know (a newer bot, a non-final status) counts as stopped.
        ("in_progress", True, SessionStatus.COMPLETED),
        (None, False, SessionStatus.ABANDONED),
    ],
)
def test_final_status_of_each_outcome(value: Any, joined: bool, status: SessionStatus) -> None:
    live: Any = SimpleNamespace(candidate_joined=joined)
    assert final_status(value, live) is status
