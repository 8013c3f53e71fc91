"""Request body cap, answered as a ``Problem`` naming ``body``.

Starlette's own limiter (FastAPI's ``max_body_size``) answers a declared oversize body in plain
text, and every launcher error is a JSON ``Problem``; so the launcher keeps its own, small one.
A declared ``Content-Length`` over the cap is refused before a byte is read; a chunked body is
counted as it arrives and refused as soon as it passes the cap, so neither is ever buffered whole.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interview_pipeline.launcher.models import Problem


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` mid-body; FastAPI lets HTTPExceptions from body reading through."""

    field = "body"

    def __init__(self, limit: int):
        super().__init__(413, f"body: larger than {limit} bytes (INTERVIEW_MAX_BODY_BYTES)")


class BodyLimit:
    """ASGI middleware: at most ``max_bytes`` of request body reach the app."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            too_large = BodyTooLarge(self.max_bytes)
            body = Problem(detail=too_large.detail, field="body").model_dump(exclude_none=True)
            # The unread body stays on the wire: the server closes the connection after this.
            await JSONResponse(body, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the server rejects a malformed header itself; count what arrives
