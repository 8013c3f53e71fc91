"""Where the candidate's raw audio goes: recorded as it arrives, dropped once turns are decided.

Every frame that travels the pipeline costs a queue hop per processor and an event per
observer, and the candidate's microphone sends 50 frames a second for the whole interview.
Only the STT and the user aggregator (VAD, Smart Turn) need that audio, so it stops after
them; the recorder taps it where it enters. (The hops were a small part of a bot's Python time
when measured; the figures are in the launcher README.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class CandidateAudioTap(FrameProcessor):
    """Hands each candidate audio frame to ``record`` on arrival; everything passes on."""

    def __init__(self, record: Callable[[InputAudioRawFrame], None], **kwargs: Any):
        super().__init__(name="CandidateAudioTap", **kwargs)
        self._record = record

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and isinstance(frame, InputAudioRawFrame):
            self._record(frame)
        await self.push_frame(frame, direction)


class CandidateAudioStop(FrameProcessor):
    """Ends the candidate's raw audio here; every other frame passes."""

    def __init__(self, **kwargs: Any):
        super().__init__(name="CandidateAudioStop", **kwargs)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and isinstance(frame, InputAudioRawFrame):
            return
        await self.push_frame(frame, direction)
