"""The conductor: the processor between the user aggregator and the LLM that runs the plan.

Each time the candidate's turn ends, the user aggregator sends the context downstream; the
conductor asks the plan what comes next and adds that as a developer instruction before
the LLM sees the context. Scripted lines (opening) are spoken verbatim with TTSSpeakFrame,
so the greeting needs no LLM round trip. After the closing line the conductor asks the
worker to end gracefully, so queued audio is played before the bot leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    LLMContextFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from interview_pipeline.conduct import directive
from interview_pipeline.conduct.plan import InterviewPlan, Step, StepKind
from interview_pipeline.personas.schema import Persona

StepListener = Callable[[Step], None]


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content.strip()
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict)).strip()
    return ""


class InterviewConductor(FrameProcessor):
    def __init__(self, persona: Persona, candidate_name: str, **kwargs: Any):
        super().__init__(name="InterviewConductor", **kwargs)
        self.persona = persona
        self.plan = InterviewPlan(persona, candidate_name)
        self.current: Step | None = None
        self.started_at: float | None = None
        self.outcome: str | None = None
        self._listeners: list[StepListener] = []

    def add_step_listener(self, listener: StepListener) -> None:
        self._listeners.append(listener)

    @property
    def asked_count(self) -> int:
        return len(self.plan.asked)

    def _set_step(self, step: Step) -> None:
        self.current = step
        logger.info(f"{self}: {step.kind.value} {step.question_id or ''}".rstrip())
        for listener in self._listeners:
            listener(step)

    async def begin(self) -> None:
        """Greet the candidate and ask the first question (called when they are there)."""
        if self.current is not None:
            return
        self.started_at = time.monotonic()
        step = self.plan.opening()
        self._set_step(step)
        await self.push_frame(TTSSpeakFrame(step.verbatim))

    async def say(self, step: Step, text: str | None = None) -> None:
        """Speak a scripted line verbatim (no LLM), in order with anything already queued."""
        self._set_step(step)
        await self.push_frame(TTSSpeakFrame(text if text is not None else step.verbatim))

    async def welcome_back(self) -> None:
        """The candidate rejoined: greet them and ask the same question again."""
        if self.current is None or self.plan.finished:
            return
        name = self.plan.candidate_name
        step = self.plan.repeat()
        await self.say(
            step, f"Welcome back, {name}. Let's pick up where we left off. {step.verbatim}"
        )

    async def wrap_up(self, outcome: str = "stopped") -> None:
        """End now: closing line, then the bot leaves (DELETE, time budget, shutdown)."""
        if self.plan.finished:
            return
        self.outcome = outcome
        if self.current is None:  # nobody was greeted; nothing to say
            self.plan.finished = True
            await self.push_frame(EndWorkerFrame(reason=outcome))
            return
        await self.say(self.plan.closing())
        await self.push_frame(EndWorkerFrame(reason=outcome))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._on_candidate_turn(frame)
            return
        await self.push_frame(frame, direction)

    async def _on_candidate_turn(self, frame: LLMContextFrame) -> None:
        if self.current is None or self.plan.finished:
            # Before the greeting or after the closing line nothing more is said.
            return
        answer = _last_user_text(list(frame.context.get_messages()))
        step = self.plan.after_answer(answer)
        await self._direct(frame, step)

    async def _direct(self, frame: LLMContextFrame, step: Step) -> None:
        self._set_step(step)
        frame.context.add_message({"role": "developer", "content": directive.render(step)})
        await self.push_frame(frame)
        if step.kind is StepKind.CLOSING:
            self.outcome = "completed"
            await self.push_frame(EndWorkerFrame(reason="interview completed"))
