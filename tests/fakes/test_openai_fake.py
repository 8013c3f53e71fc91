"""Pipecat's real OpenAILLMService (and the openai client under it) against the loopback fake."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pipecat.frames.frames import (
    ErrorFrame,
    FunctionCallsStartedFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.services.openai.llm import OpenAILLMService
from pipecat.tests.utils import run_test

from interview_pipeline.fakes import FakeHTTPError, FakeToolCall, OpenAIFake

REPLY = "Great. Tell me about a project where you had to debug a production issue."


class FirstTextTime(BaseObserver):
    """When the first LLMTextFrame left the service, as the pipeline saw it."""

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    async def on_push_frame(self, data: FramePushed) -> None:
        if self.at is None and isinstance(data.frame, LLMTextFrame):
            self.at = time.monotonic()


def _llm(url: str, key: str = "test-key") -> OpenAILLMService:
    return OpenAILLMService(
        api_key=key,
        base_url=url,
        settings=OpenAILLMService.Settings(
            model="gpt-4.1-mini", system_instruction="You are a job interviewer."
        ),
    )


def _context() -> LLMContext:
    return LLMContext(
        messages=[{"role": "user", "content": "I have five years of Python experience."}]
    )


async def test_streams_the_responders_reply_and_honours_first_token_delay() -> None:
    seen: list[dict[str, Any]] = []

    def responder(request: dict[str, Any]) -> str:
        seen.append(request)
        return REPLY

    delay = 0.4
    async with OpenAIFake(responder, first_token_delay_s=delay, expected_key="test-key") as fake:
        observer = FirstTextTime()
        sent_at = time.monotonic()
        down, up = await run_test(
            _llm(fake.base_url), frames_to_send=[LLMContextFrame(_context())], observers=[observer]
        )

    texts = [f.text for f in down if isinstance(f, LLMTextFrame)]
    assert "".join(texts) == REPLY
    assert len(texts) > 5  # streamed in word-sized pieces, not one lump
    kinds = [type(f) for f in down]
    first_text = kinds.index(LLMTextFrame)
    assert LLMFullResponseStartFrame in kinds[:first_text]
    assert kinds[-1] is LLMFullResponseEndFrame
    assert not [f for f in up if isinstance(f, ErrorFrame)]

    (request,) = fake.completions
    assert request.headers["Authorization"] == "Bearer test-key"
    assert "test-key" not in repr(request)  # secrets stay out of reprs and failure messages
    assert request.json["stream"] is True
    assert request.json["model"] == "gpt-4.1-mini"
    assert seen[0]["messages"][-1]["content"] == "I have five years of Python experience."
    assert request.first_token_latency is not None and request.first_token_latency >= 0.9 * delay
    assert observer.at is not None and observer.at - sent_at >= 0.9 * delay


async def test_wrong_key_is_rejected_as_an_error_frame() -> None:
    async with OpenAIFake(expected_key="test-key") as fake:
        down, up = await run_test(
            _llm(fake.base_url, key="wrong-key"), frames_to_send=[LLMContextFrame(_context())]
        )
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert errors and "401" in errors[0].error
    assert not [f for f in down if isinstance(f, LLMTextFrame)]
    assert [r.status for r in fake.completions] == [401]  # 4xx: the client does not retry


async def test_responder_http_error_surfaces() -> None:
    def responder(request: dict[str, Any]) -> str:
        raise FakeHTTPError(400, {"error": {"message": "context too long", "type": "bad"}})

    async with OpenAIFake(responder) as fake:
        _down, up = await run_test(
            _llm(fake.base_url), frames_to_send=[LLMContextFrame(_context())]
        )
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert errors and "context too long" in errors[0].error


async def test_tool_calls_stream_as_function_calls() -> None:
    call = FakeToolCall("end_interview", {"reason": "candidate asked to stop"})
    async with OpenAIFake(lambda request: [call]) as fake:
        llm = _llm(fake.base_url)
        down, _up = await run_test(llm, frames_to_send=[LLMContextFrame(_context())])
    started = [f for f in down if isinstance(f, FunctionCallsStartedFrame)]
    assert started and started[0].function_calls[0].function_name == "end_interview"
    assert started[0].function_calls[0].arguments == call.arguments


@pytest.mark.parametrize("schema", [None, {"type": "object", "properties": {}}])
async def test_non_streaming_run_inference(schema: dict[str, Any] | None) -> None:
    async with OpenAIFake(lambda request: '{"score": 4}', first_token_delay_s=0.05) as fake:
        llm = _llm(fake.base_url)
        reply = await llm.run_inference(_context(), response_schema=schema)
    assert reply == '{"score": 4}'
    (request,) = fake.completions
    assert request.json["stream"] is False
    assert ("response_format" in request.json) == (schema is not None)


async def test_models_endpoint_and_usage() -> None:
    import httpx

    async with OpenAIFake(expected_key="test-key") as fake:
        async with httpx.AsyncClient() as client:
            ok = await client.get(
                f"{fake.base_url}/models", headers={"Authorization": "Bearer test-key"}
            )
            bad = await client.get(f"{fake.base_url}/models")
            stream = await client.post(
                f"{fake.base_url}/chat/completions",
                headers={"Authorization": "Bearer test-key"},
                json={
                    "model": "gpt-4.1-mini",
                    "messages": [{"role": "user", "content": "hi"}],
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
            )
    assert ok.status_code == 200 and ok.json()["data"][0]["id"] == "gpt-4.1-mini"
    assert bad.status_code == 401
    lines = [line for line in stream.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert '"usage": {"prompt_tokens"' in lines[-2]
    assert '"finish_reason": "stop"' in lines[-3]
