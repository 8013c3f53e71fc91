"""Loopback fakes of the cloud vendors' wire protocols (Deepgram STT, OpenAI LLM, ElevenLabs TTS).

Each fake replaces the vendor's server and nothing else: pipecat's real service classes connect
to it over 127.0.0.1, so tests and benchmarks exercise the same client code as production, with
no network, no keys, and latencies that are set rather than measured. ``python -m
interview_pipeline.fakes`` runs all three for a manual session.
"""

from interview_pipeline.fakes.deepgram import DeepgramFake, WhisperTranscriber
from interview_pipeline.fakes.elevenlabs import ElevenLabsFake, PiperSynth
from interview_pipeline.fakes.openai import FakeHTTPError, FakeToolCall, OpenAIFake

__all__ = [
    "DeepgramFake",
    "ElevenLabsFake",
    "FakeHTTPError",
    "FakeToolCall",
    "OpenAIFake",
    "PiperSynth",
    "WhisperTranscriber",
]
