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
  transcript and STT costs nothing on the voice-to-voice path;
- transcription in pieces while the candidate speaks (``chunk_s``): Whisper's cost grows with
  the length of what it hears, so a long answer's transcript would still take most of a
  second after it ended. At a short gap between words, once ``chunk_s`` of speech is not yet
  transcribed, that part is transcribed in a thread while the candidate goes on; at the end
  only the rest is. Whisper ends every piece with a full stop; it is kept only where the
  candidate paused as at a sentence's end (patience counts sentences).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
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

#: Quiet long enough to be a gap between words (VAD's stop wait is longer).
_WORD_GAP_S = 0.1
#: Speech after the last piece shorter than this is not worth a transcription of its own.
_MIN_REST_S = 0.2
#: The end of a segment is always transcribed with at least this much audio before it:
#: alone, a short last piece ("and, um") comes back empty or as a made-up sentence, and
#: those are the very words that tell patience the answer goes on.
_MIN_TAIL_S = 2.0
#: A pause this long at a cut is taken as the end of a sentence (Whisper's full stop stays).
_SENTENCE_GAP_S = 0.18
_CLOSING_STOP = re.compile(r"[.!?]+$")


@dataclass
class _Pieces:
    """One VAD segment's transcript so far, taken piece by piece while the candidate speaks."""

    texts: list[str] = field(default_factory=list)
    #: Bytes of the segment's audio the pieces cover.
    covered: int = 0
    #: Where each piece ends (bytes into the segment).
    ends: list[int] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    #: Loud audio arrived after the last piece was cut: there is more to transcribe.
    speech_after: bool = True
    #: The silence at each cut, once speech went on after it.
    gaps: list[float] = field(default_factory=list)

    def keep_before(self, limit: int) -> int:
        """Drop the pieces that end after ``limit``; where the rest of the audio starts."""
        while self.ends and self.ends[-1] > limit:
            self.ends.pop()
            self.texts.pop()
        del self.gaps[len(self.texts) :]
        self.covered = self.ends[-1] if self.ends else 0
        return self.covered

    def joined(self, tail: str) -> str:
        parts = [t.strip() for t in (*self.texts, tail) if t.strip()]
        out: list[str] = []
        for i, text in enumerate(parts):
            if out and out[-1][-1:] not in ".!?" and text[1:2].islower():
                text = text[0].lower() + text[1:]  # "... plan" + "And if" → "plan and if"
            gap = self.gaps[i] if i < len(self.gaps) else 0.0
            last = i == len(parts) - 1
            out.append(text if last or gap >= _SENTENCE_GAP_S else _CLOSING_STOP.sub("", text))
        return " ".join(out)


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
        chunk_s: float | None = None,
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
        self._chunk_s = chunk_s
        self._pieces = _Pieces()

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
            self._pieces = _Pieces()  # a new segment: pipecat's buffer starts over
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
            if not self._pieces.speech_after:
                self._pieces.gaps.append(self._quiet_s)  # how long the pause at the cut was
            self._quiet_s = 0.0
            self._pieces.speech_after = True
            return
        self._quiet_s += len(frame.audio) / (2 * frame.sample_rate)
        self._maybe_take_piece(frame.sample_rate)
        if self._quiet_s >= self._speculate_after_s and self._guess_task is None:
            snapshot = self.segment_audio()
            self._guess_task = self.create_task(
                self._speculate(snapshot, self._generation), "whisper-speculation"
            )

    def _maybe_take_piece(self, sample_rate: int) -> None:
        """At a gap between words, transcribe the speech not yet transcribed, in a thread."""
        pieces = self._pieces
        if self._chunk_s is None or pieces.task is not None or self._quiet_s < _WORD_GAP_S:
            return
        end = len(self.segment_audio())
        if end - pieces.covered < self._chunk_s * sample_rate * 2:
            return
        pcm = self.segment_audio()[pieces.covered : end]
        pieces.speech_after = False
        pieces.task = self.create_task(self._take_piece(pieces, pcm, end), "whisper-piece")

    async def _take_piece(self, pieces: _Pieces, pcm: bytes, end: int) -> None:
        text = await asyncio.to_thread(self._transcribe_text, pcm)
        pieces.texts.append(text)
        pieces.ends.append(end)
        pieces.covered, pieces.task = end, None

    async def _text_of(self, pcm: bytes) -> str:
        """The segment's transcript: the pieces taken while speaking, then the rest."""
        pieces = self._pieces
        if pieces.task is not None:
            await asyncio.shield(pieces.task)
        if pieces.speech_after:
            # The end is what patience reads: never from a few words heard alone.
            pieces = _Pieces(pieces.texts[:], ends=pieces.ends[:], gaps=pieces.gaps[:])
            pieces.keep_before(len(pcm) - int(_MIN_TAIL_S * self.sample_rate) * 2)
        if not pieces.texts:
            return await asyncio.to_thread(self._transcribe_text, pcm)
        rest = pcm[pieces.covered :]
        tail = ""
        if pieces.speech_after and len(rest) >= _MIN_REST_S * 2 * self.sample_rate:
            tail = await asyncio.to_thread(self._transcribe_text, rest)
        return pieces.joined(tail)

    async def _speculate(self, pcm: bytes, generation: int) -> None:
        text = await self._text_of(pcm)
        if generation == self._generation:
            self._guess = (generation, text)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        task, generation = self._guess_task, self._generation
        if task is not None and not task.done():
            await asyncio.shield(task)  # started earlier than a fresh run would
        guess = self._guess
        self._discard_guess()
        if guess is None or guess[0] != generation:
            if not self._pieces.texts and self._pieces.task is None:
                async for frame in super().run_stt(audio):
                    yield frame
                return
            text = await self._text_of(audio)
        else:
            text = guess[1]
        if text:
            language: Any = getattr(self.settings, "language", None)
            await self.report_transcription(text, True, language)
            yield TranscriptionFrame(text, self.user_id, time_now_iso8601(), language)


def build_whisper_stt(settings: Settings) -> STTService:
    return LocalWhisperSTTService(
        speculate_after_s=0.25 if settings.whisper_speculative else None,
        chunk_s=settings.whisper_chunk_s if settings.whisper_speculative else None,
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
