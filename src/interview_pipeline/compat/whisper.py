"""pipecat's Whisper service with its model loading and the segment's audio open to subclasses."""

from __future__ import annotations

from typing import Any

from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language


class HookedWhisperSTTService(WhisperSTTService):
    """``WhisperSTTService`` whose model comes from ``load_model`` (called from ``__init__``)."""

    def load_model(self) -> Any:
        """The model to transcribe with; by default pipecat's own loading and language check."""
        WhisperSTTService._load(self)
        return self._model

    def _load(self) -> None:
        self._model = self.load_model()

    def load_local_model(self) -> Any:
        """A faster-whisper model built exactly as pipecat builds it."""
        from faster_whisper import WhisperModel

        settings: Any = self.settings
        return WhisperModel(settings.model, device=self._device, compute_type=self._compute_type)

    @property
    def whisper_model(self) -> Any:
        return self._model

    @property
    def user_speaking(self) -> bool:
        """VAD says the candidate is speaking (the segment is still growing)."""
        return self._user_speaking

    def segment_audio(self) -> bytes:
        """The PCM of the segment buffered so far."""
        return bytes(self._audio_buffer)

    @property
    def user_id(self) -> str:
        return self._user_id

    async def report_transcription(
        self, text: str, is_final: bool, language: Language | None
    ) -> None:
        """pipecat's tracing hook for a transcript, as its own ``run_stt`` calls it."""
        await self._handle_transcription(text, is_final, language)
