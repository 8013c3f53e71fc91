"""Providers: the pipeline asks for "an STT", "an LLM", "a TTS" and gets a vendor's service.

Each vendor lives in its own module and is imported only when chosen, so a deployment
without the cloud SDKs (or without the GPL Piper extra) still runs the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from interview_pipeline.config import LLMProvider, Settings, STTProvider, TTSProvider
from interview_pipeline.personas.schema import Persona

if TYPE_CHECKING:  # pipecat loads with the first service built, not with this package: the
    # shared Whisper server imports a provider module and needs none of it.
    from pipecat.services.llm_service import LLMService
    from pipecat.services.stt_service import STTService
    from pipecat.services.tts_service import TTSService

#: Services built ahead by ``prewarm`` (a pooled bot process serves one session, so each
#: warm instance is handed out once).
_WARM: dict[str, object] = {}


def prewarm(settings: Settings, persona: Persona | None = None, *, fork_safe: bool = False) -> None:
    """Build (and so load the models of) the STT and TTS this deployment will use.

    ``fork_safe`` builds only what starts no threads, for a template process that forks bots:
    not an in-process Whisper (CTranslate2 starts workers at load), and Piper on a single-threaded session.
    Calling again later builds what is still missing.
    """
    settings.check_providers()
    local_whisper = settings.resolved_stt() is STTProvider.WHISPER and not settings.whisper_socket
    if "stt" not in _WARM and not (fork_safe and local_whisper):
        _WARM["stt"] = build_stt(settings)
    voice = persona.voice.piper if persona is not None else settings.piper_voice
    key = f"tts:{voice}"
    if key in _WARM:
        return
    if persona is not None:
        _WARM[key] = build_tts(settings, persona)
    elif settings.resolved_tts() is TTSProvider.PIPER:
        from interview_pipeline.providers.piper import build_piper_voice, single_threaded

        tts = build_piper_voice(settings, settings.piper_voice)
        _WARM[key] = single_threaded(tts) if fork_safe else tts


def build_stt(settings: Settings) -> STTService:
    from pipecat.services.stt_service import STTService

    warm = _WARM.pop("stt", None)
    if isinstance(warm, STTService):
        return warm
    if settings.resolved_stt() is STTProvider.DEEPGRAM:
        from interview_pipeline.providers.deepgram import build_deepgram_stt

        return build_deepgram_stt(settings)
    from interview_pipeline.providers.whisper import build_whisper_stt

    return build_whisper_stt(settings)


def build_llm(settings: Settings, persona: Persona, system_instruction: str) -> LLMService[Any]:
    if settings.resolved_llm() is LLMProvider.OPENAI:
        from interview_pipeline.providers.openai import build_openai_llm

        return build_openai_llm(settings, persona, system_instruction)
    from interview_pipeline.providers.scripted import ScriptedInterviewerLLMService

    return ScriptedInterviewerLLMService()


def build_tts(settings: Settings, persona: Persona) -> TTSService:
    from pipecat.services.tts_service import TTSService

    warm = _WARM.pop(f"tts:{persona.voice.piper}", None)
    if isinstance(warm, TTSService) and settings.resolved_tts() is TTSProvider.PIPER:
        return warm
    if settings.resolved_tts() is TTSProvider.ELEVENLABS:
        from interview_pipeline.providers.elevenlabs import build_elevenlabs_tts

        return build_elevenlabs_tts(settings, persona)
    from interview_pipeline.providers.piper import build_piper_tts

    return build_piper_tts(settings, persona)
