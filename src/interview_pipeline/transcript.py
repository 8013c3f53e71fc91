"""Transcript turns and where they go.

A turn is written the moment it ends (never only at the end of the interview), so a crash,
a dropped candidate or a DELETE loses nothing that was said. Sinks are small: a JSONL file
for ``simulate`` and tests, the session store for the launcher.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol

Speaker = Literal["interviewer", "candidate"]


@dataclass
class Turn:
    speaker: Speaker
    text: str
    #: Seconds since the interview started (the pipeline's clock).
    start: float
    end: float
    question_id: str | None = None
    interrupted: bool = False
    #: What this turn was: opening, question, follow_up, nudge, repeat, closing, answer, ...
    kind: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Turn:
        return cls(**data)  # type: ignore[arg-type]


class TranscriptSink(Protocol):
    """Receives each turn as soon as it ends."""

    def append(self, turn: Turn) -> None: ...


class MemorySink:
    def __init__(self) -> None:
        self.turns: list[Turn] = []

    def append(self, turn: Turn) -> None:
        self.turns.append(turn)


class JsonlSink:
    """Appends one JSON line per turn and fsyncs, so a killed process keeps its turns."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, turn: Turn) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(turn.to_dict(), ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[Turn]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [Turn.from_dict(json.loads(line)) for line in lines if line.strip()]


class FanoutSink:
    def __init__(self, *sinks: TranscriptSink):
        self.sinks = list(sinks)

    def append(self, turn: Turn) -> None:
        for sink in self.sinks:
            sink.append(turn)
