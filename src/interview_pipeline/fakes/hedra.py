"""Loopback fake of Hedra's v3 batch API (the Character-3 part), returning real MP4s.

Routes (as in ``reference/hedra-openapi-v3.json``), under ``{base_url}`` = ``http://127.0.0.1:PORT/v3``:

- ``POST /files`` multipart ``file`` → 201 ``{url, content_type, expires_at}``; the URL is a
  presigned-looking link to ``/_blobs/{id}?sig=..`` on the same server (no auth needed).
- ``POST /models/hedra-character-3`` → 202 ``{job_id, model, status, status_url, result_url}``;
  the body is validated like the real schema (required fields, enums, no extra keys, only
  handles this server issued); a repeated ``idempotency_key`` replays the first ack.
- ``GET /jobs/{id}/status`` → ``{job_id, status, progress}``; ``GET /jobs/{id}`` →
  ``{job_id, model, status, outputs: [{url, content_type, width, height, duration_ms, fps,
  ...}], error}``.
- Errors use the documented body ``{"error": {code, message, retryable, retry_after?},
  "trace_id"}``, with ``Retry-After`` on 429.

The video is rendered for real: the local renderer animates the uploaded portrait from the
uploaded audio's energy, encoded as H.264 + AAC, at the size Hedra gives for the requested
aspect ratio and resolution. Failures are switchable per route (``fail``), and the job can be
made to fail (``job_fails``) or to never finish (``stall``) for timeout tests.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image

from interview_pipeline.avatar.face import cover_resize
from interview_pipeline.avatar.local import LocalFaceRenderer
from interview_pipeline.avatar.media import decode_audio, write_mp4
from interview_pipeline.avatar.portrait import PhotoFace, PortraitError, detect_face
from interview_pipeline.avatar.timeline import ENVELOPE_HZ, mouth_envelope
from interview_pipeline.fakes._server import LoopbackServer, RecordedRequest, check_key

_ASPECTS = {"1:1", "4:3", "3:4", "16:9", "9:16", "9:21", "21:9"}
_RESOLUTIONS = {"540p": 540, "720p": 720, "1080p": 1080}
_REQUIRED = {"aspect_ratio", "audio", "prompt", "resolution", "start_image"}
_ALLOWED = _REQUIRED | {"num_outputs", "duration_ms"}
_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHORIZED",
    402: "INSUFFICIENT_BALANCE",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def output_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    """Frame size for an aspect ratio at a resolution (short side = the 'p' number)."""
    a, b = (int(x) for x in aspect_ratio.split(":"))
    short = _RESOLUTIONS[resolution]
    long = round(short * max(a, b) / min(a, b) / 2) * 2
    return (long, short) if a >= b else (short, long)


def render_talking_mp4(
    image: Image.Image, pcm: np.ndarray, sample_rate: int, size: tuple[int, int], fps: int = 25
) -> bytes:
    """A talking-head MP4 of ``image`` speaking ``pcm``, mouth driven by the audio."""
    import tempfile
    from pathlib import Path

    width, height = size
    framed = cover_resize(image, width, height)
    try:  # a photo talks with its own mouth, as Character-3 animates it
        face: PhotoFace | None = detect_face(framed)
    except PortraitError:
        face = None
    renderer = LocalFaceRenderer(width, height, image=framed, face=face)
    opening, wide = mouth_envelope(pcm, sample_rate)
    n = max(1, int(np.ceil(len(pcm) / sample_rate * fps)))

    def frames() -> Any:
        for i in range(n):
            k = min(len(opening) - 1, int(i / fps * ENVELOPE_HZ)) if len(opening) else -1
            yield renderer.frame_array(
                float(opening[k]) if k >= 0 else 0.0,
                i / fps,
                wide=float(wide[k]) if k >= 0 else 0.0,
            )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.mp4"
        write_mp4(path, frames(), fps, pcm, sample_rate)
        return path.read_bytes()


@dataclass
class FakeJob:
    job_id: str
    body: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    status: str = "IN_QUEUE"
    progress: float = 0.0
    output: str | None = None
    size: tuple[int, int] = (540, 540)
    duration_ms: int = 0
    error: str | None = None


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int | None = None


class HedraFake(LoopbackServer):
    url_path = "/v3"

    def __init__(
        self,
        *,
        api_key: str | None = "test-key-id:test-secret",
        job_delay_s: float = 0.2,
        fps: int = 25,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.job_delay_s = job_delay_s
        self.fps = fps
        self.job_fails = False
        self.stall = False
        self.blobs: dict[str, tuple[bytes, str]] = {}
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[RecordedRequest] = []
        self.counts: dict[str, int] = {"files": 0, "submit": 0, "status": 0, "result": 0, "blob": 0}
        self._failures: dict[str, list[_Failure]] = {}
        self._acks: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def fail(
        self, route: str, status: int, *, times: int = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` calls of ``route`` (files, submit, status, result) with ``status``."""
        self._failures.setdefault(route, []).append(_Failure(status, times, retry_after))

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=200 * 1024 * 1024)
        app.router.add_post("/v3/files", self._files)
        app.router.add_post("/v3/models/hedra-character-3", self._submit)
        app.router.add_get("/v3/jobs/{job_id}/status", self._status)
        app.router.add_get("/v3/jobs/{job_id}", self._result)
        app.router.add_get("/_blobs/{blob_id}", self._blob)
        return app

    # --- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, message: str, **extra: Any) -> web.Response:
        retryable = status in (429, 500, 503)
        body = {
            "error": {
                "code": _CODES.get(status, "UNKNOWN"),
                "message": message,
                "retryable": retryable,
            }
            | extra,
            "trace_id": uuid.uuid4().hex,
        }
        headers = (
            {"Retry-After": str(extra["retry_after"])}
            if extra.get("retry_after") is not None
            else None
        )
        return web.json_response(body, status=status, headers=headers)

    def _gate(self, request: web.Request, route: str) -> web.Response | None:
        self.requests.append(RecordedRequest.from_request(request))
        self.counts[route] += 1
        if not check_key(request.headers.get("Authorization"), self.api_key, ("Key", "Bearer")):
            return self._error(401, "Invalid API key.")
        queue = self._failures.get(route) or []
        if queue:
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            messages = {
                402: "Your API wallet balance is $0.00 and this request costs $0.05.",
                429: "Request rate limit exceeded.",
                500: "An unexpected error occurred",
            }
            extra: dict[str, Any] = {}
            if failure.retry_after is not None:
                extra["retry_after"] = failure.retry_after
            if failure.status == 402:
                extra["billing"] = {"balance": 0, "required": 0.05, "currency": "USD"}
            return self._error(failure.status, messages.get(failure.status, "error"), **extra)
        return None

    def _blob_url(self, blob_id: str) -> str:
        # "localhost", not the API's 127.0.0.1: a different host, as presigned storage URLs
        # are, so a test can check that the API key is never sent along with a download.
        return f"http://localhost:{self.port}/_blobs/{blob_id}?sig={uuid.uuid4().hex[:16]}"

    def _handle(self, url: Any) -> str | None:
        if not isinstance(url, dict) or url.get("source") != "url" or set(url) != {"source", "url"}:
            return None
        prefix = f"http://localhost:{self.port}/_blobs/"
        u = str(url.get("url", ""))
        blob_id = u[len(prefix) :].split("?")[0] if u.startswith(prefix) else ""
        return blob_id if blob_id in self.blobs else None

    # --- routes --------------------------------------------------------------------------------
    async def _files(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "files")) is not None:
            return denied
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and getattr(part, "name", None) != "file":
            part = await reader.next()
        if part is None:
            return self._error(400, "file is required.", param="file")
        data = await part.read()  # type: ignore[union-attr]
        head = bytes(data[:12])
        content_type = (
            "image/png"
            if head.startswith(b"\x89PNG")
            else "image/jpeg"
            if head.startswith(b"\xff\xd8")
            else "audio/wav"
            if head.startswith(b"RIFF")
            else "application/octet-stream"
        )
        blob_id = uuid.uuid4().hex
        self.blobs[blob_id] = (bytes(data), content_type)
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return web.json_response(
            {"url": self._blob_url(blob_id), "content_type": content_type, "expires_at": expires},
            status=201,
        )

    async def _submit(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "submit")) is not None:
            return denied
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "Body is not JSON.")
        key = body.get("idempotency_key")
        if key and key in self._acks:
            return web.json_response(self._acks[key], status=202)
        inp = body.get("input")
        problems = []
        if set(body) - {"input", "webhook", "idempotency_key"}:
            problems.append("unknown top-level field")
        if not isinstance(inp, dict):
            return self._error(400, "input is required.", param="input")
        problems += [f"input.{k}: Field required" for k in sorted(_REQUIRED - set(inp))]
        problems += [
            f"input.{k}: Extra inputs are not permitted" for k in sorted(set(inp) - _ALLOWED)
        ]
        if inp.get("aspect_ratio") not in _ASPECTS:
            problems.append("input.aspect_ratio: not an allowed value")
        if inp.get("resolution") not in _RESOLUTIONS:
            problems.append("input.resolution: not an allowed value")
        if not str(inp.get("prompt", "")).strip():
            problems.append("input.prompt: must not be blank")
        image_id, audio_id = self._handle(inp.get("start_image")), self._handle(inp.get("audio"))
        if image_id is None or audio_id is None:
            problems.append("input.start_image/audio: must be a url returned by POST /v3/files")
        if problems:
            return self._error(
                400,
                f"{len(problems)} input fields are invalid; see details.",
                details=[{"message": p} for p in problems],
            )
        job_id = f"job_{uuid.uuid4()}"
        job = FakeJob(job_id, body, size=output_size(inp["aspect_ratio"], inp["resolution"]))
        self.jobs[job_id] = job
        ack = {
            "job_id": job_id,
            "model": "hedra-character-3",
            "status": "IN_QUEUE",
            "status_url": f"/v3/jobs/{job_id}/status",
            "result_url": f"/v3/jobs/{job_id}",
            "estimated_completion_at": None,
        }
        if key:
            self._acks[key] = ack
        self.spawn(self._run(job, image_id, audio_id))  # type: ignore[arg-type]
        return web.json_response(ack, status=202, headers={"Location": f"/v3/jobs/{job_id}"})

    async def _run(self, job: FakeJob, image_id: str, audio_id: str) -> None:
        await asyncio.sleep(0.01)
        job.status = "IN_PROGRESS"
        if self.stall:
            return
        if self.job_fails:
            await asyncio.sleep(self.job_delay_s)
            job.status, job.error = "FAILED", "Generation failed: face not detected."
            return
        image = Image.open(io.BytesIO(self.blobs[image_id][0]))
        pcm, rate = decode_audio(self.blobs[audio_id][0])
        job.duration_ms = int(len(pcm) / max(rate, 1) * 1000)
        mp4 = await asyncio.to_thread(render_talking_mp4, image, pcm, rate, job.size, self.fps)
        blob_id = uuid.uuid4().hex
        self.blobs[blob_id] = (mp4, "video/mp4")
        remaining = job.created + self.job_delay_s - time.monotonic()
        if remaining > 0:
            job.progress = 0.5
            await asyncio.sleep(remaining)
        job.output, job.status, job.progress = blob_id, "COMPLETED", 1.0

    async def _status(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "status")) is not None:
            return denied
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return self._error(404, "Job not found.")
        return web.json_response(
            {
                "job_id": job.job_id,
                "status": job.status,
                "progress": job.progress,
                "estimated_completion_at": None,
            }
        )

    async def _result(self, request: web.Request) -> web.Response:
        if (denied := self._gate(request, "result")) is not None:
            return denied
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return self._error(404, "Job not found.")
        outputs = []
        if job.output:
            w, h = job.size
            outputs.append(
                {
                    "status": "COMPLETED",
                    "asset_id": f"asset_{job.output}",
                    "url": self._blob_url(job.output),
                    "content_type": "video/mp4",
                    "width": w,
                    "height": h,
                    "duration_ms": job.duration_ms,
                    "fps": self.fps,
                    "error": None,
                }
            )
        error = (
            {"code": "INTERNAL", "message": job.error, "retryable": False} if job.error else None
        )
        return web.json_response(
            {
                "job_id": job.job_id,
                "model": "hedra-character-3",
                "status": job.status,
                "outputs": outputs,
                "error": error,
            }
        )

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        self.counts["blob"] += 1
        self.requests.append(RecordedRequest.from_request(request))
        blob = self.blobs.get(request.match_info["blob_id"])
        if blob is None or "sig" not in request.query:
            return web.Response(status=403, text="AccessDenied")
        return web.Response(body=blob[0], content_type=blob[1])
