"""Prometheus metrics for the launcher, on a registry of its own.

A registry per app (not the global default) lets tests build several apps in one process, and
keeps pipecat's or other libraries' metrics from leaking into the launcher's page.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionStore

_SPAWN_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)


class LauncherMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions = Gauge(
            "interview_sessions",
            "Sessions in the store, by status.",
            ["status"],
            registry=self.registry,
        )
        self.live_sessions = Gauge(
            "interview_live_sessions",
            "Sessions with a bot process on this launcher (the autoscaling signal).",
            registry=self.registry,
        )
        self.max_sessions = Gauge(
            "interview_max_sessions", "Configured live-session capacity.", registry=self.registry
        )
        self.spawn_seconds = Histogram(
            "interview_bot_spawn_seconds",
            "POST /sessions accepted until the bot has joined the room.",
            ["pool"],
            buckets=_SPAWN_BUCKETS,
            registry=self.registry,
        )
        self.bot_failures = Counter(
            "interview_bot_failures_total",
            "Bots that crashed, raised or never joined.",
            registry=self.registry,
        )
        self.degraded = Counter(
            "interview_degraded_lines_total",
            "Lines said in a degraded mode after a vendor failure, by role (llm: the plan's "
            "line instead of a reply; tts: a line cut by a TTS failure; stt: an incomplete "
            "answer).",
            ["role"],
            registry=self.registry,
        )
        self.pool_idle = Gauge(
            "interview_pool_idle_workers",
            "Pre-warmed (or warming) bot processes waiting for a session.",
            registry=self.registry,
        )
        self.pool_ready = Gauge(
            "interview_pool_ready_workers",
            "Idle bot processes that have finished warming up.",
            registry=self.registry,
        )
        self.webhook_attempts = Counter(
            "interview_webhook_attempts_total",
            "Webhook delivery attempts by this launcher, by result (delivered, failed: retried "
            "later, given_up: after INTERVIEW_WEBHOOK_MAX_ATTEMPTS).",
            ["result"],
            registry=self.registry,
        )
        self.webhook_events = Gauge(
            "interview_webhook_events",
            "Webhook events in the store, by state (pending, failing: pending and tried at "
            "least once, dead: given up, delivered).",
            ["state"],
            registry=self.registry,
        )
        self.pool_target = Gauge(
            "interview_pool_target_size", "Configured pool size.", registry=self.registry
        )

    def count_degraded(self, degraded: object) -> None:
        """Add a finished bot's degraded counts (a dict of role -> lines) to the counter."""
        if not isinstance(degraded, dict):
            return
        for role, n in degraded.items():
            if isinstance(n, int) and n > 0 and role in ("llm", "tts", "stt"):
                self.degraded.labels(role=role).inc(n)

    def render(self, store: SessionStore) -> bytes:
        """Refresh the store-derived gauges, then render; counts come from the store so that
        they survive restarts and agree with ``GET /sessions``."""
        counts = store.count_by_status()
        for status in SessionStatus:
            self.sessions.labels(status=str(status)).set(counts.get(status, 0))
        for state, n in store.webhook_counts().items():
            self.webhook_events.labels(state=state).set(n)
        return generate_latest(self.registry)
