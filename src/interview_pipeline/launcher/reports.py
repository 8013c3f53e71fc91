"""Transcript, recording and report routes, and the report that is made once a session ends.

The report is generated in the launcher, not the bot: a bot that crashes, is killed or whose
candidate never comes back still gets a (partial) report from the turns it left in the store.
Reports are JSON files under ``data_dir/reports`` (written atomically) rather than a store table,
so the ``SessionStore`` protocol that a shared database would implement stays small.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from loguru import logger

from interview_pipeline.conduct.evaluation import Report, evaluate
from interview_pipeline.conduct.report_html import ConsentNote, render_report_html
from interview_pipeline.config import Settings
from interview_pipeline.launcher.models import (
    INVALID,
    UNAUTHORISED,
    SessionId,
    SessionStatus,
    problems,
)
from interview_pipeline.launcher.review_data import read_recording, recording_path, timeline_svg
from interview_pipeline.launcher.sessions import Rejected
from interview_pipeline.launcher.store import SessionRecord, SessionStore, StoredTurn
from interview_pipeline.personas import PersonaLibrary

if TYPE_CHECKING:
    from interview_pipeline.launcher.app import Launcher


def transcript_txt(turns: list[StoredTurn], interviewer: str, candidate: str) -> str:
    """One ``[mm:ss] Name: text`` line per turn: what a recruiter pastes into an ATS."""
    lines = []
    for t in turns:
        minutes, seconds = divmod(int(max(0.0, t.turn.start)), 60)
        who = interviewer if t.turn.speaker == "interviewer" else candidate
        mark = " (interrupted)" if t.turn.interrupted else ""
        lines.append(f"[{minutes:02d}:{seconds:02d}] {who}: {t.turn.text}{mark}")
    return "\n".join(lines) + ("\n" if lines else "")


class ReportService:
    """Makes each ended session's report exactly once, off the request path."""

    def __init__(self, settings: Settings, store: SessionStore, personas: PersonaLibrary):
        self.settings = settings
        self.store = store
        self.personas = personas
        self.dir = settings.data_dir / "reports"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: Called with the session id and the report's status once it is on disk (webhooks).
        self.on_ready: Callable[[str, str], None] | None = None

    def path(self, session_id: str) -> Path:
        return self.dir / f"{session_id}.json"

    def load(self, session_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.path(session_id).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def schedule(self, session_id: str) -> None:
        """Start generation unless it is done or under way; safe to call from anywhere."""
        if session_id in self._tasks or self.path(session_id).exists():
            return
        task = asyncio.ensure_future(self._generate(session_id))
        self._tasks[session_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(session_id, None))

    async def wait(self) -> None:
        """Let reports under way finish (shutdown), so none is left half made."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def _generate(self, session_id: str) -> None:
        record = self.store.get(session_id)
        if record is None or not record.status.terminal:
            return
        stored = self.store.turns(session_id)
        ended = record.ended_at or time.time()
        answers = [t for t in stored if t.turn.speaker == "candidate"]
        started = time.monotonic()
        try:
            persona = self.personas.load(record.persona)
            report = await evaluate(
                self.settings,
                persona,
                [t.turn for t in stored],
                partial=record.status is not SessionStatus.COMPLETED,
            )
            body: dict[str, Any] = {"status": "ready", "report": report.model_dump(mode="json")}
        except Exception as exc:  # a report that cannot be made says why, once
            logger.warning("session {}: report failed: {}", session_id, type(exc).__name__)
            body = {"status": "failed", "detail": f"{type(exc).__name__}: {exc}"[:500]}
        ready = time.time()
        body.update(
            session_id=session_id,
            session_status=str(record.status),
            ready_at=ready,
            ended_at=ended,
            evaluation_s=round(time.monotonic() - started, 3),
            # Session end (bot gone, status final) to report on disk.
            generated_in_s=round(ready - ended, 3),
            # The figure the issue asks for: the candidate's last answer to report ready.
            since_last_answer_s=round(ready - answers[-1].written_at, 3) if answers else None,
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(session_id).with_suffix(".tmp")
        tmp.write_text(json.dumps(body))
        os.replace(tmp, self.path(session_id))
        if self.on_ready is not None:
            try:
                self.on_ready(session_id, str(body["status"]))
            except Exception as exc:  # the report is made; a failed notification is logged
                logger.warning("session {}: report hook failed: {}", session_id, exc)
        logger.info(
            "session {}: report {} {:.2f} s after the session ended",
            session_id,
            body["status"],
            body["generated_in_s"],
        )


def results_router(
    launcher: Launcher,
    require_key: Callable[..., Coroutine[Any, Any, None]],
    require_reader: Callable[..., Coroutine[Any, Any, None]],
) -> APIRouter:
    """``/sessions/{id}/transcript|recording|report``: same API-key auth as the other routes;
    the recording and the report also take a review token or cookie (``require_reader``), so
    the review page can play the one and link to the other."""
    keyed = [Depends(require_key)]
    router = APIRouter(
        prefix="/sessions",
        tags=["results"],
        responses=problems(
            {
                401: UNAUTHORISED,
                404: "unknown session, or nothing to serve yet",
                422: INVALID,
            }
        ),
    )

    def find(session_id: str) -> SessionRecord:
        record = launcher.store.get(session_id)
        if record is None:
            raise Rejected(404, f"no session {session_id!r}", field="session_id")
        return record

    @router.get("/{session_id}/transcript", response_model=None, dependencies=keyed)
    async def transcript(
        session_id: SessionId, format: Literal["json", "txt"] = "json"
    ) -> dict[str, Any] | PlainTextResponse:
        """Every turn written so far; complete even for a crashed or deleted session."""
        record = find(session_id)
        stored = launcher.store.turns(session_id)
        if format == "txt":
            interviewer = launcher.interviewer_name(record.persona)
            return PlainTextResponse(transcript_txt(stored, interviewer, record.candidate_name))
        turns = [
            {
                "seq": t.seq,
                "speaker": t.turn.speaker,
                "text": t.turn.text,
                "start": t.turn.start,
                "end": t.turn.end,
                "interrupted": t.turn.interrupted,
                "question_id": t.turn.question_id,
                "kind": t.turn.kind,
            }
            for t in stored
        ]
        return {"session_id": session_id, "status": record.status, "turns": turns}

    @router.get(
        "/{session_id}/recording",
        response_class=FileResponse,
        dependencies=[Depends(require_reader)],
        responses={
            200: {"content": {"audio/wav": {}}},
            206: {
                "description": "the byte range asked for with `Range` (seeking in a player)",
                "content": {"audio/wav": {}},
            },
            **problems(
                {
                    401: "missing or invalid API key, review token or review cookie",
                    416: "`Range` outside the file",
                }
            ),
        },
    )
    async def recording(session_id: SessionId) -> FileResponse:
        """Both sides as one WAV; streamed from disk, never read whole into memory. Answers
        `Range` requests (206), so a player seeks in a long interview without loading it."""
        record = find(session_id)
        path = recording_path(launcher, session_id)
        if not path.is_file():
            why = "no recording yet" if not record.status.terminal else "no recording was made"
            raise Rejected(404, f"{why} for session {session_id!r}", field="session_id")
        return FileResponse(path, media_type="audio/wav", filename=f"interview-{session_id}.wav")

    @router.get(
        "/{session_id}/report",
        response_model=None,
        dependencies=[Depends(require_reader)],
        responses={
            202: {"description": "the session is live or its report is being made"},
            **problems({409: "`format=html` asked, but the persona no longer loads"}),
        },
    )
    async def report(
        session_id: SessionId,
        format: Literal["json", "html"] | None = None,
        accept: Annotated[str | None, Header()] = None,
    ) -> JSONResponse | HTMLResponse:
        """The rubric report once the session has ended; 202 until then."""
        record = find(session_id)
        reports = launcher.reports
        data = reports.load(session_id)
        if data is None:
            if record.status.terminal:
                reports.schedule(session_id)  # e.g. ended under a previous launcher
            return JSONResponse(
                {"status": "pending", "session_status": record.status}, status_code=202
            )
        # Read at serving time, not baked into the report file: it belongs to the session.
        consent = launcher.store.consent(session_id)
        data["consent"] = None if consent is None else asdict(consent)
        if data.get("status") != "ready":
            return JSONResponse(data)  # {"status": "failed", "detail": why}
        html = format == "html" or (format is None and "text/html" in (accept or ""))
        if html:
            try:
                persona = launcher.sessions.personas.load(record.persona)
            except Exception:
                raise Rejected(
                    409,
                    f"persona {record.persona!r} no longer loads; the JSON report is available",
                    field="format",
                ) from None
            note = ConsentNote(**data["consent"]) if data["consent"] else ConsentNote()
            stored = launcher.store.turns(session_id)
            recorded = read_recording(recording_path(launcher, session_id)).duration_s
            svg = timeline_svg(persona, stored, recorded)
            report = Report.model_validate(data["report"])
            page = render_report_html(report, persona, note, timeline_svg=svg)
            return HTMLResponse(page)
        return JSONResponse(data)

    return router
