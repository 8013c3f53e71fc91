"""The seam for realtime avatar vendors that speak LiveKit's avatar data-stream protocol.

Not implemented for any vendor (Hedra's realtime product closed on 2026-04-15); this fixes
the shape so one can be added without touching the pipeline. The protocol is summarised in
``shared/PROTOCOLS.md`` ("LiveKit avatar data-stream protocol"):

- the vendor's avatar joins the room as its own participant (token kind ``agent``, attribute
  ``lk.publish_on_behalf = <bot identity>``) and publishes lip-synced audio *and* video;
- the bot streams its TTS audio to it as byte streams on topic ``lk.audio_stream``
  (attributes ``sample_rate``, ``num_channels``; raw s16le); closing a stream ends a segment;
- interruption: RPC ``lk.clear_buffer`` to the avatar; it answers ``lk.playback_finished``
  ``{"playback_position": s, "interrupted": bool}`` (also after each finished segment).

A stage built on this would take ``HedraVideoService``'s place between TTS and transport out:
forward ``TTSAudioRawFrame`` audio to ``push_audio`` *instead of* pushing it downstream (the
vendor publishes the voice, so the bot's own audio track stays silent), call ``end_segment``
on ``TTSStoppedFrame`` and ``clear_buffer`` on ``InterruptionFrame``, and emit
``BotStoppedSpeakingFrame`` when ``playback_finished`` arrives. The output transport then
runs with ``video_out_enabled=False``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PlaybackFinished:
    """The avatar's ``lk.playback_finished`` RPC payload."""

    playback_position: float
    interrupted: bool


class RealtimeAvatarVendor(ABC):
    """One vendor avatar session in one LiveKit room."""

    #: Called on every ``lk.playback_finished`` from the avatar.
    on_playback_finished: Callable[[PlaybackFinished], Awaitable[None]] | None = None

    @abstractmethod
    async def start(self, *, livekit_url: str, room: str, bot_identity: str) -> None:
        """Ask the vendor to join ``room`` publishing on behalf of ``bot_identity``."""

    @abstractmethod
    async def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Return once the avatar's video track is published: audio sent earlier is lost."""

    @abstractmethod
    async def push_audio(self, pcm: bytes, sample_rate: int, num_channels: int) -> None:
        """Append TTS audio to the current ``lk.audio_stream`` segment (opening one if none)."""

    @abstractmethod
    async def end_segment(self) -> None:
        """Close the current byte stream: the avatar finishes speaking what it has."""

    @abstractmethod
    async def clear_buffer(self, timeout_s: float = 2.0) -> PlaybackFinished | None:
        """``lk.clear_buffer``; the interrupted ``playback_finished`` or None on timeout."""

    @abstractmethod
    async def stop(self) -> None:
        """Leave the room and release the vendor session."""
