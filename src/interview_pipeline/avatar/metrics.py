"""Prometheus counters for the avatar stage (registered once, in the default registry)."""

from __future__ import annotations

from prometheus_client import Counter

#: Hedra calls that failed, by reason (auth, balance, rate_limit, server, timeout, ...).
HEDRA_FAILURES = Counter(
    "interview_avatar_hedra_failures_total",
    "Hedra API failures; the line falls back to local lip-sync.",
    ["reason"],
)

#: Scripted sentences at run time: played from a clip, or failed to load (fell back).
CLIP_PLAYS = Counter(
    "interview_avatar_clip_plays_total",
    "Cached Hedra clips played in place of TTS audio, by result.",
    ["result"],
)

#: Video frames the frame clock skipped because the event loop was too busy.
FRAMES_SKIPPED = Counter(
    "interview_avatar_frames_skipped_total",
    "Avatar video frames skipped to stay in real time.",
)
