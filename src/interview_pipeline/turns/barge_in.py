"""Barge-in per question: whether the candidate may interrupt what is being said now.

The persona turns barge-in on or off, and each question may override it (off while the
interviewer reads instructions, say). Which question is being asked is known only to the
conductor, downstream of the user aggregator that decides about interruptions, so the
conductor sends the policy upstream as a frame before each line, and a pipecat user mute
strategy in the aggregator applies it while the interviewer speaks.

Muting (rather than only not interrupting) is deliberate: with barge-in off, what the
candidate says over the line is ignored, so a "mm-hm" while instructions are read cannot
become their answer. Speech that continues after the interviewer stops is heard as usual.
The persona's resume window (a candidate going on soon after a reply started is the same
answer continuing) applies where barge-in is allowed; it never unmutes a line the product
team chose to read to the end. A goodbye after the last answer may be cut off only inside
that window (``window_s``): the answer going on, not a "thanks, bye" over it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    SystemFrame,
)
from pipecat.turns.user_mute.base_user_mute_strategy import BaseUserMuteStrategy


@dataclass
class BargeInPolicyFrame(SystemFrame):
    """Sent upstream by the conductor: may the candidate interrupt the next line?"""

    allowed: bool = True
    #: For the log: which question (or line) the policy belongs to.
    label: str = ""
    #: The line replies to an answer (for the log; see the conductor's resume window).
    reply: bool = False
    #: Allowed only this long after the line starts playing (None: the whole line).
    window_s: float | None = None


class QuestionBargeInMuteStrategy(BaseUserMuteStrategy):
    """Mutes the candidate while the interviewer speaks a line with barge-in off."""

    def __init__(
        self, *, default_allowed: bool = True, clock: Callable[[], float] = time.monotonic
    ):
        super().__init__()
        self.allowed = default_allowed
        self.window_s: float | None = None
        self._clock = clock
        self._bot_speaking = False
        self._started = 0.0

    async def process_frame(self, frame: Frame) -> bool:
        await super().process_frame(frame)
        if isinstance(frame, BargeInPolicyFrame):
            if frame.allowed != self.allowed:
                state = "on" if frame.allowed else "off"
                logger.debug(f"{self}: barge-in {state} for {frame.label or 'next line'}")
            self.allowed, self.window_s = frame.allowed, frame.window_s
        elif isinstance(frame, BotStartedSpeakingFrame):
            if not self._bot_speaking:
                self._started = self._clock()
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        if not self._bot_speaking:
            return False
        late = self.window_s is not None and self._clock() - self._started > self.window_s
        return not self.allowed or late
