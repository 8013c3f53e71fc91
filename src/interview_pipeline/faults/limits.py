"""How long the conductor lets a line take to start playing before it counts as a fault.

These deadlines are the backstop for a vendor that accepts a request and never answers (no
``ErrorFrame`` ever comes); ``policy.py`` decides what the candidate hears either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: How long after the TTS's own first-audio timeout the conductor's line watch fires.
_WATCH_MARGIN_S = 2.0


@dataclass(frozen=True)
class FaultLimits:
    """How long a queued line may take to start playing, and how many LLM failures in a row
    the interview survives (from Settings: ``llm_*``, ``tts_timeout_s``)."""

    #: From a reply's context going to the LLM to its first audio.
    reply_s: float = 20.0
    #: From a scripted line (a fallback) going to the TTS to its first audio.
    line_s: float = 8.0
    llm_failures_to_end: int = 3

    @classmethod
    def from_settings(cls, settings: Any) -> FaultLimits:
        llm = settings.llm_timeout_s * (settings.llm_retries + 1) + settings.llm_retries
        return cls(
            reply_s=llm + settings.tts_timeout_s,
            # pipecat's own first-audio wait is ``tts_timeout_s`` (providers); the watch is
            # the backstop for a TTS that neither speaks nor errs, so it fires after that.
            line_s=settings.tts_timeout_s + _WATCH_MARGIN_S,
            llm_failures_to_end=settings.llm_failures_to_end,
        )
