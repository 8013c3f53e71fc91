"""The candidate's page: ``join_url`` opens it; it joins the room and shows the live transcript.

The candidate has no API key, only their LiveKit token (in the URL fragment, which browsers never
send to the server). The page's own calls present that token, and we accept it for exactly the
session it was minted for: its room grant and its session claim must both match, so the token of
an earlier session in a reused room name opens nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse

from interview_pipeline.launcher.auth import bearer
from interview_pipeline.launcher.livekit import verify_session_token
from interview_pipeline.launcher.models import INVALID, SessionId, problems
from interview_pipeline.launcher.sessions import Rejected
from interview_pipeline.launcher.store import SessionRecord

if TYPE_CHECKING:
    from interview_pipeline.launcher.app import Launcher

STATIC_DIR = Path(__file__).parent / "static"


def page_router(launcher: Launcher) -> APIRouter:
    router = APIRouter(
        prefix="/join",
        tags=["candidate page"],
        # 401 also for an unknown session: a token holder learns nothing about other sessions.
        responses=problems({401: "missing or invalid candidate token", 422: INVALID}),
    )

    def authorise(session_id: str, authorization: str | None) -> SessionRecord:
        record = launcher.store.get(session_id)
        token = bearer(authorization)
        if record is None or token is None:
            raise Rejected(401, "missing or invalid candidate token")
        creds = launcher.creds
        if verify_session_token(creds, token, room=record.room, session_id=record.id) is None:
            raise Rejected(401, "missing or invalid candidate token")
        return record

    @router.get("/{session_id}", include_in_schema=False)
    async def page(session_id: SessionId) -> FileResponse:
        if launcher.store.get(session_id) is None:
            raise Rejected(404, f"no session {session_id!r}", field="session_id")
        return FileResponse(STATIC_DIR / "join.html", headers={"Cache-Control": "no-store"})

    @router.get("/{session_id}/session")
    async def session_info(
        session_id: SessionId, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        record = authorise(session_id, authorization)
        interviewer = "Interviewer"
        try:
            interviewer = launcher.sessions.personas.load(record.persona).interviewer.name
        except Exception:  # the page still works with a generic name
            pass
        return {
            "room": record.room,
            "livekit_url": launcher.creds.url,
            "interviewer_name": interviewer,
            "candidate_name": record.candidate_name,
            "status": record.status,
        }

    @router.get("/{session_id}/transcript")
    async def transcript(
        session_id: SessionId,
        after: Annotated[int, Query(ge=0)] = 0,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        record = authorise(session_id, authorization)
        turns = [
            {"seq": t.seq, "speaker": t.turn.speaker, "text": t.turn.text, "kind": t.turn.kind}
            for t in launcher.store.turns(session_id, after=after)
        ]
        return {"status": record.status, "turns": turns}

    return router
