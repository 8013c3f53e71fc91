"""Stored records as API shapes, defensively: no stored record can make a read route fail.

Requests are validated so that whatever is accepted can be served back; this module is the other
half, for records that break today's rules anyway (stored by an older launcher, or damaged by
another writer). Those are served with the offending fields replaced by a stand-in and named in
``withheld``, so a client gets a clear answer and one bad row never takes ``GET /sessions`` down.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import ValidationError

from interview_pipeline.launcher.models import SessionOut, SessionStatus, metadata_problem
from interview_pipeline.launcher.store import SessionRecord, StoredTurn, WebhookState


def session_out(
    record: SessionRecord,
    turns: list[StoredTurn] | None = None,
    webhooks: WebhookState | None = None,
) -> SessionOut:
    """``record`` (and its transcript and webhooks, when given) as served by the API."""
    withheld = dict(record.damaged)
    metadata = record.metadata
    if metadata is not None and (problem := metadata_problem(metadata)) is not None:
        withheld["metadata"] = f"stored metadata cannot be served: {problem}"
        metadata = None
    data: dict[str, Any] = {
        "session_id": record.id,
        "room": record.room,
        "persona": record.persona,
        "candidate_name": record.candidate_name,
        "candidate_email": record.candidate_email,
        "candidate_identity": record.candidate_identity,
        "metadata": metadata,
        "status": record.status,
        "reason": record.reason,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "bot_joined_at": record.bot_joined_at,
        "candidate_joined_at": record.candidate_joined_at,
        "ended_at": record.ended_at,
        "transcript": None if turns is None else [_turn(t) for t in turns],
        "webhooks": None if webhooks is None else asdict(webhooks),
    }
    # Each round replaces every field that failed with its stand-in; a second round can only
    # fail on a stand-in, which the last resort below covers.
    for _ in range(2):
        try:
            out = SessionOut.model_validate({**data, "withheld": withheld or None})
            out.model_dump_json()  # proves it serialises before a route tries to
            return out
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err.get("loc") else "record"
                withheld[name] = f"stored value cannot be served: {err['msg']}"
                data[name] = _STAND_INS.get(name)
        except ValueError as exc:  # pydantic_core.PydanticSerializationError
            withheld["record"] = f"stored record cannot be served whole: {exc}"
            data["metadata"], data["transcript"] = None, None
    return SessionOut(
        session_id=str(record.id),
        room="",
        persona="",
        candidate_name="",
        candidate_identity="",
        status=SessionStatus.FAILED,
        created_at=0.0,
        updated_at=0.0,
        withheld={"record": "stored record cannot be served; see the launcher's store"},
    )


#: What a field that cannot be served is replaced by: the type's empty value, None if optional.
_STAND_INS: dict[str, Any] = {
    "session_id": "",
    "room": "",
    "persona": "",
    "candidate_name": "",
    "candidate_identity": "",
    "status": SessionStatus.FAILED,
    "created_at": 0.0,
    "updated_at": 0.0,
}


def _turn(stored: StoredTurn) -> dict[str, Any]:
    """Plain values, validated as ``TurnOut`` with the rest of the record."""
    turn = stored.turn
    return {
        "seq": stored.seq,
        "speaker": turn.speaker,
        "text": turn.text,
        "start": turn.start,
        "end": turn.end,
        "question_id": turn.question_id,
        "interrupted": turn.interrupted,
        "kind": turn.kind,
    }
