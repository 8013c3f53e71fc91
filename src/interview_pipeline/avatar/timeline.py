"""When each piece of the interviewer's audio will be heard, and what the mouth does then.

Why a timeline, rather than pushing one image after each audio chunk: the output transport
writes audio into LiveKit's ``AudioSource``, which queues up to a second of it, so "audio was
written" runs up to a second ahead of "audio is heard". (Pipecat's ``sync_with_audio`` images
are released at write time, so they would run ahead by the same queue.) What *is*
predictable is playout: the source plays its queue continuously, so a chunk is heard at
``max(end of the previous chunk, moment it reached the transport)``. We sit right before the
transport, so the moment we see a chunk is the moment it arrives there. ``schedule`` applies
that rule; ``anchor`` corrects it when the transport reports (``BotStartedSpeakingFrame``)
that playback actually began later than predicted.

With ``wait_for_playback`` (set when an output transport is known to be downstream), speech
that arrives while the bot is silent is *pending*: it may be held on its way out (the launcher's
join gate keeps the greeting until the candidate arrives), so the mouth stays closed until the
transport reports playback (``playback_started``), and the pending speech starts then.

The mouth for a video frame shown at ``t`` is the loudest envelope value in
``[t - 10 ms, t + lookahead]``: the lips move a little *before* the sound, as real lips do,
never after it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Envelope resolution: one value per 10 ms of audio.
ENVELOPE_HZ = 100
#: dBFS mapped to a closed mouth and to a fully open one.
_FLOOR_DB, _FULL_DB = -46.0, -10.0


def mouth_envelope(
    pcm: bytes | np.ndarray, sample_rate: int, num_channels: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Mouth openness (0..1) and width (0 round .. 1 wide) per 10 ms of s16le audio.

    Openness follows loudness of the voiced band; fricatives (energy mostly above 3 kHz,
    "s", "f") open the mouth less than vowels of the same loudness. Width follows the
    spectral centroid of the voiced band: front vowels ("ee") have a high second formant,
    rounded ones ("oo") a low one.
    """
    samples = np.frombuffer(pcm, dtype=np.int16) if isinstance(pcm, bytes | bytearray) else pcm
    if num_channels > 1:
        samples = samples[: len(samples) // num_channels * num_channels]
        samples = samples.reshape(-1, num_channels).mean(axis=1)
    hop = max(1, sample_rate // ENVELOPE_HZ)
    n = len(samples) // hop
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    frames = samples[: n * hop].astype(np.float32).reshape(n, hop) / 32768.0
    spec = np.abs(np.fft.rfft(frames * np.hanning(hop), axis=1)) ** 2
    freqs = np.fft.rfftfreq(hop, 1.0 / sample_rate)
    total = spec.sum(axis=1) + 1e-12
    voiced = spec[:, (freqs >= 80) & (freqs < 3000)]
    high = spec[:, freqs >= 3000].sum(axis=1)
    rms = np.sqrt((frames**2).mean(axis=1) + 1e-12)
    db = 20 * np.log10(rms)
    opening = np.clip((db - _FLOOR_DB) / (_FULL_DB - _FLOOR_DB), 0.0, 1.0)
    opening *= 1.0 - 0.55 * np.clip(high / total - 0.35, 0.0, 0.65) / 0.65
    vf = freqs[(freqs >= 80) & (freqs < 3000)]
    centroid = (voiced * vf).sum(axis=1) / (voiced.sum(axis=1) + 1e-12)
    width = np.clip((centroid - 700.0) / 900.0, 0.0, 1.0)
    return opening.astype(np.float32), width.astype(np.float32)


@dataclass
class Segment:
    """A stretch of speech on the playout clock; ``clip`` set when a clip provides video."""

    start: float
    opening: np.ndarray
    width: np.ndarray
    clip: Any = None
    #: Turn marker: the first segment after silence, which ``anchor`` may move.
    first_of_turn: bool = False
    #: Not yet known to be playing (see ``wait_for_playback``): invisible, never pruned.
    pending: bool = False

    @property
    def duration(self) -> float:
        return len(self.opening) / ENVELOPE_HZ

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Sample:
    """What the face should show at one instant."""

    opening: float
    width: float
    segment: Segment | None = None
    #: Seconds into ``segment`` (for clip frames).
    offset: float = 0.0


@dataclass
class SpeechTimeline:
    lookahead_s: float = 0.03
    #: Silence between chunks shorter than this keeps a turn going (anchor does not apply).
    turn_gap_s: float = 0.3
    #: Hold speech that starts a turn until ``playback_started`` (see module docstring).
    wait_for_playback: bool = False
    _segments: deque[Segment] = field(default_factory=deque)
    _end: float = 0.0
    _playing: bool = False

    @property
    def end(self) -> float:
        """When the last scheduled audio finishes playing."""
        return self._end

    def speaking(self, t: float) -> bool:
        return any(s.start <= t < s.end and not s.pending for s in self._segments)

    def schedule(
        self,
        now: float,
        opening: np.ndarray,
        width: np.ndarray,
        *,
        clip: Any = None,
        gap_s: float = 0.0,
    ) -> Segment:
        """Queue audio that reached the transport at ``now``; see the module docstring."""
        first = now > self._end + self.turn_gap_s
        start = max(self._end + gap_s, now)
        pending = self.wait_for_playback and not self._playing
        seg = Segment(start, opening, width, clip=clip, first_of_turn=first, pending=pending)
        self._segments.append(seg)
        self._end = seg.end
        return seg

    def playback_started(self, t: float) -> float:
        """The transport began playing (``BotStartedSpeakingFrame``); returns the shift applied."""
        self._playing = True
        pending = [s for s in self._segments if s.pending]
        if not pending:
            return self.anchor(t)
        delta = t - pending[0].start
        for seg in pending:
            seg.start += delta
            seg.pending = False
        self._end = max(self._end + delta, pending[-1].end)
        return delta

    def playback_stopped(self) -> None:
        """The transport went quiet (``BotStoppedSpeakingFrame``): new speech is pending again."""
        self._playing = False

    def anchor(self, playback_started: float, tolerance_s: float = 0.015) -> float:
        """Shift the current turn later if the transport started playing it later.

        Returns the shift applied (0 when the prediction held).
        """
        turn = [s for s in self._segments if s.first_of_turn]
        if not turn:
            return 0.0
        first = turn[-1]
        delta = playback_started - first.start
        if delta <= tolerance_s:
            return 0.0
        moving = False
        for s in self._segments:
            moving = moving or s is first
            if moving:
                s.start += delta
        self._end += delta
        first.first_of_turn = False
        return delta

    def clear(self, now: float) -> None:
        """Forget queued speech (interruption): the next frame shows a closed mouth."""
        self._segments.clear()
        self._end = now
        self._playing = False

    def sample(self, t: float) -> Sample:
        """The mouth at ``t``, looking slightly ahead (see module docstring)."""
        while self._segments and self._segments[0].end < t - 1.0 and not self._segments[0].pending:
            self._segments.popleft()
        best = 0.0
        width = 0.0
        current: Segment | None = None
        lo, hi = t - 0.01, t + self.lookahead_s
        for seg in self._segments:
            if seg.pending:
                break  # everything after a pending segment is pending too
            if seg.start > hi:
                break
            if seg.end <= lo:
                continue
            if seg.start <= t < seg.end:
                current = seg
            i0 = max(0, int((lo - seg.start) * ENVELOPE_HZ))
            i1 = min(len(seg.opening), int((hi - seg.start) * ENVELOPE_HZ) + 1)
            if i1 > i0:
                k = i0 + int(np.argmax(seg.opening[i0:i1]))
                if seg.opening[k] > best:
                    best, width = float(seg.opening[k]), float(seg.width[k])
        offset = t - current.start if current is not None else 0.0
        return Sample(best, width, current, offset)
