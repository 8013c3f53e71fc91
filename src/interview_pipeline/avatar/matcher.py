"""Which TTS audio a cached clip replaces: the bookkeeping, free of any I/O.

What Pipecat 1.14 gives us, observed with Piper (and true of every TTS without word
timestamps): for each utterance the TTS pushes an ``AggregatedTextFrame`` (the text it is
about to speak) *before* its audio, then the audio, then a ``TTSTextFrame`` with the same
text *after* the audio. A ``TTSSpeakFrame`` is one utterance (not split into sentences); LLM
text is one utterance per sentence. Piper yields one audio frame per sentence.

Rules, from safest to cleverest:

- every sentence of the utterance has a clip → the first audio frame is replaced by all the
  clips back to back, and the rest of the utterance's TTS audio is dropped;
- no sentence has a clip → audio passes through (local lip-sync);
- some do (typically an opening whose first sentence greets the candidate by name): frames
  for leading sentences without a clip pass through at once; from the first frame that
  would be a clip sentence on, frames are *held* until the ``TTSTextFrame`` shows how many
  frames the utterance had. One frame per sentence → held frames of clip sentences become
  clips; anything else → the held frames play as they are. A wrong guess therefore costs
  nothing but the clip: it can never drop or duplicate speech. Holding costs no audible delay
  because synthesis (Piper RTF ≈ 0.05) finishes long before the first sentence is heard.

A ``TTSTextFrame`` that is not the utterance's text means the TTS reports words (word
timestamps, e.g. ElevenLabs): clips are then disabled for the session, logged once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger
from pipecat.frames.frames import TTSAudioRawFrame

from interview_pipeline.avatar.clips import normalise_text


@dataclass
class Utterance:
    text: str
    sentences: list[str]
    clips: list[Path | None]
    frames: int = 0
    started: bool = False
    holding: bool = False
    held: list[tuple[int, TTSAudioRawFrame]] = field(default_factory=list)

    @property
    def all_clips(self) -> bool:
        return bool(self.clips) and all(c is not None for c in self.clips)

    @property
    def any_clip(self) -> bool:
        return any(c is not None for c in self.clips)


@dataclass(frozen=True)
class PassAudio:
    """Play the TTS audio; the local renderer lip-syncs it."""

    frame: TTSAudioRawFrame


@dataclass(frozen=True)
class PlayClips:
    """Play these clips (their audio and video) where ``frame`` would have played."""

    clips: list[tuple[str, Path]]
    frame: TTSAudioRawFrame
    utterance: Utterance


Action = PassAudio | PlayClips


class ClipMatcher:
    def __init__(self, find: Callable[[str], Path | None] | None) -> None:
        self._find = find
        self.enabled = find is not None
        self._pending: deque[Utterance] = deque()

    def on_text(self, text: str, sentences: list[str]) -> Utterance:
        """An utterance the TTS is about to speak, split as its aggregator would."""
        clips: list[Path | None] = (
            [self._find(s) for s in sentences] if self.enabled and self._find else []
        )
        u = Utterance(normalise_text(text), sentences, clips)
        self._pending.append(u)
        return u

    def on_audio(self, frame: TTSAudioRawFrame) -> list[Action]:
        u = self._pending[0] if self._pending else None
        if not self.enabled or u is None or not u.any_clip:
            if u is not None:
                u.frames += 1
            return [PassAudio(frame)]
        index = u.frames
        u.frames += 1
        if u.all_clips:
            if u.started:
                return []
            u.started = True
            return [PlayClips(self._pairs(u, range(len(u.sentences))), frame, u)]
        if not u.holding and index < len(u.clips) and u.clips[index] is None:
            return [PassAudio(frame)]
        u.holding = True
        u.held.append((index, frame))
        return []

    def on_spoken(self, text: str) -> list[Action]:
        """A ``TTSTextFrame``: the end of an utterance's audio (or a word; see module doc)."""
        if not self._pending:
            return []
        u = self._pending[0]
        if normalise_text(text) != u.text:
            if self.enabled and any(p.any_clip for p in self._pending):
                logger.info("avatar: TTS reports words, not sentences; clips disabled")
            self.enabled = False
            return self._flush_all()
        self._pending.popleft()
        return self._resolve(u, confirmed=u.frames == len(u.sentences))

    def on_stopped(self) -> list[Action]:
        """End of a TTS context: settle utterances that got audio but no closing text."""
        out: list[Action] = []
        while self._pending and (self._pending[0].frames or self._pending[0].started):
            out += self._resolve(self._pending.popleft(), confirmed=False)
        return out

    def demote(self, u: Utterance) -> None:
        """A clip failed to load: the rest of this utterance plays its TTS audio."""
        u.clips = [None] * len(u.clips)

    def pending(self) -> list[Utterance]:
        return list(self._pending)

    def reset(self) -> None:
        """Interruption: everything pending is void (held audio is dropped, not played)."""
        self._pending.clear()

    # ---------------------------------------------------------------------------------------
    @staticmethod
    def _pairs(u: Utterance, indices: range | list[int]) -> list[tuple[str, Path]]:
        pairs = []
        for i in indices:
            clip = u.clips[i]
            if clip is not None:
                pairs.append((u.sentences[i], clip))
        return pairs

    def _resolve(self, u: Utterance, *, confirmed: bool) -> list[Action]:
        out: list[Action] = []
        for index, frame in u.held:
            if confirmed and index < len(u.clips) and u.clips[index] is not None:
                out.append(PlayClips(self._pairs(u, [index]), frame, u))
            else:
                out.append(PassAudio(frame))
        u.held.clear()
        return out

    def _flush_all(self) -> list[Action]:
        out: list[Action] = []
        for u in self._pending:
            out += [PassAudio(f) for _, f in u.held]
        self._pending.clear()
        return out
