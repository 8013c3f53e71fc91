"""The scripted interviewer: an offline LLM service that follows the persona's plan.

It is a real Pipecat LLM service: it consumes LLMContextFrames, reads the conductor's latest
instruction and the candidate's last answer from the context, and streams its reply as
LLMTextFrames with the usual start/end frames and TTFB metrics. It is a product feature
(offline demos, CI, air-gapped trials), so its lines are varied and natural rather than
canned test strings, and deterministic for a given conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings

from interview_pipeline.compat.llm import push_llm_text
from interview_pipeline.conduct import directive
from interview_pipeline.conduct.plan import StepKind

_ACK_SHORT = (
    "Okay, thank you.",
    "Alright, thanks.",
    "Got it, thank you.",
)
_ACK_LONG = (
    "Thank you, that's a helpful picture.",
    "Great, thanks for walking me through that.",
    "That makes sense, thank you for the detail.",
    "Thanks, I appreciate the concrete example.",
)
_ACK_CLOSING = (
    "Thank you for sharing that.",
    "Thanks, that's a good note to end on.",
)
_FOLLOW_UPS = (
    "Could you say a bit more about {topics}?",
    "How did {topics} come into it?",
    "And where did {topics} fit in?",
)
_FOLLOW_UP_GENERIC = (
    "Could you give me a concrete example of that?",
    "Could you tell me a little more about what you did yourself?",
)


def _pick(options: tuple[str, ...], seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return options[digest[0] % len(options)]


def _join(items: tuple[str, ...]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _text_of(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def compose_reply(messages: list[Any]) -> str:
    """The interviewer's next line for a conversation, from its newest directive."""
    parsed, answer = None, ""
    for message in reversed(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if parsed is None and role in ("developer", "system"):
            parsed = directive.parse(_text_of(message))
        if not answer and role == "user":
            answer = _text_of(message).strip()
        if parsed is not None and answer:
            break
    if parsed is None:
        # No plan instruction (e.g. someone wired the service without a conductor).
        return "Thank you. Could you tell me a little more about that?"
    seed = f"{parsed.kind}:{parsed.question_id}:{answer}"
    parts: list[str] = []
    if parsed.acknowledge:
        if parsed.kind is StepKind.CLOSING:
            parts.append(_pick(_ACK_CLOSING, seed))
        elif len(answer.split()) < 12:
            parts.append(_pick(_ACK_SHORT, seed))
        else:
            parts.append(_pick(_ACK_LONG, seed))
    if parsed.kind is StepKind.FOLLOW_UP:
        if parsed.topics:
            topics = _join(parsed.topics[:2])
            parts.append(_pick(_FOLLOW_UPS, seed).format(topics=topics))
        else:
            parts.append(_pick(_FOLLOW_UP_GENERIC, seed))
    elif parsed.verbatim:
        parts.append(parsed.verbatim)
    return " ".join(parts)


_TOKEN_RE = re.compile(r"\S+\s*")


class ScriptedInterviewerLLMService(LLMService):
    """Offline interviewer LLM. ``token_delay_s`` paces streaming like a model would."""

    def __init__(self, *, token_delay_s: float = 0.0, **kwargs: Any):
        settings = kwargs.pop("settings", None) or LLMSettings(
            model="scripted-interviewer",
            system_instruction=None,
            temperature=None,
            max_tokens=None,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=None,
            user_turn_completion_config=None,
        )
        super().__init__(settings=settings, **kwargs)
        self._token_delay_s = token_delay_s

    def can_generate_metrics(self) -> bool:
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self.push_frame(LLMFullResponseStartFrame())
            await self.start_processing_metrics()
            await self.start_ttfb_metrics()
            try:
                await self._respond(frame.context)
            finally:
                await self.stop_processing_metrics()
                await self.push_frame(LLMFullResponseEndFrame())
        else:
            await self.push_frame(frame, direction)

    async def _respond(self, context: LLMContext) -> None:
        reply = compose_reply(list(context.get_messages()))
        first = True
        for token in _TOKEN_RE.findall(reply):
            if first:
                await self.stop_ttfb_metrics()
                first = False
            await push_llm_text(self, token)
            if self._token_delay_s:
                await asyncio.sleep(self._token_delay_s)
