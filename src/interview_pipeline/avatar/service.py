"""HedraVideoService: the avatar stage between TTS and transport out.

Placeholder until the avatar issue: passes every frame through unchanged, so the pipeline
has the stage in its final place and name.
"""

from __future__ import annotations

from pathlib import Path

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interview_pipeline.config import Settings
from interview_pipeline.personas.schema import Persona


class HedraVideoService(FrameProcessor):
    def __init__(
        self, *, persona: Persona, portrait: Path | None, settings: Settings, **kwargs: object
    ):
        super().__init__(name="HedraVideoService", **kwargs)
        self._persona = persona
        self._portrait = portrait
        self._settings = settings

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
