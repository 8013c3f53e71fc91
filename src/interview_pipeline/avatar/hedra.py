"""Hedra v3 batch API client: portrait + audio → lip-synced Character-3 MP4.

Flow (field names from the v3 OpenAPI document): ``POST /files`` (multipart ``file``) returns
``{url, content_type, expires_at}`` where the presigned ``url`` *is* the handle; ``POST
/models/hedra-character-3`` with ``{"input": {prompt, aspect_ratio, resolution, start_image:
{source: "url", url}, audio: {source: "url", url}}, "idempotency_key"}`` returns 202 ``{job_id,
status_url, result_url}``; ``GET /jobs/{id}/status`` until ``COMPLETED``/``FAILED``; ``GET
/jobs/{id}`` gives ``outputs[].url`` to download.

Every failure becomes one ``HedraError`` with a ``reason`` the caller counts and logs once:
``auth`` (401/403), ``balance`` (402), ``rate_limit`` (429), ``server`` (5xx), ``timeout``,
``failed`` (the job failed), ``bad_request`` (other 4xx), ``network``. 429 and 5xx are retried
(honouring ``Retry-After``) a few times first; a submit retry is safe because it carries the
same idempotency key. The API key goes only to the API host, never to presigned URLs.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

MODEL = "hedra-character-3"
PROMPT = (
    "A friendly job interviewer talking to the camera, natural expressions, subtle head motion."
)


class HedraError(Exception):
    def __init__(
        self,
        reason: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(f"Hedra {reason}: {message}" + (f" (HTTP {status})" if status else ""))
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.trace_id = trace_id


def _reason(status: int) -> str:
    if status in (401, 403):
        return "auth"
    if status == 402:
        return "balance"
    if status == 429:
        return "rate_limit"
    if status >= 500:
        return "server"
    return "bad_request"


def _error_from(response: httpx.Response) -> HedraError:
    message, trace_id, retry_after = response.reason_phrase or "error", None, None
    try:
        body = response.json()
        err = body.get("error") or {}
        message = str(err.get("message") or message)
        trace_id = body.get("trace_id")
        retry_after = err.get("retry_after")
    except ValueError:
        pass
    header = response.headers.get("Retry-After")
    if header is not None:
        try:
            retry_after = float(header)
        except ValueError:
            pass
    return HedraError(
        _reason(response.status_code),
        message,
        status=response.status_code,
        retry_after=float(retry_after) if retry_after is not None else None,
        trace_id=trace_id,
    )


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.5
    max_s: float = 20.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_s, max(0.0, retry_after))
        return min(self.max_s, self.base_s * 2**attempt) * (0.75 + 0.5 * random.random())


class HedraClient:
    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.hedra.com/v3",
        *,
        request_timeout_s: float = 60.0,
        poll_timeout_s: float = 600.0,
        poll_initial_s: float = 1.0,
        poll_max_s: float = 15.0,
        retry: RetryPolicy | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self._api_host = urlsplit(self.base_url).netloc
        self.poll_timeout_s = poll_timeout_s
        self.poll_initial_s = poll_initial_s
        self.poll_max_s = poll_max_s
        self.retry = retry or RetryPolicy()
        self._http = client or httpx.AsyncClient(timeout=request_timeout_s)
        self._own_http = client is None

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> HedraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- HTTP with classification and retries ------------------------------------------------
    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        full = url if url.startswith("http") else f"{self.base_url}/{url.lstrip('/')}"
        headers = dict(kwargs.pop("headers", {}) or {})
        if urlsplit(full).netloc == self._api_host:
            headers["Authorization"] = f"Key {self._key}"
        last: HedraError | None = None
        for attempt in range(self.retry.attempts):
            try:
                response = await self._http.request(method, full, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                last = HedraError(
                    "timeout", f"{method} {urlsplit(full).path}: {type(exc).__name__}"
                )
            except httpx.HTTPError as exc:
                last = HedraError(
                    "network", f"{method} {urlsplit(full).path}: {type(exc).__name__}"
                )
            else:
                if response.status_code < 400:
                    return response
                last = _error_from(response)
                if last.reason not in ("rate_limit", "server"):
                    raise last
            if attempt + 1 < self.retry.attempts:
                await asyncio.sleep(self.retry.delay(attempt, last.retry_after))
        assert last is not None
        raise last

    # --- API ---------------------------------------------------------------------------------
    async def upload(self, data: bytes, filename: str, content_type: str) -> str:
        """``POST /files``; returns the presigned URL that serves as the file's handle."""
        files = {"file": (filename, data, content_type)}
        response = await self._request("POST", "/files", files=files)
        url = response.json().get("url")
        if not url:
            raise HedraError("bad_request", "upload response has no url")
        return str(url)

    async def submit(
        self,
        image_url: str,
        audio_url: str,
        *,
        aspect_ratio: str,
        resolution: str,
        idempotency_key: str,
        prompt: str = PROMPT,
    ) -> str:
        body = {
            "input": {
                "prompt": prompt,
                "aspect_ratio": aspect_ratio,
                "resolution": resolution,
                "start_image": {"source": "url", "url": image_url},
                "audio": {"source": "url", "url": audio_url},
            },
            "idempotency_key": idempotency_key,
        }
        response = await self._request("POST", f"/models/{MODEL}", json=body)
        job_id = response.json().get("job_id")
        if not job_id:
            raise HedraError("bad_request", "submit response has no job_id")
        return str(job_id)

    async def wait(self, job_id: str) -> str:
        """Poll status with exponential backoff until done; the output video's URL."""
        deadline = time.monotonic() + self.poll_timeout_s
        delay = self.poll_initial_s
        while True:
            status = (await self._request("GET", f"/jobs/{job_id}/status")).json()
            state = status.get("status")
            if state == "COMPLETED":
                break
            if state == "FAILED":
                await self._raise_failed(job_id)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HedraError(
                    "timeout", f"job {job_id} not done after {self.poll_timeout_s:g} s"
                )
            await asyncio.sleep(min(delay, remaining))
            delay = min(self.poll_max_s, delay * 1.6)
        result = (await self._request("GET", f"/jobs/{job_id}")).json()
        for output in result.get("outputs") or []:
            if output.get("url") and output.get("status", "COMPLETED") == "COMPLETED":
                return str(output["url"])
        raise HedraError("failed", f"job {job_id} completed without a downloadable output")

    async def _raise_failed(self, job_id: str) -> None:
        result = (await self._request("GET", f"/jobs/{job_id}")).json()
        error = result.get("error") or {}
        raise HedraError("failed", f"job {job_id}: {error.get('message', 'failed')}")

    async def download(self, url: str) -> bytes:
        return (await self._request("GET", url)).content

    async def character3(
        self,
        portrait_png: bytes,
        audio_wav: bytes,
        *,
        aspect_ratio: str,
        resolution: str,
        idempotency_key: str,
    ) -> tuple[bytes, str]:
        """The whole flow; returns (MP4 bytes, job id)."""
        image_url = await self.upload(portrait_png, "portrait.png", "image/png")
        audio_url = await self.upload(audio_wav, "line.wav", "audio/wav")
        job_id = await self.submit(
            image_url,
            audio_url,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
            idempotency_key=idempotency_key,
        )
        return await self.download(await self.wait(job_id)), job_id
