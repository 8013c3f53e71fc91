"""What the review pages show, assembled from the store, the recording and the report.

Everything here reads; nothing waits on a bot. A session with a partial recording, none at all,
a damaged WAV, no report yet or a persona that no longer loads is still shown, with a sentence
per thing that is missing (``notes``) so a recruiter knows what they are not seeing.
"""

from __future__ import annotations

import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from interview_pipeline.conduct.timeline_svg import render_timeline_svg
from interview_pipeline.launcher.store import SessionRecord, StoredTurn
from interview_pipeline.personas.schema import Persona

if TYPE_CHECKING:
    from interview_pipeline.launcher.app import Launcher

#: A recording shorter than the transcript by more than this is called partial.
PARTIAL_SLACK_S = 1.0


def clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


@dataclass(frozen=True)
class Recording:
    path: Path | None
    #: Seconds of audio the WAV header covers (what a player plays); ``None``: no usable file.
    duration_s: float | None
    problem: str | None = None


def recording_path(launcher: Launcher, session_id: str) -> Path:
    return launcher.settings.data_dir / "recordings" / f"{session_id}.wav"


def read_recording(path: Path) -> Recording:
    if not path.is_file():
        return Recording(None, None)
    try:
        with wave.open(str(path), "rb") as w:
            rate = w.getframerate()
            duration = w.getnframes() / rate if rate else 0.0
    except (wave.Error, EOFError, OSError, ValueError) as exc:
        return Recording(path, None, f"cannot be read as WAV ({type(exc).__name__})")
    return Recording(path, round(duration, 3))


def _persona(launcher: Launcher, record: SessionRecord) -> Persona | None:
    try:
        return launcher.sessions.personas.load(record.persona)
    except Exception:  # the page works without it: generic names, no question texts
        return None


def timeline_svg(
    persona: Persona | None, stored: list[StoredTurn], recorded_s: float | None
) -> str:
    numbers = {q.id: i for i, q in enumerate(persona.questions, 1)} if persona else {}
    return render_timeline_svg(
        [t.turn for t in stored],
        recorded_s=recorded_s,
        seqs=[t.seq for t in stored],
        question_numbers=numbers,
    )


def _notes(
    record: SessionRecord, stored: list[StoredTurn], rec: Recording, report: dict[str, Any] | None
) -> list[str]:
    notes = []
    status = str(record.status)
    if not record.status.terminal:
        notes.append(f"The session is still live ({status}): this shows what was said so far.")
    elif status != "completed":
        why = f" ({record.reason})" if record.reason else ""
        notes.append(f"The session ended as {status}{why}: the interview stops there.")
    last_end = max((t.turn.end for t in stored), default=0.0)
    if rec.path is None:
        notes.append(
            "No recording was made for this session: only the transcript can be shown."
            if record.status.terminal
            else "There is no recording yet."
        )
    elif rec.duration_s is None:
        notes.append(f"The recording {rec.problem}: only the transcript can be shown.")
    elif last_end > rec.duration_s + PARTIAL_SLACK_S:
        cut = sum(1 for t in stored if t.turn.start >= rec.duration_s)
        notes.append(
            f"The recording is partial: it stops at {clock(rec.duration_s)}, the transcript "
            f"at {clock(last_end)}; {cut} turn(s) after that cannot be played."
        )
    if not stored:
        notes.append("Nothing was said: the transcript is empty.")
    if report is None:
        notes.append(
            "The report is being made." if record.status.terminal else "No report until it ends."
        )
    elif report.get("status") != "ready":
        notes.append(f"The report could not be made: {report.get('detail', 'unknown error')}")
    return notes


def _report(report: dict[str, Any] | None, stored: list[StoredTurn]) -> dict[str, Any] | None:
    """The stored report with each quote's turn as the transcript's ``seq`` too."""
    if report is None or report.get("status") != "ready":
        return None
    body: dict[str, Any] = report["report"]
    for criterion in body.get("criteria", []):
        for evidence in criterion.get("evidence", []):
            index = evidence.get("turn")
            if isinstance(index, int) and 0 <= index < len(stored):
                evidence["seq"] = stored[index].seq
    return body


def review_payload(launcher: Launcher, record: SessionRecord) -> dict[str, Any]:
    stored = launcher.store.turns(record.id)
    rec = read_recording(recording_path(launcher, record.id))
    report = launcher.reports.load(record.id)
    if report is None and record.status.terminal:
        launcher.reports.schedule(record.id)  # e.g. ended under a previous launcher
    persona = _persona(launcher, record)
    return {
        "session": {
            "session_id": record.id,
            "persona": record.persona,
            "candidate_name": record.candidate_name,
            "interviewer_name": persona.interviewer.name if persona else "Interviewer",
            "role": f"{persona.company.role_title} at {persona.company.name}" if persona else "",
            "status": str(record.status),
            "reason": record.reason,
            "created_at": record.created_at,
            "candidate_joined_at": record.candidate_joined_at,
            "ended_at": record.ended_at,
        },
        "questions": [{"id": q.id, "text": q.text} for q in persona.questions] if persona else [],
        "turns": [
            {
                "seq": t.seq,
                "speaker": t.turn.speaker,
                "text": t.turn.text,
                "start": t.turn.start,
                "end": t.turn.end,
                "kind": t.turn.kind,
                "question_id": t.turn.question_id,
                "interrupted": t.turn.interrupted,
            }
            for t in stored
        ],
        "recording": {
            "available": rec.duration_s is not None,
            "url": f"/sessions/{record.id}/recording" if rec.duration_s is not None else None,
            "duration_s": rec.duration_s,
        },
        "report": _report(report, stored),
        "report_status": "pending" if report is None else str(report.get("status")),
        "timeline_svg": timeline_svg(persona, stored, rec.duration_s),
        "notes": _notes(record, stored, rec, report),
        "generated_at": time.time(),
    }


def list_row(launcher: Launcher, record: SessionRecord) -> dict[str, Any]:
    """One line of the session list."""
    started = record.candidate_joined_at or record.created_at
    duration = None
    if record.ended_at is not None and isinstance(started, int | float):
        duration = max(0.0, record.ended_at - started)
    report = launcher.reports.load(record.id)
    overall: dict[str, Any] = {}
    if report and report.get("status") == "ready":
        overall = report.get("report", {}).get("overall", {}) or {}
    return {
        "session_id": record.id,
        "status": str(record.status),
        "persona": record.persona,
        "candidate_name": record.candidate_name,
        "created_at": record.created_at,
        "started_at": started,
        "duration_s": duration,
        "recommendation": overall.get("recommendation"),
        "score": overall.get("score"),
    }
