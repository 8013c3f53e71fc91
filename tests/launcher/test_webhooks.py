"""Webhooks against a real HTTP receiver on loopback: signatures (checked with the README's own
snippet), retries after 500s on the injected clock, order per session, giving up, and a whole
launcher sending a session's events in order once it ends. Stores on both backends."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from interview_pipeline.config import REPO_ROOT, ConfigError
from interview_pipeline.launcher.metrics import LauncherMetrics
from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionStore
from interview_pipeline.launcher.webhooks import (
    GLOBAL,
    WebhookConfig,
    WebhookDispatcher,
    backoff_s,
    key_id,
)
from interview_pipeline.transcript import Turn

from .conftest import API_KEY, make_settings, running_launcher
from .pg import open_location
from .test_store import record

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
SECRET = "whsec-test-0123"


def readme_verify() -> Callable[[str, str, bytes], bool]:
    """The verification snippet exactly as README.md documents it."""
    text = (REPO_ROOT / "README.md").read_text()
    code = re.search(r"<!-- webhook-verify -->\n```python\n(.*?)```", text, re.S)
    assert code, "README.md lost its webhook verification snippet"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)
    return scope["verify"]  # type: ignore[no-any-return]


VERIFY = readme_verify()


@dataclass
class Receiver:
    """A real HTTP server on loopback that records every delivery and answers ``answer(n)``
    for the n-th request (1-based) of each event id."""

    url: str = ""
    got: list[dict[str, Any]] = field(default_factory=list)
    answer: Callable[[dict[str, Any], int], int] = lambda body, n: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [g for g in self.got if 200 <= g["status"] < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.loads(raw)
            with rec.lock:
                tries = 1 + sum(g["body"]["id"] == body["id"] for g in rec.got)
                status = rec.answer(body, tries)
                rec.got.append(
                    {
                        "body": body,
                        "raw": raw,
                        "status": status,
                        "signature": self.headers["Interview-Signature"],
                        "event_id": self.headers["Interview-Event-Id"],
                        "signed_ok": VERIFY(SECRET, self.headers["Interview-Signature"], raw),
                    }
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


class FakeTime:
    """The dispatcher's clock: advanced by hand, starting now (signatures stay fresh)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def seeded(location: str, sessions: dict[str, str | None]) -> SessionStore:
    """A store with live sessions owned by launcher ``l1`` (session id -> webhook endpoint)."""
    store = open_location(location)
    store.heartbeat("l1")
    for sid, hook in sessions.items():
        store.create(record(sid, owner="l1", webhook=hook))
    return store


def dispatcher(tmp_path: Path, store: SessionStore, url: str, clock: FakeTime, **kw: Any):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, None, launcher_id="l1", webhook_url=url, webhook_secret=SECRET, **kw
    )
    return WebhookDispatcher(
        settings, store, LauncherMetrics(), WebhookConfig(settings), clock=clock
    )


def opening(body: dict[str, Any]) -> bool:
    return bool(body["data"].get("status") == "waiting_for_candidate")


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n, 1.0, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


async def test_signed_retried_after_500s_and_in_order_per_session(
    store_location: str, tmp_path: Path, receiver: Receiver
) -> None:
    store = seeded(store_location, {"a": GLOBAL, "b": GLOBAL, "quiet": None})
    for sid in ("a", "b", "quiet"):
        store.update(sid, status=SessionStatus.WAITING_FOR_CANDIDATE)
        store.update(sid, status=SessionStatus.IN_PROGRESS)
        store.add_event(sid, "session.transcript_ready", {"turns": 0})
    # a's first event fails twice, then is taken; b's all go through at once.
    receiver.answer = lambda body, n: (
        500 if body["session_id"] == "a" and opening(body) and n <= 2 else 200
    )
    clock = FakeTime()
    hooks = dispatcher(tmp_path, store, receiver.url, clock)
    try:
        await hooks.deliver_due()  # a#1 -> 500, b#1 -> 200
        state = store.webhook_state("a")
        assert (state.failing, state.pending, state.last_error) == (True, 3, "HTTP 500")
        await hooks.deliver_due()  # only b#2: a waits for its retry, 1 s away
        # (sessions are delivered concurrently: no order between a and b)
        assert sorted(g["body"]["session_id"] for g in receiver.got) == ["a", "b", "b"]
        clock.now += 1.0
        await hooks.deliver_due()  # a#1 -> 500 again (next in 2 s), b#3
        clock.now += 1.0
        assert await hooks.deliver_due() == 0  # a's retry not due yet; b is done
        clock.now += 1.0
        while await hooks.deliver_due():
            clock.now += 0.1
    finally:
        await hooks.stop()

    assert all(g["signed_ok"] for g in receiver.got)
    assert all(g["event_id"] == g["body"]["id"] for g in receiver.got)
    tries = [g for g in receiver.got if g["body"]["session_id"] == "a" and g["status"] == 500]
    first = [g for g in receiver.got if g["body"]["id"] == tries[0]["body"]["id"]]
    assert [g["status"] for g in first] == [500, 500, 200]
    assert len({g["raw"] for g in first}) == 1  # a retry sends the same bytes
    stamps = [int(g["signature"].split(",")[0][2:]) for g in first]
    assert [t - stamps[0] for t in stamps] == [0, 1, 3]  # 1 s, then 2 s of backoff
    for sid in ("a", "b"):
        sent = [g["body"] for g in receiver.delivered() if g["body"]["session_id"] == sid]
        assert [(e["type"], e["data"].get("status")) for e in sent] == [
            ("session.status_changed", "waiting_for_candidate"),
            ("session.status_changed", "in_progress"),
            ("session.transcript_ready", None),
        ]
        assert sent[1]["data"]["previous"] == "waiting_for_candidate"
    assert not any(g["body"]["session_id"] == "quiet" for g in receiver.got)  # no webhook
    assert store.webhook_state("a").failing is False
    assert store.webhook_state("a").delivered == 3
    assert hooks.metrics.webhook_attempts.labels(result="failed")._value.get() == 2
    store.close()


async def test_a_tampered_body_fails_verification(
    store_location: str, tmp_path: Path, receiver: Receiver
) -> None:
    store = seeded(store_location, {"a": GLOBAL})
    store.add_event("a", "report.ready", {"status": "ready"})
    hooks = dispatcher(tmp_path, store, receiver.url, FakeTime())
    await hooks.deliver_due()
    await hooks.stop()
    (got,) = receiver.got
    assert VERIFY(SECRET, got["signature"], got["raw"])
    assert not VERIFY(SECRET, got["signature"], got["raw"].replace(b"ready", b"great"))
    assert not VERIFY("another-secret", got["signature"], got["raw"])
    stale = re.sub(r"t=\d+", f"t={int(time.time()) - 3600}", got["signature"])
    assert not VERIFY(SECRET, stale, got["raw"])
    store.close()


async def test_an_event_given_up_lets_the_next_one_go(
    store_location: str, tmp_path: Path, receiver: Receiver
) -> None:
    store = seeded(store_location, {"a": GLOBAL})
    store.add_event("a", "session.transcript_ready", {"turns": 0})
    store.add_event("a", "report.ready", {"status": "ready"})
    receiver.answer = lambda body, n: 500 if body["type"] == "session.transcript_ready" else 200
    clock = FakeTime()
    hooks = dispatcher(tmp_path, store, receiver.url, clock, webhook_max_attempts=2)
    for _ in range(4):
        await hooks.deliver_due()
        clock.now += 10
    await hooks.stop()
    assert [(g["body"]["type"], g["status"]) for g in receiver.got] == [
        ("session.transcript_ready", 500),
        ("session.transcript_ready", 500),
        ("report.ready", 200),
    ]
    state = store.webhook_state("a")
    assert (state.delivered, state.dead, state.pending, state.last_error) == (1, 1, 0, "HTTP 500")
    assert store.webhook_counts() == {"delivered": 1, "pending": 0, "failing": 0, "dead": 1}
    store.close()


async def test_stopping_flushes_what_is_due(
    store_location: str, tmp_path: Path, receiver: Receiver
) -> None:
    """Shutdown sends the events of the sessions it just drained before the launcher exits."""
    store = seeded(store_location, {"a": GLOBAL, "b": GLOBAL})
    for sid in ("a", "b"):
        store.update(sid, status=SessionStatus.COMPLETED)
        store.add_event(sid, "session.transcript_ready", {"turns": 0})
    hooks = dispatcher(tmp_path, store, receiver.url, FakeTime())
    await hooks.stop(flush_s=10.0)
    assert len(receiver.delivered()) == 4
    assert store.webhook_counts()["pending"] == 0
    store.close()


def test_per_key_endpoints_and_config_errors(tmp_path: Path) -> None:
    endpoints = json.dumps({API_KEY: {"url": "http://127.0.0.1:1/a", "secret": "s"}})
    settings = make_settings(tmp_path, None, webhook_endpoints=endpoints)
    config = WebhookConfig(settings)
    assert config.for_key(API_KEY) == key_id(API_KEY) and API_KEY not in key_id(API_KEY)
    assert config.for_key("second-key") is None  # no global endpoint
    assert API_KEY not in repr(config)
    for bad, says in [
        ({"webhook_url": "http://x"}, "INTERVIEW_WEBHOOK_SECRET"),
        ({"webhook_endpoints": "{nope"}, "INTERVIEW_WEBHOOK_ENDPOINTS is not valid JSON"),
        ({"webhook_endpoints": json.dumps({API_KEY: {"url": "http://x"}})}, "entry 1"),
        ({"webhook_url": "ftp://x", "webhook_secret": "s"}, "http:// or https://"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(says)) as err:
            WebhookConfig(make_settings(tmp_path, None, **bad))
        assert API_KEY not in str(err.value)


async def test_a_launcher_sends_a_sessions_events_in_order_once_it_ends(
    store_location: str, tmp_path: Path, receiver: Receiver
) -> None:
    """A session this launcher left live when it died: at start-up it is failed, and its status
    change, transcript and report go out, in that order, and show on GET /sessions/{id}."""
    settings = make_settings(
        tmp_path, None, pool_size=0, launcher_id="l1", webhook_url=receiver.url,
        webhook_secret=SECRET,
        **({"database_url": store_location} if "://" in store_location else {}),
    )  # fmt: skip
    store = seeded(
        store_location if "://" in store_location else str(settings.resolved_store_path()),
        {"s1": GLOBAL},
    )
    store.update("s1", status=SessionStatus.IN_PROGRESS)
    store.append_turn("s1", Turn("interviewer", "Hello Sam.", 0.0, 1.0, kind="opening"))
    store.close()
    async with running_launcher(settings) as (_, client):
        for _ in range(200):  # until the launcher has recorded the 4th delivery
            data = (await client.get("/sessions/s1")).json()
            if data["webhooks"]["delivered"] >= 4:
                break
            await asyncio.sleep(0.05)
        metrics = (await client.get("/metrics")).text
    sent = [g["body"] for g in receiver.delivered()]
    assert [e["type"] for e in sent] == [
        "session.status_changed",  # in_progress, queued before the launcher started
        "session.status_changed",  # failed by restart recovery
        "session.transcript_ready",
        "report.ready",
    ]
    assert sent[-3]["data"]["status"] == "failed" and sent[-2]["data"] == {"turns": 1}
    assert sent[-1]["data"]["report_url"].endswith("/sessions/s1/report")
    assert all(g["signed_ok"] for g in receiver.got)
    assert data["webhooks"]["delivered"] == 4 and data["webhooks"]["failing"] is False
    assert 'interview_webhook_attempts_total{result="delivered"} 4.0' in metrics
