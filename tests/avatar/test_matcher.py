"""Which TTS audio is replaced by clips (pure bookkeeping, see matcher.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from interview_pipeline.avatar.matcher import ClipMatcher, PassAudio, PlayClips

from .conftest import audio_frame

CLIPS = {"Thanks for making time today.": Path("a.mp4"), "Goodbye!": Path("b.mp4")}


def _frame() -> object:
    return audio_frame(np.zeros(2400, np.int16))


def test_all_sentences_cached_plays_clips_once_and_drops_tts_audio() -> None:
    m = ClipMatcher(CLIPS.get)
    m.on_text(
        "Thanks for making time today. Goodbye!", ["Thanks for making time today.", "Goodbye!"]
    )
    first = m.on_audio(_frame())  # type: ignore[arg-type]
    assert isinstance(first[0], PlayClips) and [p for _, p in first[0].clips] == [
        Path("a.mp4"),
        Path("b.mp4"),
    ]
    assert m.on_audio(_frame()) == []  # type: ignore[arg-type]
    assert m.on_spoken("Thanks for making time today. Goodbye!") == []


def test_uncached_utterance_passes_through() -> None:
    m = ClipMatcher(CLIPS.get)
    m.on_text("How are you?", ["How are you?"])
    assert isinstance(m.on_audio(_frame())[0], PassAudio)  # type: ignore[arg-type]


def test_mixed_utterance_holds_clip_sentences_until_frame_count_confirms() -> None:
    m = ClipMatcher(CLIPS.get)
    text = "Hi Sam. Thanks for making time today."
    m.on_text(text, ["Hi Sam.", "Thanks for making time today."])
    f1, f2 = _frame(), _frame()
    assert m.on_audio(f1) == [PassAudio(f1)]  # type: ignore[arg-type]  # name sentence: at once
    assert m.on_audio(f2) == []  # type: ignore[arg-type]  # clip sentence: held
    out = m.on_spoken(text)
    assert len(out) == 1 and isinstance(out[0], PlayClips) and out[0].frame is f2


def test_mixed_utterance_with_unexpected_frame_count_plays_tts_audio() -> None:
    m = ClipMatcher(CLIPS.get)
    text = "Hi Sam. Thanks for making time today."
    m.on_text(text, ["Hi Sam.", "Thanks for making time today."])
    frames = [_frame() for _ in range(3)]  # not one per sentence: cannot place the clip
    outs = [m.on_audio(f) for f in frames]  # type: ignore[arg-type]
    assert outs[0] == [PassAudio(frames[0])] and outs[1] == outs[2] == []
    assert m.on_spoken(text) == [PassAudio(frames[1]), PassAudio(frames[2])]


def test_word_level_tts_text_disables_clips() -> None:
    m = ClipMatcher(CLIPS.get)
    m.on_text("Hi Sam. Goodbye!", ["Hi Sam.", "Goodbye!"])
    f1, f2 = _frame(), _frame()
    m.on_audio(f1)  # type: ignore[arg-type]
    m.on_audio(f2)  # type: ignore[arg-type]
    assert m.on_spoken("Hi") == [PassAudio(f2)]  # held audio is released, never lost
    assert not m.enabled


def test_interruption_voids_held_audio() -> None:
    m = ClipMatcher(CLIPS.get)
    m.on_text("Hi Sam. Goodbye!", ["Hi Sam.", "Goodbye!"])
    m.on_audio(_frame())  # type: ignore[arg-type]
    m.on_audio(_frame())  # type: ignore[arg-type]
    m.reset()
    assert m.on_stopped() == [] and m.pending() == []
