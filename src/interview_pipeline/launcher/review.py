"""The recruiter's pages: one review per session (the recording beside the transcript, the
report's evidence, the timeline) and the session list, with the routes that feed them.

Pages are static files (``static/review.*``, ``static/sessions.*``) that fetch their data; the
data routes accept the API key, a review token (``review_auth``) as a bearer, or the cookie
that ``POST /review/session`` sets from one. ``/sessions/{id}/recording`` accepts the same, so
the page's ``<audio>`` can play it (with HTTP range requests: seeking loads only what it needs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel

from interview_pipeline.launcher.auth import bearer
from interview_pipeline.launcher.models import (
    INVALID,
    NO_SESSION,
    UNAUTHORISED,
    SessionId,
    SessionStatus,
    problems,
)
from interview_pipeline.launcher.page import STATIC_DIR
from interview_pipeline.launcher.paging import page
from interview_pipeline.launcher.review_auth import (
    ALL,
    COOKIE_ALL,
    COOKIE_SESSION,
    DEFAULT_TTL_S,
    MAX_TTL_S,
    Grant,
    ReviewSigner,
)
from interview_pipeline.launcher.review_data import list_row, review_payload
from interview_pipeline.launcher.sessions import Rejected
from interview_pipeline.launcher.store import SessionRecord

if TYPE_CHECKING:
    from interview_pipeline.launcher.app import Launcher

NO_READER = "missing or invalid API key, review token or review cookie"
TtlS = Annotated[int, Query(ge=60, le=MAX_TTL_S, description="how long the link works (s)")]


class ReviewLink(BaseModel):
    #: Open it in a browser; the token rides in the fragment, so no server log sees it.
    url: str
    scope: str
    expires_at: float


class ReviewGrant(BaseModel):
    scope: str
    expires_at: float


class ReviewAccess:
    """Who may read a session's review: the API key, or a review token (header or cookie)."""

    def __init__(self, launcher: Launcher):
        self.launcher = launcher
        self.signer = ReviewSigner(launcher.settings)

    def grant(self, request: Request, session_id: str | None) -> bool:
        token = bearer(request.headers.get("authorization"))
        if token is not None and self.launcher.keys.accepts(token):
            return True
        for presented in (
            token,
            request.cookies.get(COOKIE_SESSION),
            request.cookies.get(COOKIE_ALL),
        ):
            found = self.signer.verify(presented)
            if found is not None and found.covers(session_id):
                return True
        return False

    async def require_session_reader(self, request: Request, session_id: SessionId) -> None:
        if not self.grant(request, session_id):
            raise Rejected(401, NO_READER, headers={"WWW-Authenticate": "Bearer"})

    async def require_list_reader(self, request: Request) -> None:
        if not self.grant(request, None):
            raise Rejected(401, NO_READER, headers={"WWW-Authenticate": "Bearer"})


def review_router(
    launcher: Launcher,
    access: ReviewAccess,
    require_key: Callable[..., Coroutine[Any, Any, None]],
) -> APIRouter:
    router = APIRouter(tags=["review"])

    def find(session_id: str) -> SessionRecord:
        record = launcher.store.get(session_id)
        if record is None:
            raise Rejected(404, f"no session {session_id!r}", field="session_id")
        return record

    def link(path: str, scope: str, ttl_s: int) -> ReviewLink:
        token, grant = access.signer.sign(scope, ttl_s)
        return ReviewLink(
            url=f"{launcher.base_url()}{path}#token={token}",
            scope=grant.scope,
            expires_at=grant.expires_at,
        )

    @router.get(
        "/sessions/{session_id}/review-link",
        response_model=ReviewLink,
        dependencies=[Depends(require_key)],
        responses=problems({401: UNAUTHORISED, 404: NO_SESSION, 422: INVALID}),
    )
    async def session_review_link(session_id: SessionId, ttl_s: TtlS = DEFAULT_TTL_S) -> ReviewLink:
        """A signed link to this session's review page, for someone without the API key."""
        find(session_id)
        return link(f"/sessions/{session_id}/review", session_id, ttl_s)

    @router.get(
        "/review-link",
        response_model=ReviewLink,
        dependencies=[Depends(require_key)],
        responses=problems({401: UNAUTHORISED, 422: INVALID}),
    )
    async def list_review_link(ttl_s: TtlS = DEFAULT_TTL_S) -> ReviewLink:
        """A signed link to the session list (and every review from it)."""
        return link("/review", ALL, ttl_s)

    @router.post(
        "/review/session",
        response_model=ReviewGrant,
        responses=problems({401: "missing or invalid review token or API key"}),
    )
    async def review_session(request: Request) -> JSONResponse:
        """Trade a review token (or the API key) presented as a bearer for an HttpOnly cookie,
        so the page's audio and data requests are authorised without the token in any URL."""
        token = bearer(request.headers.get("authorization"))
        grant: Grant | None
        if token is not None and launcher.keys.accepts(token):
            token, grant = access.signer.sign(ALL, DEFAULT_TTL_S)  # never the key in a cookie
        else:
            grant = access.signer.verify(token)
        if grant is None or token is None:
            raise Rejected(401, "missing or invalid review token or API key")
        response = JSONResponse(
            ReviewGrant(scope=grant.scope, expires_at=grant.expires_at).model_dump()
        )
        name, path = grant.cookie()
        response.set_cookie(
            name,
            token,
            max_age=max(1, int(grant.expires_at - time.time())),
            path=path,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.get("/sessions/{session_id}/review", include_in_schema=False)
    async def review_page(session_id: SessionId) -> FileResponse:
        find(session_id)
        return FileResponse(STATIC_DIR / "review.html", headers={"Cache-Control": "no-store"})

    @router.get("/review", include_in_schema=False)
    async def list_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "sessions.html", headers={"Cache-Control": "no-store"})

    @router.get(
        "/sessions/{session_id}/review/data",
        dependencies=[Depends(access.require_session_reader)],
        responses=problems({401: NO_READER, 404: NO_SESSION, 422: INVALID}),
    )
    async def review_data(session_id: SessionId) -> dict[str, Any]:
        """Everything the review page shows: turns, recording, report, timeline SVG, and a
        sentence for each thing that is missing."""
        return review_payload(launcher, find(session_id))

    @router.get(
        "/review/sessions",
        dependencies=[Depends(access.require_list_reader)],
        responses=problems({401: NO_READER, 422: INVALID}),
    )
    async def review_sessions(
        limit: Annotated[int, Query(ge=1, le=200)] = 25,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
        status: SessionStatus | None = None,
        persona: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """One page of the session list, newest first, with each report's recommendation."""
        records, next_cursor = page(
            launcher.store, limit=limit, cursor=cursor, status=status, persona=persona or None
        )
        return {
            "sessions": [list_row(launcher, r) for r in records],
            "next_cursor": next_cursor,
            "statuses": [str(s) for s in SessionStatus],
            "personas": launcher.sessions.personas.ids(),
        }

    return router
