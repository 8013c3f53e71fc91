"""A gate before transport out that holds the interviewer's output until the candidate joins.

The greeting is synthesised as soon as the bot is in the room; its audio (and video) wait
here and play the moment the candidate arrives, instead of paying TTS latency then. System
frames (interruptions, lifecycle) always pass, so holding never blocks a shutdown.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pipecat.frames.frames import EndFrame, Frame, SystemFrame, TTSStoppedFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


class JoinGate(FrameProcessor):
    def __init__(self, *, open_: bool = False, **kwargs: Any):
        super().__init__(name="JoinGate", **kwargs)
        self._open = open_
        self._held: list[Frame] = []
        #: Set once a whole utterance (the greeting) is held, or the gate is open: from then
        #: on a candidate who joins hears it without waiting for synthesis.
        self.greeting_ready = asyncio.Event()

    @property
    def is_open(self) -> bool:
        return self._open

    async def open(self) -> None:
        """Release everything held, in order, and let frames through from now on."""
        if self._open:
            return
        self._open = True
        self.greeting_ready.set()
        held, self._held = self._held, []
        for frame in held:
            await self.push_frame(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if (
            self._open
            or direction is FrameDirection.UPSTREAM
            or isinstance(frame, (SystemFrame, EndFrame))
        ):
            if isinstance(frame, EndFrame) and self._held:
                await self.open()
            await self.push_frame(frame, direction)
            return
        self._held.append(frame)
        if isinstance(frame, TTSStoppedFrame):
            self.greeting_ready.set()
