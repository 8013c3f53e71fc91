"""Audio → mouth envelope and the playout clock model."""

from __future__ import annotations

import numpy as np

from interview_pipeline.avatar.timeline import ENVELOPE_HZ, SpeechTimeline, mouth_envelope

from .conftest import SR, tone


def test_opening_follows_loudness() -> None:
    pcm = np.concatenate([tone(0.3, a) for a in (0.02, 0.1, 0.3, 0.0, 0.6)])
    opening, _ = mouth_envelope(pcm.tobytes(), SR)
    assert len(opening) == 150  # 10 ms windows
    means = [float(opening[i * 30 + 5 : (i + 1) * 30 - 5].mean()) for i in range(5)]
    assert means[3] == 0.0  # silence: closed
    assert means[0] < means[1] < means[2] <= means[4]


def test_hiss_opens_less_than_a_vowel_of_equal_loudness() -> None:
    rng = np.random.default_rng(1)
    hiss = rng.normal(0, 1, SR // 2)
    hiss = np.fft.irfft(np.fft.rfft(hiss) * (np.fft.rfftfreq(len(hiss), 1 / SR) > 4000))
    hiss = (hiss / np.sqrt((hiss**2).mean()) * 0.1 * 32767).astype(np.int16)
    vowel = tone(0.5, 0.1 * np.sqrt(2))
    assert mouth_envelope(hiss, SR)[0].mean() < 0.8 * mouth_envelope(vowel, SR)[0].mean()


def _env(seconds: float, value: float = 1.0) -> np.ndarray:
    return np.full(int(seconds * ENVELOPE_HZ), value, np.float32)


def test_chunks_queue_back_to_back_and_gaps_restart_at_arrival() -> None:
    tl = SpeechTimeline()
    a = tl.schedule(100.0, _env(1.0), _env(1.0))
    b = tl.schedule(100.2, _env(0.5), _env(0.5))  # arrives while a is playing: queued
    assert (a.start, b.start) == (100.0, 101.0)
    c = tl.schedule(105.0, _env(0.5), _env(0.5))  # after silence: plays on arrival
    assert c.start == 105.0 and c.first_of_turn


def test_mouth_leads_audio_slightly_never_lags() -> None:
    tl = SpeechTimeline(lookahead_s=0.03)
    tl.schedule(10.0, _env(0.5), _env(0.5))
    assert tl.sample(9.98).opening == 1.0  # 20 ms early: already open
    assert tl.sample(9.9).opening == 0.0
    assert tl.sample(10.49).opening == 1.0
    assert tl.sample(10.52).opening == 0.0  # closes right after the audio ends


def test_anchor_moves_turn_when_playback_starts_late_and_clear_closes_mouth() -> None:
    tl = SpeechTimeline()
    tl.schedule(10.0, _env(0.5), _env(0.5))
    tl.schedule(10.1, _env(0.5), _env(0.5))
    assert tl.anchor(10.005) == 0.0  # within tolerance
    assert abs(tl.anchor(10.1) - 0.1) < 1e-9
    assert tl.end == 11.1
    assert tl.sample(10.15).opening == 1.0 and tl.sample(10.05).opening == 0.0
    tl.clear(10.5)
    assert tl.sample(10.5).opening == 0.0 and not tl.speaking(10.6)


def test_pending_speech_waits_for_playback_then_starts_there() -> None:
    tl = SpeechTimeline(wait_for_playback=True)
    tl.schedule(10.0, _env(1.0), _env(1.0))  # e.g. the greeting, held at the join gate
    assert tl.sample(10.5).opening == 0.0 and not tl.speaking(10.5)
    tl.sample(200.0)  # minutes pass: pending speech is never pruned
    assert tl.playback_started(300.0) == 290.0
    assert tl.sample(300.5).opening == 1.0
    tl.schedule(300.6, _env(0.5), _env(0.5))  # while playing: queued behind, not pending
    assert tl.sample(301.2).opening == 1.0
    tl.playback_stopped()
    tl.schedule(310.0, _env(0.5), _env(0.5))
    assert tl.sample(310.2).opening == 0.0  # pending again until the transport says so
