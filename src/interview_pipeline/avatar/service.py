"""HedraVideoService: the avatar stage between TTS and transport out.

How video stays in sync with the audio that is *heard* (target |offset| ≤ 45 ms at the
receiver):

- This stage owns a frame clock: a task ticking at the persona's fps on absolute deadlines
  (no drift). Each tick renders the face for one instant and sends it; while nothing is being
  said only every n-th tick does (``avatar.listening_fps``), so the encoder works less.
- Where the audio is at that instant comes from ``SpeechTimeline``: each TTS chunk is
  scheduled at ``max(end of queued audio, now)``, the way the output transport's real-time
  audio writes play it out. The start of a turn is taken from the transport's
  ``BotStartedSpeakingFrame`` when we write to it directly (audio may be held on the way, e.g.
  the greeting at the join gate), else re-anchored by it if later than predicted (timeline.py).
- Frames go straight to the output transport (``write_video_frame``; the first
  ``BaseOutputTransport`` downstream is found at start, or pass ``video_out``), not through
  Pipecat's video queue: in ``video_out_is_live`` mode that
  queue never drops, so the frames made while LiveKit connects stay queued ahead of every later
  frame (measured: a permanent ~190 ms lag); in the default mode its loop samples the latest
  image at ~23 fps. It also keeps frames out of anything between us and the transport (the
  join gate would hold 25 frames a second). With no transport downstream (tests), frames are
  pushed downstream instead.
- A frame written at ``tick`` shows the mouth for ``tick + video_lead_s``. Receivers buffer audio
  longer than video (jitter buffer, Opus framing): measured over LiveKit, audio reached the
  candidate 30–90 ms later than video written at the same moment, so the default lead for
  direct writes is −50 ms (pushed frames get +1 frame, the transport's pacing delay).
- Openness looks 30 ms ahead (lips move before the sound); an ``InterruptionFrame`` clears the
  timeline, so the very next tick draws a closed mouth.

Scripted sentences with a cached Hedra clip (persona ``avatar.renderer: hedra``) play the
clip instead of the TTS audio: its audio goes downstream in place of the TTS frames and its
frames replace the local face, cross-faded over three frames at each end so switching
between clip and local rendering shows no jump. See matcher.py for which audio is replaced.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    AggregatedTextFrame,
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_output import BaseOutputTransport

from interview_pipeline.avatar.clips import (
    ClipCache,
    ClipLibrary,
    LoadedClip,
    blend,
    close_loaded,
    load_clip,
    split_sentences,
    voice_key,
)
from interview_pipeline.avatar.face import (
    DEFAULT_LAYOUT,
    pixel_digest,
    prepare_face,
)
from interview_pipeline.avatar.local import FaceRenderer, LocalFaceRenderer
from interview_pipeline.avatar.matcher import Action, ClipMatcher, PassAudio, PlayClips
from interview_pipeline.avatar.metrics import CLIP_PLAYS, FRAMES_SKIPPED
from interview_pipeline.avatar.pacing import FramePacer, listening_nod
from interview_pipeline.avatar.timeline import Segment, SpeechTimeline, mouth_envelope
from interview_pipeline.config import Settings, TTSProvider
from interview_pipeline.personas.schema import AvatarRenderer, Persona
from interview_pipeline.turns.frames import ListeningCueFrame

#: Cross-fade between clip frames and the local face at each end of a clip.
_FADE_S = 0.12
#: Clip frames are taken for 50 ms ahead: half a frame (nearest frame, not the one before) plus
#: the 30 ms look-ahead local lip-sync uses, so both paths meet the receiver equally early.
_CLIP_LEAD_S = 0.05
#: Silence between consecutive clips of one utterance.
_CLIP_GAP_S = 0.15
#: How far ahead of write time a directly written frame is rendered (see module docstring).
DIRECT_LEAD_S = -0.05


class HedraVideoService(FrameProcessor):
    """Talking-head video for the interviewer; pass-through when the persona has no avatar."""

    def __init__(
        self,
        *,
        persona: Persona,
        portrait: Path | None,
        settings: Settings,
        renderer: FaceRenderer | None = None,
        clip_library: ClipLibrary | None = None,
        voice: str | None = None,
        video_out: BaseOutputTransport | None = None,
        find_video_out: bool = True,
        video_lead_s: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(name="HedraVideoService", **kwargs)
        self._persona = persona
        self._portrait = portrait
        self._settings = settings
        spec = persona.avatar
        self.enabled = spec.renderer is not AvatarRenderer.NONE
        self.width, self.height, self.fps = spec.width, spec.height, spec.fps
        self._video_out = video_out
        self._find_video_out = find_video_out
        self._lead_override = video_lead_s
        self._lead = 0.0
        self._renderer = renderer
        self._library = clip_library
        if self.enabled and (renderer is None or clip_library is None):
            image, face = prepare_face(
                portrait,
                self.width,
                self.height,
                persona.id,
                settings.resolved_face_cache_dir(),
                photo=spec.style == "photo",
            )
            if self._renderer is None:
                layout = DEFAULT_LAYOUT if portrait is None else None
                self._renderer = LocalFaceRenderer(
                    self.width, self.height, image=image, layout=layout, face=face
                )
            if self._library is None and spec.renderer is AvatarRenderer.HEDRA:
                tts = "elevenlabs" if settings.resolved_tts() is TTSProvider.ELEVENLABS else "piper"
                self._library = ClipLibrary(
                    ClipCache(settings.resolved_clip_cache_dir()),
                    voice=voice or voice_key(persona, tts),
                    portrait_digest=pixel_digest(image),
                    width=self.width,
                    height=self.height,
                )
        self._timeline = SpeechTimeline()
        self._matcher = ClipMatcher(self._library.find if self._library else None)
        self._loads: dict[Path, asyncio.Future[LoadedClip]] = {}
        self._playing: list[tuple[Segment, LoadedClip]] = []
        self._clock_task: asyncio.Task[None] | None = None
        self._mouth = 0.0
        #: Since when the interviewer is waiting for the candidate to go on (nodding).
        self._listening_since: float | None = None
        self._load_failures_logged = False
        self._pacer = FramePacer(spec.fps, spec.idle_fps)
        #: Last frame's state, for tests and benchmarks (mouth, source, show time).
        self.last_frame_info: dict[str, float | str] = {}

    # --- pipeline --------------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not self.enabled:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._start_clock()
            return
        if isinstance(frame, CancelFrame) or (
            isinstance(frame, EndFrame) and self._video_out is None
        ):
            await self._stop()
            await self.push_frame(frame, direction)
            return
        # An EndFrame overtakes playback: the transport still plays the last line (often the
        # closing) after it has passed us, so with direct writes the clock runs to cleanup().
        if isinstance(frame, InterruptionFrame):
            self._interrupt()
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, ListeningCueFrame):
            self._listening_since = time.monotonic() if frame.listening else None
            await self.push_frame(frame, direction)
            return
        if direction is FrameDirection.UPSTREAM:
            if isinstance(frame, BotStartedSpeakingFrame):
                shift = self._timeline.playback_started(time.monotonic())
                if shift > 0.015:
                    logger.debug(f"{self}: playback started {shift * 1000:.0f} ms after arrival")
            elif isinstance(frame, BotStoppedSpeakingFrame):
                self._timeline.playback_stopped()
            await self.push_frame(frame, direction)
            return
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, TTSAudioRawFrame):
                await self._run(self._matcher.on_audio(frame))
                return
            if isinstance(frame, TTSTextFrame):
                await self._run(self._matcher.on_spoken(frame.text))
                self._release_unused()
            elif isinstance(frame, AggregatedTextFrame) and frame.will_be_spoken:
                await self._on_text(frame.text)
            elif isinstance(frame, TTSStoppedFrame):
                await self._run(self._matcher.on_stopped())
                self._release_unused()
        await self.push_frame(frame, direction)

    async def _on_text(self, text: str) -> None:
        if not self._matcher.enabled:
            return
        sentences = await split_sentences(text)
        utterance = self._matcher.on_text(text, sentences)
        for sentence, clip in zip(sentences, utterance.clips, strict=True):
            if clip is not None and clip not in self._loads:
                self._loads[clip] = self._prefetch(sentence, clip)

    def _prefetch(self, text: str, path: Path) -> asyncio.Future[LoadedClip]:
        """Start decoding as soon as the text is known: well before its audio arrives."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(None, load_clip, text, path, 0, self.width, self.height)

    def _release_unused(self) -> None:
        """Close prefetched clips no pending utterance will play (their decoders hold threads)."""
        wanted = {c for u in self._matcher.pending() for c in u.clips if c is not None}
        for path in [p for p in self._loads if p not in wanted]:
            self._loads.pop(path).add_done_callback(close_loaded)

    async def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, PassAudio):
                self._schedule_audio(action.frame)
                await self.push_frame(action.frame)
            elif isinstance(action, PlayClips):
                await self._play_clips(action)

    def _schedule_audio(self, frame: TTSAudioRawFrame) -> None:
        opening, width = mouth_envelope(frame.audio, frame.sample_rate, frame.num_channels)
        self._timeline.schedule(time.monotonic(), opening, width)

    async def _play_clips(self, action: PlayClips) -> None:
        loaded: list[LoadedClip] = []
        try:
            for text, path in action.clips:
                fut = self._loads.pop(path, None) or self._prefetch(text, path)
                loaded.append(await fut)
        except Exception as exc:
            CLIP_PLAYS.labels(result="failed").inc()
            if not self._load_failures_logged:
                logger.warning(f"{self}: clip unusable, lip-syncing locally instead: {exc}")
                self._load_failures_logged = True
            for clip in loaded:
                clip.close()
            self._matcher.demote(action.utterance)
            await self._run([PassAudio(action.frame)])
            return
        rate = action.frame.sample_rate
        now = time.monotonic()
        pieces: list[np.ndarray] = []
        for i, clip in enumerate(loaded):
            audio = clip.audio
            if clip.sample_rate != rate:
                import soxr

                audio = soxr.resample(audio, clip.sample_rate, rate).astype(np.int16)
            gap = _CLIP_GAP_S if i else 0.0
            if gap:
                pieces.append(np.zeros(int(gap * rate), np.int16))
            pieces.append(audio)
            opening, width = mouth_envelope(audio, rate)
            seg = self._timeline.schedule(now, opening, width, clip=clip, gap_s=gap)
            self._playing.append((seg, clip))
            CLIP_PLAYS.labels(result="played").inc()
        out = TTSAudioRawFrame(
            np.concatenate(pieces).tobytes(), rate, 1, context_id=action.frame.context_id
        )
        await self.push_frame(out)

    def _interrupt(self) -> None:
        self._timeline.clear(time.monotonic())
        self._matcher.reset()
        self._mouth = 0.0
        for fut in self._loads.values():
            fut.add_done_callback(close_loaded)
        self._loads.clear()
        for _, clip in self._playing:
            clip.close()
        self._playing.clear()

    # --- frame clock -----------------------------------------------------------------------
    def _find_output(self) -> BaseOutputTransport | None:
        """The output transport downstream (through gates, recorders...), if any."""
        node = self.next
        for _ in range(16):
            if node is None or isinstance(node, BaseOutputTransport):
                return node
            node = node.next
        return None

    def _start_clock(self) -> None:
        if self._video_out is None and self._find_video_out:
            self._video_out = self._find_output()
        direct = self._video_out is not None
        default = DIRECT_LEAD_S if direct else 1.0 / self.fps
        self._lead = default if self._lead_override is None else self._lead_override
        # Writing to the transport ourselves, we know it reports playback: trust that over
        # arrival times (something between us and it, like the join gate, may hold audio).
        self._timeline.wait_for_playback = direct
        logger.debug(
            f"{self}: {'writing to ' + str(self._video_out) if direct else 'pushing'} video"
        )
        if self._clock_task is None:
            self._clock_task = self.create_task(self._clock(), name="avatar-clock")

    async def cleanup(self) -> None:
        await self._stop()
        await super().cleanup()

    async def _stop(self) -> None:
        if self._clock_task is not None:
            await self.cancel_task(self._clock_task)
            self._clock_task = None
        self._interrupt()

    async def _clock(self) -> None:
        period = 1.0 / self.fps
        origin = time.monotonic()
        tick = 0
        while True:
            deadline = origin + tick * period
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -2 * period:  # the loop stalled: skip frames rather than burst
                skipped = int(-delay / period)
                FRAMES_SKIPPED.inc(skipped)
                tick += skipped
                continue
            t = deadline + self._lead
            if self._idle(t) and self._pacer.skip(tick, deadline, self._state(0.0, t)):
                tick += 1  # a still face needs fewer frames; each one skipped is not encoded
                continue
            frame = self.render(t)
            self._pacer.sent(deadline)
            if self._video_out is not None:
                await self._video_out.write_video_frame(frame)
            else:
                await self.push_frame(frame)
            tick += 1

    def _idle(self, t: float) -> bool:
        """Nothing is said or about to be at ``t`` (any queued audio keeps the full rate)."""
        return self._mouth == 0.0 and not self._playing and t >= self._timeline.end

    def _state(self, mouth: float, t: float, wide: float = 0.0) -> tuple[object, ...] | None:
        state = getattr(self._renderer, "state", None)
        return state(mouth, t, wide=wide, nod=self._nod(t)) if state else None

    def _nod(self, t: float) -> float:
        return listening_nod(t - self._listening_since) if self._listening_since else 0.0

    def render(self, t: float) -> OutputImageRawFrame:
        """The frame to show at monotonic time ``t`` (public for tests and the benchmark)."""
        assert self._renderer is not None
        while (
            self._playing and not self._playing[0][0].pending and self._playing[0][0].end < t - 0.5
        ):
            self._playing.pop(0)[1].close()
        sample = self._timeline.sample(t)
        target = sample.opening
        # Open at once; close over ~2 frames (a mouth does not snap shut, but must not trail).
        self._mouth = target if target >= self._mouth else 0.3 * self._mouth + 0.7 * target
        if self._mouth < 0.04:
            self._mouth = 0.0
        source = "speech" if sample.segment is not None or self._mouth else "idle"
        nod = self._nod(t)
        image = self._renderer.frame(self._mouth, t, wide=sample.width, nod=nod)
        self._pacer.shown = self._state(self._mouth, t, sample.width)
        clip = sample.segment.clip if sample.segment is not None else None
        if clip is not None:
            clip_frame = clip.video.frame_at(sample.offset + _CLIP_LEAD_S)
            if clip_frame is not None:
                edge = min(sample.offset, sample.segment.duration - sample.offset)  # type: ignore[union-attr]
                alpha = max(0.0, min(1.0, edge / _FADE_S))
                image = blend(clip_frame, image, alpha)
                source = "clip"
        frame = OutputImageRawFrame(image=image, size=(self.width, self.height), format="RGB")
        info: dict[str, float | str] = {"mouth": self._mouth, "source": source, "t": t}
        frame.metadata["avatar"] = info
        self.last_frame_info = info
        return frame
