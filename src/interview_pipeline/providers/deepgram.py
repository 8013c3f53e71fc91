"""Deepgram live STT (cloud). Vendor details stay in this module."""

from __future__ import annotations

from pipecat.services.deepgram.stt import DeepgramSTTService
from pipecat.services.stt_service import STTService

from interview_pipeline.config import Settings


def build_deepgram_stt(settings: Settings) -> STTService:
    key = settings.require_key(settings.deepgram_api_key, "DEEPGRAM_API_KEY", "Deepgram STT")
    return DeepgramSTTService(
        api_key=key,
        base_url=settings.deepgram_base_url or "",
        settings=DeepgramSTTService.Settings(model=settings.deepgram_model, language="en"),
    )
