"""OpenAI chat completions, or any OpenAI-compatible server (Ollama, vLLM, llama.cpp)."""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI, DefaultAsyncHttpxClient
from pipecat.services.llm_service import LLMService
from pipecat.services.openai.llm import OpenAILLMService

from interview_pipeline.config import Settings
from interview_pipeline.personas.schema import Persona


class TimedOpenAILLMService(OpenAILLMService):
    """pipecat's OpenAI service with a bounded client: a timeout and few retries.

    The client's defaults (10 minutes, two retries) turn a vendor that accepts and never
    answers into minutes of silence; the fault policy needs the failure within seconds to
    say the plan's line instead. ``create_client`` is pipecat's documented override point.
    """

    def __init__(self, *, timeout_s: float, retries: int, **kwargs: Any) -> None:
        self._timeout_s, self._retries = timeout_s, retries
        super().__init__(**kwargs)

    def create_client(
        self,
        api_key: Any = None,
        base_url: Any = None,
        organization: Any = None,
        project: Any = None,
        default_headers: Any = None,
        **kwargs: Any,
    ) -> AsyncOpenAI:
        return AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            default_headers=default_headers,
            # Per read: no byte for this long (no first token, or a stream that stalls).
            timeout=self._timeout_s,
            max_retries=self._retries,
            http_client=DefaultAsyncHttpxClient(),
        )


def build_openai_llm(
    settings: Settings, persona: Persona, system_instruction: str
) -> LLMService[Any]:
    key = settings.require_key(settings.openai_api_key, "OPENAI_API_KEY", "OpenAI LLM")
    return TimedOpenAILLMService(
        timeout_s=settings.llm_timeout_s,
        retries=settings.llm_retries,
        api_key=key,
        base_url=settings.openai_base_url,
        settings=OpenAILLMService.Settings(
            model=persona.llm.model or settings.openai_model,
            temperature=persona.llm.temperature,
            max_completion_tokens=persona.llm.max_tokens,
            system_instruction=system_instruction,
        ),
    )
