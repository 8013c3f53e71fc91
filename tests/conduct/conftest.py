"""Shared fixtures for the conduct tests that replay whole interviews."""

from __future__ import annotations

from pathlib import Path

import pytest

from interview_pipeline.config import LLMProvider, Settings, STTProvider, TTSProvider


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The embedded engines only: Whisper, the scripted interviewer, Piper."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        stt_provider=STTProvider.WHISPER,
        llm_provider=LLMProvider.SCRIPTED,
        tts_provider=TTSProvider.PIPER,
    )
