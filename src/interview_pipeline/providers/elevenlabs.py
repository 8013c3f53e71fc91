"""ElevenLabs streaming TTS (cloud, websocket multi-stream-input)."""

from __future__ import annotations

from pipecat.services.elevenlabs.tts import ElevenLabsTTSService
from pipecat.services.tts_service import TTSService

from interview_pipeline.compat.elevenlabs import LiveContextElevenLabsTTSService
from interview_pipeline.config import Settings
from interview_pipeline.personas.schema import Persona


def build_elevenlabs_tts(settings: Settings, persona: Persona) -> TTSService:
    key = settings.require_key(settings.elevenlabs_api_key, "ELEVENLABS_API_KEY", "ElevenLabs TTS")
    # pipecat waits this long for a line's first audio (and for more audio mid-line) before
    # it takes the line as lost and reports it; its 3 s default is not a setting of ours.
    kwargs: dict[str, object] = {"stop_frame_timeout_s": settings.tts_timeout_s}
    if settings.elevenlabs_base_url:
        kwargs["url"] = settings.elevenlabs_base_url
    return LiveContextElevenLabsTTSService(
        api_key=key,
        settings=ElevenLabsTTSService.Settings(
            voice=persona.voice.elevenlabs, model=settings.elevenlabs_model
        ),
        **kwargs,  # type: ignore[arg-type]
    )
