"""pipecat's helper for an LLM service's streamed text."""

from __future__ import annotations

from pipecat.services.llm_service import LLMService


async def push_llm_text(service: LLMService, text: str) -> None:
    """Push text as pipecat's own LLM services do (through its turn-completion handling)."""
    await service._push_llm_text(text)
