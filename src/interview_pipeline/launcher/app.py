"""The launcher's HTTP API: sessions for the company's backend, probes and metrics for ops.

Routes are thin: they authenticate, validate and translate; ``SessionManager`` decides. Every
error is a small JSON body (``Problem``) naming the field at fault, never a traceback, and no
body or log line ever contains a token or key.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from loguru import logger
from starlette.exceptions import HTTPException as StarletteHTTPException

from interview_pipeline.config import Settings
from interview_pipeline.launcher.auth import ApiKeys
from interview_pipeline.launcher.dispatch import DispatchSessionManager, no_pool
from interview_pipeline.launcher.lease import Lease
from interview_pipeline.launcher.limits import BodyLimit
from interview_pipeline.launcher.livekit import LiveKitCredentials, LiveKitUnavailable
from interview_pipeline.launcher.metrics import LauncherMetrics
from interview_pipeline.launcher.models import (
    INVALID,
    NO_SESSION,
    TOO_LARGE,
    UNAUTHORISED,
    CreateSession,
    Problem,
    SessionCreated,
    SessionId,
    SessionList,
    SessionOut,
    SessionStatus,
    problems,
)
from interview_pipeline.launcher.page import STATIC_DIR, page_router
from interview_pipeline.launcher.paging import page
from interview_pipeline.launcher.pool import WorkerPool
from interview_pipeline.launcher.reports import ReportService, results_router
from interview_pipeline.launcher.review import ReviewAccess, review_router
from interview_pipeline.launcher.sessions import Rejected, SessionManager
from interview_pipeline.launcher.store import SessionRecord, SessionStore, open_store
from interview_pipeline.launcher.views import session_out
from interview_pipeline.launcher.webhooks import (
    WebhookConfig,
    WebhookDispatcher,
    public_base_url,
    queue_report_ready,
    queue_transcript_ready,
)
from interview_pipeline.launcher.worker import DEFAULT_BOT

_bearer = HTTPBearer(auto_error=False, description="One of the keys in INTERVIEW_API_KEYS")
#: On every ``/sessions`` route besides its own statuses (413 is documented app-wide).
_AUTHED = {401: UNAUTHORISED, 422: INVALID}


class Launcher:
    """Everything the routes share, built once per app."""

    def __init__(
        self,
        settings: Settings,
        *,
        bot: str = DEFAULT_BOT,
        worker_env: dict[str, str] | None = None,
        log_dir: Path | None = None,
    ):
        self.settings = settings
        self.creds = LiveKitCredentials.from_settings(settings)
        self.keys = ApiKeys(settings.api_keys)
        self.metrics = LauncherMetrics()
        self.store: SessionStore = open_store(settings)
        self.sessions: SessionManager
        if settings.dispatch == "agents":  # bots on `interview-pipeline worker` hosts
            self.pool = no_pool(settings)
            self.sessions = DispatchSessionManager(
                settings, self.creds, self.store, self.pool, self.metrics
            )
        else:
            self.pool = WorkerPool(
                settings,
                size=settings.pool_size,
                bot=bot,
                env=worker_env,
                log_dir=log_dir,
                on_change=self._pool_changed,
            )
            self.sessions = SessionManager(
                settings, self.creds, self.store, self.pool, self.metrics
            )
        self.lease = Lease(settings, self.store, self.sessions)
        self.webhook_config = WebhookConfig(settings)
        self.webhooks = WebhookDispatcher(settings, self.store, self.metrics, self.webhook_config)
        self.reports = ReportService(settings, self.store, self.sessions.personas)
        self.reports.on_ready = self._report_ready
        self.sessions.on_ended = self._session_ended

    def _session_ended(self, session_id: str) -> None:
        """Final status written: the transcript is complete, and its report can be made (the
        report task runs later, so its event still comes after this one)."""
        self.reports.schedule(session_id)
        if queue_transcript_ready(self.store, session_id):
            self.webhooks.notify()

    def _report_ready(self, session_id: str, status: str) -> None:
        if queue_report_ready(self.store, session_id, status, self.base_url()):
            self.webhooks.notify()

    def interviewer_name(self, persona_id: str) -> str:
        """The persona's interviewer, or a generic name if the persona no longer loads."""
        try:
            return self.sessions.personas.load(persona_id).interviewer.name
        except Exception:
            return "Interviewer"

    def _pool_changed(self) -> None:
        self.metrics.pool_idle.set(len(self.pool.idle))
        self.metrics.pool_ready.set(self.pool.ready_count)
        self.metrics.pool_target.set(self.pool.size)

    def base_url(self) -> str:
        return public_base_url(self.settings)

    def session_out(self, record: SessionRecord, *, transcript: bool = False) -> SessionOut:
        """With ``transcript`` (one session's page): its turns and webhook deliveries too."""
        turns = self.store.turns(record.id) if transcript else None
        hooks = self.store.webhook_state(record.id) if transcript and record.webhook else None
        return session_out(record, turns, hooks)


def _problem(
    status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = Problem(detail=detail, **extra).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(
    settings: Settings,
    *,
    bot: str = DEFAULT_BOT,
    worker_env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the launcher. ``bot``, ``worker_env`` and ``log_dir`` exist for tests and benches."""
    launcher = Launcher(settings, bot=bot, worker_env=worker_env, log_dir=log_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not launcher.keys.configured:
            logger.warning("INTERVIEW_API_KEYS is empty: every /sessions call will get 401")
        # A bad persona file must not keep the good ones from being served: say what is wrong
        # (its sessions get 422 until the file is fixed; files are read again per session).
        personas = launcher.sessions.personas.check()
        for issue in personas.issues:
            logger.error("persona file problem: {}", issue)
        logger.info("personas served: {}", ", ".join(sorted(personas.personas)) or "none")
        logger.info("store: {} (launcher {})", launcher.store.where, launcher.lease.id)
        await launcher.lease.start()  # closes what this launcher's last process left live
        launcher.webhooks.start()
        await launcher.pool.start()
        try:
            yield
        finally:
            await launcher.sessions.drain(settings.drain_grace_s)
            await launcher.reports.wait()
            await launcher.lease.stop()
            # What is due goes out now; the rest stays in the store for the next start or a peer.
            await launcher.webhooks.stop(flush_s=5.0)
            launcher.store.close()
            if on_shutdown is not None:
                on_shutdown()

    app = FastAPI(
        title="interview_pipeline launcher",
        description="Starts AI interviewer bots in LiveKit rooms.",
        version="0.1.0",
        lifespan=lifespan,
        # BodyLimit answers 413 on any route, before the route runs.
        responses=problems({413: TOO_LARGE}),
    )
    app.state.launcher = launcher
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    async def require_key(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if creds is None or not launcher.keys.accepts(creds.credentials):
            raise Rejected(
                401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
            )

    authed = [Depends(require_key)]

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> JSONResponse:
        return _problem(exc.status, exc.detail, exc.headers, field=exc.field, valid=exc.valid)

    @app.exception_handler(LiveKitUnavailable)
    async def _livekit_down(request: Request, exc: LiveKitUnavailable) -> JSONResponse:
        return _problem(503, str(exc), {"Retry-After": "10"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            if err.get("type") == "json_invalid":
                loc = []  # its loc is a character offset, not a field: the body is at fault
            errors.append({"field": ".".join(loc) or "body", "message": str(err.get("msg"))})
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}"
        return _problem(422, detail, field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body json.loads cannot take (nested past the recursion
            # limit, an integer over 4300 digits): the same 422 as any other malformed JSON.
            message = "could not be parsed as JSON (nested too deeply, or a number too long)"
            errors = [{"field": "body", "message": message}]
            return _problem(422, f"body: {message}", field="body", errors=errors)
        field = getattr(exc, "field", None)
        headers = dict(exc.headers) if exc.headers else None
        return _problem(exc.status_code, str(exc.detail), headers, field=field)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error("unexpected {} on {} {}", type(exc).__name__, request.method, request.url.path)
        return _problem(500, "internal error; see the launcher log")

    # --- sessions ---------------------------------------------------------------------------------
    @app.post(
        "/sessions",
        status_code=201,
        response_model=SessionCreated,
        dependencies=authed,
        responses=problems(
            {
                **_AUTHED,
                404: "unknown persona (`valid` lists the ids)",
                409: "room has a live session, or an earlier session's tokens for it are "
                "still valid (then Retry-After says for how long)",
                429: "at capacity; see Retry-After",
                503: "LiveKit unreachable, launcher draining, or no bot process could start",
            },
            retry_after=(429, 503),
        ),
    )
    async def create_session(
        body: CreateSession,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> SessionCreated:
        webhook = launcher.webhook_config.for_key(creds.credentials if creds else None)
        record, candidate_token = await launcher.sessions.create(body, webhook=webhook)
        return SessionCreated(
            session_id=record.id,
            room=record.room,
            livekit_url=launcher.creds.url,
            candidate_token=candidate_token,
            # The token rides in the fragment: browsers never send it, so no access log has it.
            join_url=f"{launcher.base_url()}/join/{record.id}#token={candidate_token}",
            status=record.status,
        )

    @app.get(
        "/sessions", response_model=SessionList, dependencies=authed, responses=problems(_AUTHED)
    )
    async def list_sessions(
        status: SessionStatus | None = None,
        persona: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[
            str | None,
            Query(max_length=512, description="`next_cursor` of the page before"),
        ] = None,
    ) -> SessionList:
        """Newest first, `limit` at a time; `next_cursor` fetches the next page (keyset, so
        every page is as fast as the first), `null` on the last."""
        records, next_cursor = page(
            launcher.store, limit=limit, cursor=cursor, status=status, persona=persona or None
        )
        return SessionList(
            sessions=[launcher.session_out(r) for r in records], next_cursor=next_cursor
        )

    @app.get(
        "/sessions/{session_id}",
        response_model=SessionOut,
        dependencies=authed,
        responses=problems({**_AUTHED, 404: NO_SESSION}),
    )
    async def get_session(session_id: SessionId) -> SessionOut:
        return launcher.session_out(_find(launcher, session_id), transcript=True)

    @app.delete(
        "/sessions/{session_id}",
        response_model=SessionOut,
        dependencies=authed,
        responses=problems({**_AUTHED, 404: NO_SESSION}),
    )
    async def delete_session(session_id: SessionId) -> SessionOut:
        """Graceful stop: the bot says its closing line and leaves, then the room is deleted."""
        record = _find(launcher, session_id)
        if record.status.terminal:
            return launcher.session_out(record, transcript=True)
        await launcher.sessions.stop(session_id)
        return launcher.session_out(_find(launcher, session_id), transcript=True)

    # --- ops ----------------------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        responses={
            200: {"description": "ready: LiveKit reachable, not draining, capacity left"},
            503: {"description": "not ready; the body has the same checks, saying which failed"},
        },
    )
    async def readyz() -> JSONResponse:
        checks: dict[str, Any] = {
            "draining": launcher.sessions.draining,
            **launcher.sessions.capacity_checks(),
            "pool_ready": launcher.pool.ready_count,
            "pool_size": launcher.pool.size,
        }
        try:
            await launcher.sessions.rooms.ping()
            checks["livekit"] = "ok"
        except LiveKitUnavailable as exc:
            checks["livekit"] = str(exc)
        ready = not checks["draining"] and checks["livekit"] == "ok" and checks["capacity_left"]
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    # Prometheus' text format, not JSON: say so, or generated clients try to parse it. (The
    # bare Response class keeps FastAPI from listing JSON for 200, or text for the 413 Problem.)
    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def metrics() -> Response:
        return Response(
            launcher.metrics.render(launcher.store), media_type=launcher.metrics.content_type
        )

    access = ReviewAccess(launcher)
    app.include_router(results_router(launcher, require_key, access.require_session_reader))
    app.include_router(review_router(launcher, access, require_key))
    app.include_router(page_router(launcher))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _find(launcher: Launcher, session_id: str) -> SessionRecord:
    record = launcher.store.get(session_id)
    if record is None:
        raise Rejected(404, f"no session {session_id!r}", field="session_id")
    return record
