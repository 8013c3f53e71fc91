"""Finished sessions built straight in the store, with a synthetic recording: what the review
pages need, without running an interview.

Each turn's time in the WAV holds a tone on its speaker's channel (candidate left, interviewer
right, as the recorder writes them), so a player has real audio to play and seek in.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from interview_pipeline.launcher.models import SessionStatus
from interview_pipeline.launcher.store import SessionRecord, SessionStore
from interview_pipeline.transcript import Turn

RATE = 16000

#: A maya interview: (speaker, text, start, end, question id, kind, interrupted)
MAYA_TURNS: list[tuple[str, str, float, float, str | None, str, bool]] = [
    ("interviewer", "Hello Sam, I'm Maya. Walk me through how you start a new design project.",
     0.5, 6.0, "process", "opening", False),
    ("candidate", "I always start with research. I talk to users to understand the real problem "
     "before anything else. Then I build a quick prototype to test with them.",
     7.0, 17.0, "process", "answer", False),
    ("interviewer", "Thanks. How do you handle feedback you disagree with?",
     18.5, 22.0, "feedback", "question", False),
    ("interviewer", "Take your time.", 29.0, 30.0, "feedback", "nudge", False),
    ("candidate", "First I listen properly, because the disagreement often hides a real concern. "
     "Then I look at the data we have, and we test both options with users.",
     31.0, 41.0, "feedback", "answer", False),
    ("interviewer", "That's all my", 42.0, 43.0, None, "closing", True),
    ("candidate", "Sorry, one more thing: we always agree on a compromise together.",
     43.2, 47.0, "feedback", "answer", False),
    ("interviewer", "Thank you Sam, it was a pleasure. Goodbye!", 48.0, 52.0, None, "closing", False),
]  # fmt: skip


def maya_turns() -> list[Turn]:
    return [
        Turn(sp, text, start, end, question_id=q, kind=kind, interrupted=cut)  # type: ignore[arg-type]
        for sp, text, start, end, q, kind, cut in MAYA_TURNS
    ]


def write_recording(path: Path, turns: list[Turn], seconds: float) -> None:
    """A stereo 16 kHz WAV of ``seconds``: a tone per turn on its speaker's channel."""
    n = int(seconds * RATE)
    audio = np.zeros((n, 2), dtype=np.int16)
    for t in turns:
        a, b = int(t.start * RATE), min(n, int(t.end * RATE))
        if a >= n:
            continue
        channel, freq = (0, 220.0) if t.speaker == "candidate" else (1, 330.0)
        k = np.arange(b - a) / RATE
        audio[a:b, channel] = (6000 * np.sin(2 * np.pi * freq * k)).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(audio.tobytes())


def finished_session(
    store: SessionStore,
    data_dir: Path,
    sid: str,
    *,
    status: SessionStatus = SessionStatus.COMPLETED,
    recording_s: float | None = 53.0,
    persona: str = "maya",
    name: str = "Sam",
    created_at: float | None = None,
    turns: list[Turn] | None = None,
) -> list[Turn]:
    """A session that has ended, its turns, and (unless ``recording_s`` is None) a recording."""
    turns = maya_turns() if turns is None else turns
    created = time.time() - 120 if created_at is None else created_at
    store.create(
        SessionRecord(
            id=sid,
            room=f"room-{sid}",
            persona=persona,
            candidate_name=name,
            candidate_identity="candidate",
            created_at=created,
            candidate_joined_at=created + 2,
        )
    )
    for t in turns:
        store.append_turn(sid, t)
    store.update(
        sid, status=status, ended_at=created + 2 + (turns[-1].end if turns else 0), reason=None
    )
    if recording_s is not None:
        write_recording(data_dir / "recordings" / f"{sid}.wav", turns, recording_s)
    return turns
