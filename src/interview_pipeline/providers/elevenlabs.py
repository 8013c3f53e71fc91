"""ElevenLabs streaming TTS (cloud, websocket multi-stream-input)."""

from __future__ import annotations

from pipecat.services.elevenlabs.tts import ElevenLabsTTSService
from pipecat.services.tts_service import TTSService

from interview_pipeline.config import Settings
from interview_pipeline.personas.schema import Persona


def build_elevenlabs_tts(settings: Settings, persona: Persona) -> TTSService:
    key = settings.require_key(settings.elevenlabs_api_key, "ELEVENLABS_API_KEY", "ElevenLabs TTS")
    kwargs: dict[str, object] = {}
    if settings.elevenlabs_base_url:
        kwargs["url"] = settings.elevenlabs_base_url
    return ElevenLabsTTSService(
        api_key=key,
        settings=ElevenLabsTTSService.Settings(
            voice=persona.voice.elevenlabs, model=settings.elevenlabs_model
        ),
        **kwargs,  # type: ignore[arg-type]
    )
