"""Shared plumbing for the loopback vendor fakes: one aiohttp app on 127.0.0.1, port 0 by default.

Every fake is a small aiohttp application; this base class owns its lifecycle so that each fake
only declares routes. Websockets are tracked so ``stop()`` can close them first: aiohttp would
otherwise wait for long-lived handlers to end on their own.

Failure knobs, the same for every vendor (the fault-injection tests turn them): ``faults.status``
answers every new request (HTTP call or websocket handshake) with that status, ``faults.hang``
accepts it and never answers, ``drop_connections()`` closes the open websockets mid-stream, and
``stop()`` is the vendor process killed (connections refused from then on).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import WSCloseCode, web

T = TypeVar("T")


@dataclass
class Faults:
    """What the fake does to new requests: answer ``status``, or ``hang`` without answering."""

    status: int | None = None
    hang: bool = False
    #: Requests the knobs refused or held, for assertions.
    hit: int = 0


#: Header names whose values are secrets: shown masked in reprs and logs.
SECRET_HEADERS = frozenset({"authorization", "xi-api-key", "api-key", "x-api-key"})


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers safe to print: secret values keep only their scheme word (``Bearer ***``)."""
    masked: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            scheme, _, rest = value.partition(" ")
            masked[name] = f"{scheme} ***" if rest else "***"
        else:
            masked[name] = value
    return masked


@dataclass
class RecordedRequest:
    """What one client request or websocket handshake carried, for test assertions.

    ``headers`` holds the real values (tests assert on the auth header) but is left out of the
    repr, so an assertion failure or a log line never prints a key.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)
    received_at: float = field(default_factory=time.monotonic)

    @property
    def safe_headers(self) -> dict[str, str]:
        """The headers with secrets masked, for printing."""
        return mask_headers(self.headers)

    @classmethod
    def from_request(cls, request: web.Request) -> RecordedRequest:
        return cls(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
        )


class LoopbackServer:
    """Start/stop and ``async with`` for one aiohttp app bound to the loopback interface."""

    #: Scheme of the URL ``start()`` returns (``ws`` for websocket-only vendors).
    url_scheme = "http"
    #: Path appended to ``http://host:port`` in the URL ``start()`` returns.
    url_path = ""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.faults = Faults()

    def build_app(self) -> web.Application:
        """The vendor's routes; each fake overrides this."""
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """URL to hand to the client; only valid after ``start()``."""
        if self._runner is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"{self.url_scheme}://{self.host}:{self.port}{self.url_path}"

    async def start(self) -> str:
        """Bind (an ephemeral port unless one was given) and return the base URL."""
        if self._runner is not None:
            return self.base_url
        app = self.build_app()
        app.middlewares.append(self._fault_middleware)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        addresses = runner.addresses  # (host, port, ...) of each bound socket
        if addresses:
            self.port = int(addresses[0][1])
        self._runner = runner
        return self.base_url

    async def stop(self) -> None:
        """Close open websockets and background work, then the listener."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def drop_connections(self, code: int = WSCloseCode.INTERNAL_ERROR) -> None:
        """Close every open websocket from the server side, mid-stream: by default as a vendor
        fault (1011); ``GOING_AWAY`` (1001) is a graceful restart the client may take quietly."""
        for ws in list(self._sockets):
            await ws.close(code=code, message=b"fake dropped the connection")

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.faults.hang:
            self.faults.hit += 1
            await asyncio.Event().wait()  # until the client gives up or the fake stops
        if self.faults.status is not None:
            self.faults.hit += 1
            body = {"error": {"message": f"fake fault {self.faults.status}", "type": "fault"}}
            return web.json_response(body, status=self.faults.status)
        response: web.StreamResponse = await handler(request)
        return response

    # --- helpers for the fakes -------------------------------------------------------------
    def track_socket(self, ws: web.WebSocketResponse) -> None:
        self._sockets.add(ws)

    def untrack_socket(self, ws: web.WebSocketResponse) -> None:
        self._sockets.discard(ws)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A background task that ``stop()`` cancels, so none outlives the fake."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def check_key(header_value: str | None, expected_key: str | None, schemes: tuple[str, ...]) -> bool:
    """Whether a credential header carries the expected key (anything passes when none is set)."""
    if expected_key is None:
        return True
    if not header_value:
        return False
    if not schemes:
        return header_value == expected_key
    scheme, _, key = header_value.partition(" ")
    return scheme.lower() in {s.lower() for s in schemes} and key.strip() == expected_key


async def sleep_until(deadline: float) -> None:
    """Sleep until a ``time.monotonic()`` deadline; no-op when it has passed."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        await asyncio.sleep(remaining)
