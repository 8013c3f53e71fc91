"""Local Piper TTS (embedded default) with the voice from the pinned model package.

piper-tts is GPL-3.0, so it is an optional extra; the import stays inside this module.
"""

from __future__ import annotations

from pipecat.services.tts_service import TTSService

from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.personas.schema import Persona


def build_piper_tts(settings: Settings, persona: Persona) -> TTSService:
    return build_piper_voice(settings, persona.voice.piper or settings.piper_voice)


def build_piper_voice(settings: Settings, voice: str) -> TTSService:
    try:
        from pipecat.services.piper.tts import PiperTTSService
    except ImportError as exc:  # piper-tts not installed
        raise ConfigError(
            "local TTS needs the 'local' extra (pip install -e '.[local]'): " + str(exc)
        ) from None
    directory = settings.piper_voice_path()
    if not (directory / f"{voice}.onnx").exists():
        raise ConfigError(f"Piper voice {voice!r} not found in {directory}")
    return PiperTTSService(download_dir=directory, settings=PiperTTSService.Settings(voice=voice))
