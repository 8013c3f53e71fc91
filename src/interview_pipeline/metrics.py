"""Per-turn latency: voice-to-voice and where the time went.

Pipecat's UserBotLatencyObserver already splits each user-silence → bot-audio interval into
named contributions that sum to the total; this groups them into the figures the product
reports (endpointing wait, STT, LLM, TTS, the pipeline's own overhead) and keeps each
service's TTFB alongside.

A reply prepared while the candidate paused (``turns/stop.py``) asked the LLM before the
turn's last transcript, so the observer cannot lay its stages end to end and reports no
contributions. Such a turn is kept with its total and TTFBs and marked ``speculative``:
its stages overlapped the wait instead of following it.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from loguru import logger
from pipecat.observers.user_bot_latency_observer import (
    LatencyBreakdown,
    MeasuredFrom,
    UserBotLatencyObserver,
)

#: Contribution keys (pipecat's) → the group they are reported under.
GROUPS: dict[str, str] = {
    "endpointing_wait": "endpointing",
    "turn_detection": "endpointing",
    "waiting_for_user": "endpointing",
    "transcription": "stt",
    "first_request": "llm",
    "llm_inference": "llm",
    "turn_completion": "llm",
    "awaiting_speakable_text": "llm",
    "llm_tool_call": "llm",
    "function_handler": "llm",
    "sentence_aggregation": "tts",
    "speech_synthesis": "tts",
    "output_transport": "overhead",
    "pipeline": "overhead",
}


@dataclass
class TurnLatency:
    """One candidate turn → first interviewer audio, in seconds."""

    voice_to_voice: float
    endpointing: float = 0.0
    stt: float = 0.0
    llm: float = 0.0
    tts: float = 0.0
    overhead: float = 0.0
    ttfb: dict[str, float] = field(default_factory=dict)
    contributions: dict[str, float] = field(default_factory=dict)
    #: The reply was prepared before the turn was confirmed (no stage breakdown).
    speculative: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kind_of(processor: str, names: dict[str, str]) -> str:
    for kind, name in names.items():
        if processor == name:
            return kind
    lowered = processor.lower()
    for kind in ("stt", "llm", "tts"):
        if kind in lowered:
            return kind
    return processor


class LatencyCollector:
    """Owns a UserBotLatencyObserver (add ``.observer`` to the worker's observers)."""

    def __init__(self, service_names: dict[str, str] | None = None):
        self.observer = UserBotLatencyObserver()
        self.turns: list[TurnLatency] = []
        self._names = service_names or {}
        self._latency: float | None = None
        self.observer.add_event_handler("on_latency_measured", self._on_latency)
        self.observer.add_event_handler("on_latency_breakdown", self._on_breakdown)

    async def _on_latency(self, _observer: Any, latency: float) -> None:
        self._latency = latency

    async def _on_breakdown(self, _observer: Any, breakdown: LatencyBreakdown) -> None:
        # ``on_latency_measured`` comes just before, and only for a turn timed from the
        # candidate's silence; the greeting is timed from connection and has none.
        latency, self._latency = self._latency, None
        if breakdown.measured_from is MeasuredFrom.USER_SILENCE:
            turn = TurnLatency(voice_to_voice=round(breakdown.total_secs, 4))
        elif latency is not None:
            turn = TurnLatency(voice_to_voice=round(latency, 4), speculative=True)
        else:
            return
        for c in breakdown.contributions:
            group = GROUPS.get(c.key, "overhead")
            setattr(turn, group, round(getattr(turn, group) + c.duration_secs, 4))
            turn.contributions[c.key] = round(
                turn.contributions.get(c.key, 0.0) + c.duration_secs, 4
            )
        for t in breakdown.ttfb:
            # The last request per service is the one that was heard: an earlier one was a
            # withdrawn guess, whose TTFB pipecat closes at the interruption (a partial time).
            kind = _kind_of(t.processor, self._names)
            turn.ttfb[kind] = round(t.duration_secs, 4)
        self.turns.append(turn)
        # One line per turn in the bot's log: where a slow answer's time went, in production
        # and in bench/launcher.py (which reads it back to tell the bot's share from transport).
        parts = " ".join(f"{k}={v}" for k, v in turn.contributions.items())
        logger.info(
            "turn latency: voice_to_voice={} endpointing={} stt={} llm={} tts={} overhead={} {}",
            turn.voice_to_voice,
            turn.endpointing,
            turn.stt,
            turn.llm,
            turn.tts,
            turn.overhead,
            parts,
        )


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank-interpolated percentile (no numpy needed for a handful of turns)."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(turns: list[TurnLatency]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name in ("voice_to_voice", "endpointing", "stt", "llm", "tts", "overhead"):
        values = [getattr(t, name) for t in turns]
        if values:
            out[name] = {
                "p50": round(percentile(values, 50), 4),
                "p95": round(percentile(values, 95), 4),
                "mean": round(statistics.fmean(values), 4),
            }
    return out


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance / reference length, on normalised words."""
    import re

    def norm(s: str) -> list[str]:
        return re.findall(r"[a-z0-9']+", s.lower())

    ref, hyp = norm(reference), norm(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1] / len(ref)
