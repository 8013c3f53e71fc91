"""How an interview ended: one vocabulary for the conductor, the bot, the simulator and the
launcher, so the session status is read from a known value instead of guessed from a string.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    COMPLETED = "completed"
    #: The candidate went silent, left and did not come back, or never joined.
    ABANDONED = "abandoned"
    #: Ended from outside (DELETE, drain, shutdown); the launcher decides what it counts as.
    STOPPED = "stopped"
    FAILED = "failed"
    #: Simulation only: the replayed answers ran out before the plan did.
    SCRIPT_ENDED = "script_ended"
    #: Simulation only: the pipeline ended with no outcome decided.
    ENDED = "ended"


class OutcomeReport(str):
    """The outcome a bot returns, with why and what was degraded.

    Still a plain string (the outcome's value) to callers that only compare it or send it
    on: the launcher's child process contract is ``str(result)`` plus optional attributes.
    """

    outcome: Outcome
    reason: str | None
    degraded: dict[str, int]

    def __new__(
        cls, outcome: Outcome, *, reason: str | None = None, degraded: dict[str, int] | None = None
    ) -> OutcomeReport:
        self = super().__new__(cls, outcome.value)
        self.outcome, self.reason, self.degraded = outcome, reason, degraded or {}
        return self
