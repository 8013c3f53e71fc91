"""The candidate's page: ``join_url`` opens it; it joins the room and shows the live transcript.

The candidate has no API key, only their LiveKit token (in the URL fragment, which browsers never
send to the server). The page's own calls present that token, and we accept it for exactly the
session it was minted for: its room grant and its session claim must both match, so the token of
an earlier session in a reused room name opens nothing.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from interview_pipeline.launcher.auth import bearer
from interview_pipeline.launcher.livekit import verify_session_token
from interview_pipeline.launcher.models import INVALID, SessionId, problems
from interview_pipeline.launcher.sessions import Rejected
from interview_pipeline.launcher.store import ConsentRecord, SessionRecord
from interview_pipeline.personas import Persona

if TYPE_CHECKING:
    from interview_pipeline.launcher.app import Launcher

STATIC_DIR = Path(__file__).parent / "static"


class ConsentAccepted(BaseModel):
    """The page sends the version it showed: acceptance of a notice since reworded is refused."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64)


def consent_text(persona: Persona, candidate_name: str) -> str:
    return persona.render(persona.consent.text, candidate_name)


def consent_out(consent: ConsentRecord | None) -> dict[str, Any] | None:
    if consent is None:
        return None
    return {
        "version": consent.version,
        "text_sha256": consent.text_sha256,
        "accepted_at": consent.accepted_at,
    }


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

    def persona_of(record: SessionRecord) -> Persona | None:
        try:
            return launcher.sessions.personas.load(record.persona)
        except Exception:  # the page still works, with generic wording
            return None

    @router.get("/{session_id}/session")
    async def session_info(
        session_id: SessionId, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        """What the page shows before, during and after: names, the notice, the end text."""
        record = authorise(session_id, authorization)
        persona = persona_of(record)
        if persona is None:
            persona = Persona.model_validate(_FALLBACK)
        name = record.candidate_name
        return {
            "room": record.room,
            "livekit_url": launcher.creds.url,
            "interviewer_name": persona.interviewer.name,
            "candidate_name": name,
            "status": record.status,
            "consent": {
                "version": persona.consent.version,
                "text": consent_text(persona, name),
                "accepted": consent_out(launcher.store.consent(record.id)),
            },
            "end_screen": persona.render(persona.end_screen, name),
            # How long the bot waits for a dropped candidate: the page retries within it.
            "reconnect_grace_s": launcher.settings.reconnect_grace_s,
        }

    @router.post(
        "/{session_id}/consent",
        responses=problems({409: "the notice changed since the page showed it (`version`)"}),
    )
    async def accept_consent(
        session_id: SessionId,
        accepted: ConsentAccepted,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        """The candidate accepted the notice; stored with the session, shown in its report."""
        record = authorise(session_id, authorization)
        persona = persona_of(record) or Persona.model_validate(_FALLBACK)
        if accepted.version != persona.consent.version:
            raise Rejected(
                409,
                f"the notice is now version {persona.consent.version!r}; reload the page",
                field="version",
            )
        text = consent_text(persona, record.candidate_name)
        stored = launcher.store.record_consent(
            record.id,
            ConsentRecord(
                version=accepted.version,
                text_sha256=hashlib.sha256(text.encode()).hexdigest(),
                accepted_at=time.time(),
            ),
        )
        return {"consent": consent_out(stored)}

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


#: The persona a session's page falls back to when its own no longer loads: generic names and
#: the schema's default notice, so a candidate is never asked to accept nothing.
_FALLBACK: dict[str, Any] = {
    "id": "fallback",
    "interviewer": {"name": "Interviewer"},
    "company": {"name": "the company", "role_title": "this role"},
    "opening": "Hello.",
    "closing": "Goodbye.",
    "questions": [{"id": "q", "text": "?"}],
}
