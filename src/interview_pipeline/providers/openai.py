"""OpenAI chat completions, or any OpenAI-compatible server (Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

from typing import Any

from pipecat.services.llm_service import LLMService
from pipecat.services.openai.llm import OpenAILLMService

from interview_pipeline.config import Settings
from interview_pipeline.personas.schema import Persona


def build_openai_llm(
    settings: Settings, persona: Persona, system_instruction: str
) -> LLMService[Any]:
    key = settings.require_key(settings.openai_api_key, "OPENAI_API_KEY", "OpenAI LLM")
    return OpenAILLMService(
        api_key=key,
        base_url=settings.openai_base_url,
        settings=OpenAILLMService.Settings(
            model=persona.llm.model or settings.openai_model,
            temperature=persona.llm.temperature,
            max_completion_tokens=persona.llm.max_tokens,
            system_instruction=system_instruction,
        ),
    )
