"""Holds a speculative reply after TTS until the candidate's turn is confirmed.

pipecat's own speculation gate lives inside the LLM service and holds the LLM's text, so
TTS would only start once the turn is confirmed. Here the reply is held after TTS instead:
the prepared audio waits, and when the turn is confirmed the first sound goes out at once.

Rules, chosen so that a wrong guess is never heard:

- ``ReplyHoldFrame`` (in order, in front of the reply) starts holding, unless the turn it
  answers already ended (a confirmation can overtake the reply it confirms).
- ``UserStoppedSpeakingFrame`` (the turn is confirmed) releases what is held, in order.
- A withdrawn guess (``EagerEndOfTurnCancelFrame``) reaches the conductor, which cancels
  the reply it passed on with an ``InterruptionFrame``. That frame stops the LLM and TTS
  before it gets here, and pipecat drops the non-system frames still queued in front of
  each processor it reaches; here it drops what is held. So after it nothing of the
  withdrawn reply is left, and the gate needs no verdict of its own on the withdrawal.
- System frames always pass (they carry the verdicts), and so does an ``EndFrame``.
"""

from __future__ import annotations

from enum import Enum

from loguru import logger
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    InterruptionFrame,
    SystemFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interview_pipeline.turns.frames import ReplyHoldFrame


class GateState(Enum):
    OPEN = "open"
    HOLDING = "holding"


class ReplyGate(FrameProcessor):
    def __init__(self, **kwargs: object):
        super().__init__(name="ReplyGate", **kwargs)  # type: ignore[arg-type]
        self.state = GateState.OPEN
        self._held: list[Frame] = []
        self._turn_open = False
        #: Replies released as prepared and replies dropped unheard (for tests and logs).
        self.released = 0
        self.dropped = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.UPSTREAM:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, SystemFrame):
            await self.push_frame(frame, direction)
            await self._verdict(frame)
            return
        if isinstance(frame, ReplyHoldFrame):
            if self._turn_open:
                self.state = GateState.HOLDING
            return
        if isinstance(frame, EndFrame):
            self._held.clear()
            self.state = GateState.OPEN
            await self.push_frame(frame, direction)
            return
        if self.state is GateState.HOLDING:
            self._held.append(frame)
        else:
            await self.push_frame(frame, direction)

    async def _verdict(self, frame: SystemFrame) -> None:
        if isinstance(frame, UserStartedSpeakingFrame):
            self._turn_open = True
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._turn_open = False
            if self.state is GateState.HOLDING:
                held, self._held = self._held, []
                self.state = GateState.OPEN
                self.released += 1
                logger.debug(f"{self}: turn confirmed, releasing the prepared reply")
                for f in held:
                    await self.push_frame(f)
        elif isinstance(frame, InterruptionFrame):
            if self.state is GateState.HOLDING:
                self.dropped += 1
                logger.debug(f"{self}: reply withdrawn, dropping {len(self._held)} frames unheard")
            self._held.clear()
            self.state = GateState.OPEN
