"""Assembled interview pipelines. Each variant reads top to bottom like the README diagram.

``build_interview`` is the one function that turns (persona, settings, transport) into a
runnable worker: it builds the parts, picks the variant (with a face or voice only) and
wraps it with the transcript and latency observers.
"""

from __future__ import annotations

from typing import Any

from pipecat.pipeline.worker import PipelineWorker
from pipecat.transports.base_transport import BaseTransport

from interview_pipeline.config import Settings
from interview_pipeline.personas.schema import AvatarRenderer, Persona
from interview_pipeline.session import InterviewParts, build_parts, make_worker


def wants_video(persona: Persona) -> bool:
    return persona.avatar.renderer is not AvatarRenderer.NONE


def transport_kwargs(persona: Persona, *, video: bool) -> dict[str, Any]:
    """Audio in/out, plus the camera track at the persona's size and rate when there's a face."""
    return {
        "audio_in_enabled": True,
        "audio_out_enabled": True,
        "video_out_enabled": video,
        "video_out_width": persona.avatar.width,
        "video_out_height": persona.avatar.height,
        "video_out_framerate": persona.avatar.fps,
    }


def build_interview(
    persona: Persona,
    settings: Settings,
    transport: BaseTransport,
    *,
    video: bool | None = None,
    rtvi: bool = False,
    **parts_kwargs: Any,
) -> tuple[InterviewParts, PipelineWorker]:
    from pipelines import interview, voice_only

    video = wants_video(persona) if video is None else video
    parts = build_parts(persona, settings, transport, with_avatar=video, **parts_kwargs)
    variant = interview if parts.avatar is not None else voice_only
    return parts, make_worker(variant.assemble(parts), parts, enable_rtvi=rtvi)
