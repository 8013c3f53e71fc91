"""Signed webhooks to the company's backend, delivered from an outbox in the session store.

An event is written to the store in the same transaction as what it reports (a status change),
or right after (transcript, report), so a launcher that crashes still delivers it once it or a
peer takes the session over: delivery is at least once, and a receiver dedupes on the event's
``id`` (also sent as ``Interview-Event-Id``). Each session's events go out one at a time, oldest
first, the next only once the one before is delivered (or given up after
``webhook_max_attempts``), so a receiver sees a session's events in order. Failed attempts are
retried with exponential backoff; their count and last error show in ``/metrics`` and in
``GET /sessions/{id}``.

Every request carries ``Interview-Signature: t=<unix seconds>,v1=<hex>``, the HMAC-SHA256 of
``"<t>.<body>"`` under the endpoint's secret (README: Webhooks has the verification snippet).
Endpoints come from settings only: one global (``webhook_url``), or per API key
(``webhook_endpoints``); a session's endpoint is fixed when it is created and stored by an id
that never reveals the key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from loguru import logger
from pydantic import SecretStr

from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.launcher.metrics import LauncherMetrics
from interview_pipeline.launcher.store import OutboxEvent, SessionStore

#: The endpoint id of ``webhook_url`` (per-key endpoints are ``key-<hash>``).
GLOBAL = "*"
SIGNATURE_HEADER = "Interview-Signature"


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: SecretStr


def key_id(api_key: str) -> str:
    """A stable name for an API key that can be stored and logged: not the key."""
    return "key-" + hashlib.sha256(api_key.strip().encode()).hexdigest()[:16]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Wait before the next try after ``attempts`` failed ones: base, 2·base, 4·base … max."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


class WebhookConfig:
    """The endpoints in the settings, checked at start-up."""

    def __init__(self, settings: Settings):
        self._endpoints: dict[str, Endpoint] = {}
        if settings.webhook_url:
            if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
                raise ConfigError(
                    "INTERVIEW_WEBHOOK_URL is set but INTERVIEW_WEBHOOK_SECRET is not"
                )
            self._endpoints[GLOBAL] = Endpoint(_url(settings.webhook_url), settings.webhook_secret)
        if settings.webhook_endpoints is not None:
            for key, endpoint in _per_key(settings.webhook_endpoints).items():
                self._endpoints[key_id(key)] = endpoint

    @property
    def configured(self) -> bool:
        return bool(self._endpoints)

    def for_key(self, api_key: str | None) -> str | None:
        """The endpoint id for a session made with ``api_key``: its own, else the global one."""
        if api_key is not None and key_id(api_key) in self._endpoints:
            return key_id(api_key)
        return GLOBAL if GLOBAL in self._endpoints else None

    def get(self, endpoint_id: str | None) -> Endpoint | None:
        return self._endpoints.get(endpoint_id) if endpoint_id is not None else None

    def __repr__(self) -> str:
        return f"WebhookConfig({len(self._endpoints)} endpoint(s))"


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigError("a webhook URL must start with http:// or https://")
    return value


def _per_key(raw: SecretStr) -> dict[str, Endpoint]:
    """``INTERVIEW_WEBHOOK_ENDPOINTS``; errors name the variable, never the keys in it."""
    name = "INTERVIEW_WEBHOOK_ENDPOINTS"
    try:
        parsed = json.loads(raw.get_secret_value())
    except ValueError:
        raise ConfigError(f"{name} is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f'{name} must be an object: {{"<api key>": {{"url", "secret"}}}}')
    out = {}
    for n, (key, value) in enumerate(parsed.items(), 1):
        if not isinstance(value, dict) or not value.get("url") or not value.get("secret"):
            raise ConfigError(f"{name}: entry {n} needs both a url and a secret")
        out[key] = Endpoint(_url(str(value["url"])), SecretStr(str(value["secret"])))
    return out


def public_base_url(settings: Settings) -> str:
    """Where candidates and backends reach the launchers (links in events). A worker host
    needs ``public_url`` set to the launchers' address for its ``report.ready`` links."""
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def queue_transcript_ready(store: SessionStore, session_id: str) -> bool:
    """Queue ``session.transcript_ready`` once the final status is written; True if queued (the
    session has a webhook). Shared by the launcher and worker hosts: a dispatched session ends on
    its host, whose event the owning launcher delivers from the shared outbox."""
    turns = len(store.turns(session_id))
    return store.add_event(session_id, "session.transcript_ready", {"turns": turns}) is not None


def queue_report_ready(store: SessionStore, session_id: str, status: str, base_url: str) -> bool:
    """Queue ``report.ready`` for a report just written; True if queued."""
    data = {"status": status, "report_url": f"{base_url}/sessions/{session_id}/report"}
    return store.add_event(session_id, "report.ready", data) is not None


class WebhookDispatcher:
    """Delivers this launcher's sessions' events; one loop, one request per session at a time.

    ``clock`` and ``sleep`` are injectable so tests control the backoff without waiting.
    """

    def __init__(
        self,
        settings: Settings,
        store: SessionStore,
        metrics: LauncherMetrics,
        config: WebhookConfig,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        client: httpx.AsyncClient | None = None,
    ):
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.config = config
        self.launcher_id = settings.resolved_launcher_id()
        self.poll_s = min(0.5, settings.webhook_backoff_s)
        self._clock = clock
        self._sleep = sleep
        self._client = client or httpx.AsyncClient(timeout=settings.webhook_timeout_s)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.config.configured and self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def notify(self) -> None:
        """An event was queued: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self, flush_s: float = 0.0) -> None:
        """Stop delivering. With ``flush_s`` (shutdown), first send what is due now (the
        sessions just drained) for at most that long; the rest (a retry not yet due) waits in
        the store for the next start or a peer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if flush_s > 0 and self.config.configured:
            # Timeout or a store error: shutdown goes on, the events stay queued.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(flush_s):
                    while await self.deliver_due():
                        pass
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_due()
            except Exception as exc:  # the store unreachable for a moment: try again later
                logger.warning("webhooks: outbox not read: {}", type(exc).__name__)
                sent = 0
            if sent:
                continue
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            pause = asyncio.ensure_future(self._sleep(self.poll_s))
            try:
                await asyncio.wait({waiter, pause}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                pause.cancel()

    async def deliver_due(self) -> int:
        """One attempt at each session's next due event, concurrently across sessions; how
        many were attempted."""
        due = self.store.due_events(self.launcher_id, self._clock())
        await asyncio.gather(*(self._attempt(event) for event in due))
        return len(due)

    async def _attempt(self, event: OutboxEvent) -> None:
        error = await self._post(event)
        attempts = event.attempts + 1
        if error is None:
            self.store.event_result(event.n, delivered=True)
            self.metrics.webhook_attempts.labels(result="delivered").inc()
            return
        if attempts >= self.settings.webhook_max_attempts:
            self.store.event_result(event.n, delivered=False, error=error)
            self.metrics.webhook_attempts.labels(result="given_up").inc()
            logger.warning(
                "session {}: webhook {} given up after {} attempts: {}",
                event.session_id, event.type, attempts, error,
            )  # fmt: skip
            return
        wait = backoff_s(
            attempts, self.settings.webhook_backoff_s, self.settings.webhook_backoff_max_s
        )
        self.store.event_result(
            event.n, delivered=False, error=error, retry_at=self._clock() + wait
        )
        self.metrics.webhook_attempts.labels(result="failed").inc()
        logger.info(
            "session {}: webhook {} attempt {} failed ({}); next in {:.1f} s",
            event.session_id, event.type, attempts, error, wait,
        )  # fmt: skip

    async def _post(self, event: OutboxEvent) -> str | None:
        """One signed POST; None if the receiver took it (2xx), else why not (no URL or secret
        in it: the receiver's address may carry a token)."""
        endpoint = self.config.get(event.webhook)
        if endpoint is None:
            return f"endpoint {event.webhook!r} is no longer configured"
        body = event.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(endpoint.secret.get_secret_value(), int(self._clock()), body),
            "Interview-Event-Id": event.event_id,
            "Interview-Event-Type": event.type,
        }
        try:
            response = await self._client.post(endpoint.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__} (no response)"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"
