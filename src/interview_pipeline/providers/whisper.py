"""Local Whisper STT (embedded default): faster-whisper from a pinned model package, tiny.en
unless ``INTERVIEW_WHISPER_MODEL=base`` (see ``whisper_models``).

The model loads in the service constructor, so building it is what "warming" a bot means.
These choices differ from pipecat's defaults, each measured on the replay answers:

- beam search (``INTERVIEW_WHISPER_BEAM_SIZE``, 5 by default): on the product's own Piper
  voice greedy decoding gave the same words, but on voices it was not tuned for beam search
  recovers some of the errors for more CPU (figures: README, "Embedded STT");
- the question being asked as the decoder's prompt (``QuestionContextFrame`` from the
  conductor): domain words ("token bucket") are heard as such more often. Only the question,
  never the answer's expected points, which would bias what the scorer then credits;
- a permissive no-speech threshold: VAD already cut the segment to speech, and the default
  threshold dropped a candidate's last clause;
- the model may live in a shared server process (``whisper_remote``): one copy per machine
  instead of one per bot;
- speculative transcription: pipecat transcribes a segment when VAD declares the stop, which
  is ``vad_stop_s`` after speech ended. Here, once the audio has
  been quiet for ``speculate_after_s``, the segment so far is transcribed in a thread while VAD
  is still waiting; if the candidate speaks again the guess is discarded, otherwise it is the
  transcript and STT costs nothing on the voice-to-voice path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    Frame,
    InputAudioRawFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import STTService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from interview_pipeline.compat.whisper import HookedWhisperSTTService
from interview_pipeline.config import Settings
from interview_pipeline.providers.whisper_remote import RemoteWhisperModel
from interview_pipeline.turns.frames import QuestionContextFrame


class _DecodingModel:
    """Wraps a faster-whisper model so every transcribe call decodes the same way."""

    def __init__(self, model: Any, beam_size: int):
        self._model = model
        self._beam_size = beam_size

    def transcribe(self, audio: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("beam_size", self._beam_size)
        kwargs.setdefault("without_timestamps", True)
        kwargs.setdefault("condition_on_previous_text", False)
        return self._model.transcribe(audio, **kwargs)


class LocalWhisperSTTService(HookedWhisperSTTService):
    def __init__(
        self,
        *,
        speculate_after_s: float | None = 0.25,
        quiet_rms: float = 250.0,
        server: Path | None = None,
        beam_size: int = 5,
        **kwargs: Any,
    ):
        self._server = server  # read by load_model, which pipecat's __init__ calls
        self._beam_size = beam_size
        super().__init__(**kwargs)
        self._speculate_after_s = speculate_after_s
        self._quiet_rms = quiet_rms
        self._quiet_s = 0.0
        self._generation = 0
        self._guess: tuple[int, str] | None = None
        self._guess_task: asyncio.Task[None] | None = None

    def load_model(self) -> Any:
        if self._server is None:
            model = super().load_model()
        else:
            model = RemoteWhisperModel(self._server, self.load_local_model)
        return _DecodingModel(model, self._beam_size)

    def _transcribe_text(self, pcm: bytes) -> str:
        """Same decoding and no-speech filter as pipecat's ``run_stt``, returning text."""
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        settings: Any = self.settings
        model: Any = self.whisper_model
        threshold = settings.no_speech_prob
        prompt = settings.initial_prompt if isinstance(settings.initial_prompt, str) else None
        segments, _ = model.transcribe(audio, language=settings.language, initial_prompt=prompt)
        return "".join(
            s.text + " "
            for s in segments
            if not isinstance(threshold, float) or s.no_speech_prob < threshold
        ).strip()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, QuestionContextFrame):
            settings: Any = self.settings
            settings.initial_prompt = frame.text or None
            return  # meant for STT only
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._discard_guess()
        await super().process_frame(frame, direction)

    def _discard_guess(self) -> None:
        self._generation += 1
        self._guess = None
        self._guess_task = None
        self._quiet_s = 0.0

    async def process_audio_frame(
        self, frame: InputAudioRawFrame, direction: FrameDirection
    ) -> None:
        await super().process_audio_frame(frame, direction)
        if self._speculate_after_s is None or not self.user_speaking:
            return
        samples = np.frombuffer(frame.audio, dtype=np.int16).astype(np.float32)
        loud = samples.size and float(np.sqrt(np.mean(samples**2))) > self._quiet_rms
        if loud:
            if self._guess is not None or self._guess_task is not None:
                self._discard_guess()
            self._quiet_s = 0.0
            return
        self._quiet_s += len(frame.audio) / (2 * frame.sample_rate)
        if self._quiet_s >= self._speculate_after_s and self._guess_task is None:
            snapshot = self.segment_audio()
            self._guess_task = self.create_task(
                self._speculate(snapshot, self._generation), "whisper-speculation"
            )

    async def _speculate(self, pcm: bytes, generation: int) -> None:
        text = await asyncio.to_thread(self._transcribe_text, pcm)
        if generation == self._generation:
            self._guess = (generation, text)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        task, generation = self._guess_task, self._generation
        if task is not None and not task.done():
            await asyncio.shield(task)  # started earlier than a fresh run would
        guess = self._guess
        self._discard_guess()
        if guess is None or guess[0] != generation:
            async for frame in super().run_stt(audio):
                yield frame
            return
        text = guess[1]
        if text:
            language: Any = getattr(self.settings, "language", None)
            await self.report_transcription(text, True, language)
            yield TranscriptionFrame(text, self.user_id, time_now_iso8601(), language)


def build_whisper_stt(settings: Settings) -> STTService:
    return LocalWhisperSTTService(
        speculate_after_s=0.25 if settings.whisper_speculative else None,
        server=settings.whisper_socket,
        device="cpu",
        compute_type=settings.whisper_compute_type,
        beam_size=settings.whisper_beam_size,
        ttfs_p99_latency=0.8,
        settings=WhisperSTTService.Settings(
            model=str(settings.whisper_model_path()),
            language=Language.EN,
            no_speech_prob=0.95,
        ),
    )
