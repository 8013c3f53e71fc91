"""Loopback fake of OpenAI's chat completions API (streaming and not).

Pipecat's real ``OpenAILLMService(base_url="http://127.0.0.1:PORT/v1")`` and the ``openai``
client under it talk to it unchanged. A ``responder`` decides the reply from the request, so a
test can script an interview; a first-token delay models the vendor's time to first token.

The official client retries 408/409/429 and 5xx twice with backoff (``max_retries=2``), so an
error test that must fail fast should raise a 4xx such as 400 or 401.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from interview_pipeline.fakes._server import LoopbackServer, RecordedRequest, check_key, sleep_until

_TOKEN = re.compile(r"\s*\S+|\s+")


class FakeHTTPError(Exception):
    """Raised by a responder to make the fake answer with an HTTP error."""

    def __init__(self, status: int, body: dict[str, Any] | str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body if body is not None else _error_body(f"fake error {status}", "api_error")


@dataclass
class FakeToolCall:
    """A function call for the fake to stream as ``delta.tool_calls`` (return a list of them)."""

    name: str
    arguments: dict[str, Any]
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")


Reply = str | list[FakeToolCall]
Responder = Callable[[dict[str, Any]], Reply | Awaitable[Reply]]


def default_responder(request: dict[str, Any]) -> str:
    """A neutral interviewer acknowledgement, whatever was asked."""
    return "Thanks, that's helpful."


@dataclass
class OpenAIRequest(RecordedRequest):
    """One API call: handshake fields plus the JSON body and when the reply started."""

    json: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    first_token_at: float | None = None
    finished_at: float | None = None
    #: The client hung up before the stream ended (pipecat cancels on interruption).
    disconnected: bool = False

    @property
    def first_token_latency(self) -> float | None:
        if self.first_token_at is None:
            return None
        return self.first_token_at - self.received_at


class OpenAIFake(LoopbackServer):
    """OpenAI chat completions on loopback. Pass ``start()``'s URL as ``OpenAILLMService(base_url=)``.

    Args:
        responder: Request JSON -> reply text, or a list of ``FakeToolCall``; may be async; may
            raise ``FakeHTTPError``. Default: "Thanks, that's helpful."
        first_token_delay_s: Time from the request arriving to the first streamed chunk (and
            to the whole reply for non-streaming calls, plus the per-token time).
        token_delay_s: Time between streamed chunks.
        expected_key: When set, requests without ``Authorization: Bearer <key>`` get 401.
    """

    url_path = "/v1"

    def __init__(
        self,
        responder: Responder | None = None,
        first_token_delay_s: float = 0.0,
        token_delay_s: float = 0.005,
        expected_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.responder: Responder = responder or default_responder
        self.first_token_delay_s = first_token_delay_s
        self.token_delay_s = token_delay_s
        self.expected_key = expected_key
        self.requests: list[OpenAIRequest] = []

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle_completions)
        app.router.add_get("/v1/models", self._handle_models)
        return app

    @property
    def completions(self) -> list[OpenAIRequest]:
        """Only the chat completion calls."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- handlers ----------------------------------------------------------------------------
    async def _record(self, request: web.Request) -> OpenAIRequest:
        base = RecordedRequest.from_request(request)
        body: dict[str, Any] = {}
        if request.can_read_body:
            body = await request.json()
        rec = OpenAIRequest(
            method=base.method,
            path=base.path,
            query=base.query,
            headers=base.headers,
            received_at=base.received_at,
            json=body,
        )
        self.requests.append(rec)
        return rec

    def _authorized(self, request: web.Request) -> bool:
        return check_key(request.headers.get("Authorization"), self.expected_key, ("Bearer",))

    async def _handle_models(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        if not self._authorized(request):
            return _unauthorized(rec)
        model = {"id": "gpt-4.1-mini", "object": "model", "created": 0, "owned_by": "fake"}
        return web.json_response({"object": "list", "data": [model]})

    async def _handle_completions(self, request: web.Request) -> web.StreamResponse:
        rec = await self._record(request)
        if not self._authorized(request):
            return _unauthorized(rec)
        try:
            reply = self.responder(rec.json)
            if inspect.isawaitable(reply):
                reply = await reply
        except FakeHTTPError as e:
            rec.status = e.status
            if isinstance(e.body, str):
                return web.Response(status=e.status, text=e.body)
            return web.json_response(e.body, status=e.status)
        model = str(rec.json.get("model") or "gpt-4.1-mini")
        if rec.json.get("stream"):
            return await self._stream(request, rec, model, reply)
        tokens = _tokens(reply) if isinstance(reply, str) else [""]
        await sleep_until(
            rec.received_at + self.first_token_delay_s + self.token_delay_s * len(tokens)
        )
        rec.first_token_at = rec.finished_at = time.monotonic()
        return web.json_response(_completion(model, reply, _usage(rec.json, len(tokens))))

    async def _stream(
        self, request: web.Request, rec: OpenAIRequest, model: str, reply: Reply
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _chunk(chunk_id, created, model, [choice])

        if isinstance(reply, str):
            tokens = _tokens(reply) or [""]
            events = [chunk({"role": "assistant", "content": "", "refusal": None})]
            events += [chunk({"content": t}) for t in tokens]
            finish = "stop"
        else:
            tokens = [json.dumps(c.arguments) for c in reply]
            events = [chunk({"role": "assistant", "content": None, "refusal": None})]
            events += [chunk({"tool_calls": [_tool_delta(i, c)]}) for i, c in enumerate(reply)]
            finish = "tool_calls"
        events.append(chunk({}, finish))
        if (rec.json.get("stream_options") or {}).get("include_usage"):
            usage = _usage(rec.json, len(tokens))
            events.append(_chunk(chunk_id, created, model, [], usage))

        await sleep_until(rec.received_at + self.first_token_delay_s)
        try:
            # The role chunk and the first content travel together: the client's time to
            # first token is when the first content arrives.
            for i, event in enumerate(events):
                if i >= 2 and self.token_delay_s > 0:
                    await asyncio.sleep(self.token_delay_s)
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
                if i == 1:
                    rec.first_token_at = time.monotonic()
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionError:
            rec.disconnected = True
        rec.finished_at = time.monotonic()
        return response


# --- payload shapes --------------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    """Word-sized pieces with their leading whitespace, like a tokenizer's output."""
    return _TOKEN.findall(text)


def _error_body(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _unauthorized(rec: OpenAIRequest) -> web.Response:
    rec.status = 401
    body = _error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    return web.json_response(body, status=401)


def _usage(request: dict[str, Any], completion_tokens: int) -> dict[str, int]:
    """Rough token counts (4 characters a token) so usage metrics have plausible numbers."""
    prompt_chars = len(json.dumps(request.get("messages", [])))
    prompt_tokens = max(1, prompt_chars // 4)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _chunk(
    chunk_id: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        "usage": usage,
    }


def _tool_delta(index: int, call: FakeToolCall) -> dict[str, Any]:
    return {
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
    }


def _completion(model: str, reply: Reply, usage: dict[str, int]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "refusal": None}
    if isinstance(reply, str):
        message["content"] = reply
        finish = "stop"
    else:
        message["content"] = None
        message["tool_calls"] = [
            {k: v for k, v in _tool_delta(0, c).items() if k != "index"} for c in reply
        ]
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }
