"""Loopback fakes of the cloud vendors' wire protocols (Deepgram STT, OpenAI LLM, ElevenLabs TTS).

Each fake replaces the vendor's server and nothing else: pipecat's real service classes connect
to it over 127.0.0.1, so tests and benchmarks exercise the same client code as production, with
no network, no keys, and latencies that are set rather than measured. ``python -m
interview_pipeline.fakes`` runs all three for a manual session.
"""

from typing import Any

from interview_pipeline.config import Settings
from interview_pipeline.fakes.deepgram import DeepgramFake, WhisperTranscriber
from interview_pipeline.fakes.elevenlabs import ElevenLabsFake, PiperSynth, tone_synth
from interview_pipeline.fakes.openai import FakeHTTPError, FakeToolCall, OpenAIFake

__all__ = [
    "DeepgramFake",
    "ElevenLabsFake",
    "FakeHTTPError",
    "FakeToolCall",
    "OpenAIFake",
    "PiperSynth",
    "tone_synth",
    "WhisperTranscriber",
    "cloud_settings",
    "interviewer_responder",
]


def interviewer_responder(request: dict[str, Any]) -> str:
    """An OpenAI-fake responder that phrases the conductor's plan like the scripted interviewer."""
    from interview_pipeline.providers.scripted import compose_reply

    return compose_reply(request.get("messages", []))


def cloud_settings(
    deepgram: DeepgramFake, openai: OpenAIFake, elevenlabs: ElevenLabsFake, **overrides: Any
) -> Settings:
    """Settings that put the whole cloud path (STT, LLM, TTS) on these running fakes."""
    values: dict[str, Any] = {
        "stt_provider": "deepgram",
        "llm_provider": "openai",
        "tts_provider": "elevenlabs",
        "deepgram_api_key": deepgram.expected_key or "fake-key",
        "deepgram_base_url": deepgram.base_url,
        "openai_api_key": openai.expected_key or "fake-key",
        "openai_base_url": openai.base_url,
        "elevenlabs_api_key": elevenlabs.expected_key or "fake-key",
        "elevenlabs_base_url": elevenlabs.base_url,
    }
    values.update(overrides)
    return Settings(**values)
