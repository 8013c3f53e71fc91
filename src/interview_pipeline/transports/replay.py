"""Replay transport: plays recorded candidate answers into the pipeline, turn by turn.

It behaves like a live microphone: 20 ms frames at real-time pace, silence between answers,
so VAD, Smart Turn and the conductor see exactly what they would see in a room. Answer k
starts once the interviewer has stopped speaking (and stayed silent) for that answer's
thinking delay; if the interviewer starts again inside the delay, the wait starts over.
An answer with ``barge_in_after_s`` instead starts that long into the interviewer's next
line, talking over it, to exercise interruptions.
The output side plays audio at real-time pace (it is the clock for "when did the candidate
hear it") and keeps no audio: recording is the recorder's job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputImageRawFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

FRAME_MS = 20


@dataclass
class ReplayAnswer:
    """One candidate answer: mono int16 PCM at the replay rate, and the pause before it."""

    pcm: np.ndarray
    think_s: float
    text: str | None = None
    #: Where speech really ends inside ``pcm`` (seconds), trailing silence excluded.
    speech_end_s: float | None = None
    #: Barge in: start this many seconds after the interviewer starts speaking, without
    #: waiting for them to finish (``think_s`` is then unused).
    barge_in_after_s: float | None = None


@dataclass
class AnswerTiming:
    index: int
    #: Seconds since the pipeline started.
    start: float
    end: float
    speech_end: float


@dataclass
class ReplayLog:
    """What the replayed candidate did and heard, on the pipeline's clock."""

    t0: float = 0.0
    answers: list[AnswerTiming] = field(default_factory=list)
    bot_started: list[float] = field(default_factory=list)
    bot_stopped: list[float] = field(default_factory=list)
    video_frames: int = 0
    finished_script: bool = False

    def now(self) -> float:
        return time.monotonic() - self.t0


class ReplayInputTransport(BaseInputTransport):
    def __init__(self, transport: ReplayTransport, params: TransportParams):
        super().__init__(params, name="ReplayInput")
        self._transport = transport
        self._task: asyncio.Task | None = None
        self._interviewer_speaking = False
        self._bot_spoke_once = False
        self._silent_since: float | None = None
        self._speaking_since: float | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._transport.log.t0 = time.monotonic()
        if not self._task:
            self._task = self.create_task(self._mic(), "replay-mic")

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._stop_mic()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._stop_mic()

    async def _stop_mic(self) -> None:
        if self._task:
            await self.cancel_task(self._task)
            self._task = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        # Upstream speaking frames from the output transport tell us when the interviewer
        # has the floor; answers wait for silence.
        log = self._transport.log
        if isinstance(frame, BotStartedSpeakingFrame):
            self._interviewer_speaking, self._bot_spoke_once = True, True
            self._silent_since = None
            self._speaking_since = time.monotonic()
            log.bot_started.append(log.now())
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._interviewer_speaking = False
            self._silent_since = time.monotonic()
            log.bot_stopped.append(log.now())

    def _ready_for(self, answer: ReplayAnswer) -> bool:
        if answer.barge_in_after_s is not None:
            # Into fresh interviewer speech (not the line the last answer talked over).
            if (
                not (self._interviewer_speaking and self._bot_spoke_once)
                or self._speaking_since is None
            ):
                return False
            return time.monotonic() - self._speaking_since >= answer.barge_in_after_s
        if self._interviewer_speaking or not self._bot_spoke_once or self._silent_since is None:
            return False
        return time.monotonic() - self._silent_since >= answer.think_s

    async def _mic(self) -> None:
        """Real-time microphone: silence, or the next answer once its turn has come."""
        rate = self._transport.sample_rate
        samples = rate * FRAME_MS // 1000
        silence = bytes(samples * 2)
        answers = list(self._transport.answers)
        log = self._transport.log
        index, cursor = 0, 0
        current: ReplayAnswer | None = None
        next_tick = time.monotonic()
        while True:
            if current is None and index < len(answers) and self._ready_for(answers[index]):
                current, cursor = answers[index], 0
                start = log.now()
                log.answers.append(AnswerTiming(index, start, start, start))
                self._transport.notify(f"answer {index + 1} starts")
            if current is not None:
                chunk = current.pcm[cursor : cursor + samples]
                cursor += samples
                audio = chunk.tobytes().ljust(samples * 2, b"\0")
                if cursor >= len(current.pcm):
                    timing = log.answers[-1]
                    timing.end = log.now()
                    speech_end = current.speech_end_s
                    timing.speech_end = timing.start + (
                        speech_end if speech_end is not None else len(current.pcm) / rate
                    )
                    current, index = None, index + 1
                    # Require fresh interviewer speech before the next answer.
                    self._bot_spoke_once = False
                    if index == len(answers):
                        log.finished_script = True
            else:
                audio = silence
            await self.push_audio_frame(
                InputAudioRawFrame(audio=audio, sample_rate=rate, num_channels=1)
            )
            next_tick += FRAME_MS / 1000
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))


class ReplayOutputTransport(BaseOutputTransport):
    """Plays audio at real-time pace and counts video frames; keeps nothing in memory."""

    def __init__(self, transport: ReplayTransport, params: TransportParams):
        super().__init__(params, name="ReplayOutput")
        self._transport = transport
        self._next_send_time = 0.0
        self._interval = 0.0

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._interval = self.audio_chunk_size / (self.sample_rate * 2)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        # Emulate a sound card: block for the chunk's duration.
        interval = len(frame.audio) / (frame.sample_rate * 2 * frame.num_channels)
        now = time.monotonic()
        if self._next_send_time <= now:
            self._next_send_time = now
        self._next_send_time += interval
        await asyncio.sleep(max(0.0, self._next_send_time - now - interval))
        return True

    async def write_video_frame(self, frame: OutputImageRawFrame) -> bool:
        self._transport.log.video_frames += 1
        return True


class ReplayTransport(BaseTransport):
    """A transport whose "candidate" is a list of recorded answers."""

    def __init__(
        self,
        answers: list[ReplayAnswer],
        *,
        params: TransportParams,
        sample_rate: int = 16000,
        on_progress: Callable[[str], None] | None = None,
    ):
        super().__init__(name="ReplayTransport")
        self.answers = answers
        self.sample_rate = sample_rate
        self.params = params
        self.log = ReplayLog()
        self._on_progress = on_progress
        self._input: ReplayInputTransport | None = None
        self._output: ReplayOutputTransport | None = None

    def notify(self, message: str) -> None:
        if self._on_progress:
            self._on_progress(message)

    def input(self) -> ReplayInputTransport:
        if self._input is None:
            self._input = ReplayInputTransport(self, self.params)
        return self._input

    def output(self) -> ReplayOutputTransport:
        if self._output is None:
            self._output = ReplayOutputTransport(self, self.params)
        return self._output
