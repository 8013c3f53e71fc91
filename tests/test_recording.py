"""The recorder keeps both sides on the wall clock, streams to disk and survives a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from pipecat.frames.frames import InputAudioRawFrame, InterruptionFrame, TTSAudioRawFrame
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.recording import ConversationRecorder, RecordingTape, WavAppender

SR = 16000
TTS_SR = 24000


def tone(seconds: float, rate: int, freq: float, amp: int = 8000) -> bytes:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * freq * t) * amp).astype("<i2").tobytes()


def silence(seconds: float, rate: int = SR) -> bytes:
    return bytes(2 * round(seconds * rate))


def onset(x: np.ndarray, threshold: int = 1000) -> float:
    """Seconds to the first loud sample."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    assert len(loud), "no audio found"
    return float(loud[0]) / SR


def last_loud(x: np.ndarray, threshold: int = 1000) -> float:
    loud = np.flatnonzero(np.abs(x) > threshold)
    return float(loud[-1]) / SR


def feed_mic(tape: RecordingTape, t_from: float, t_to: float, speech: bool = False) -> None:
    """Mic input as a transport delivers it: 20 ms chunks, each arriving when captured."""
    t = t_from
    while t < t_to - 1e-9:
        pcm = tone(0.02, SR, 220, 4000) if speech else silence(0.02)
        t += 0.02
        tape.add("candidate", pcm, SR, 1, t, ends_now=True)


def test_both_sides_on_the_wall_clock(tmp_path: Path) -> None:
    conv, intv = tmp_path / "conversation.wav", tmp_path / "interviewer.wav"
    tape = RecordingTape(conv, intv, SR)
    tape.start(100.0)
    feed_mic(tape, 100.0, 101.0)
    # The interviewer speaks 0.6 s at 24 kHz from t=1.0; the room's queue takes the first
    # second at once, so all chunks arrive together.
    speech = tone(0.6, TTS_SR, 440)
    for i in range(0, len(speech), 1920):
        tape.add("interviewer", speech[i : i + 1920], TTS_SR, 1, 101.0)
    feed_mic(tape, 101.0, 102.0)
    # Muted mic for a second (no frames), then the candidate answers at t=3.0.
    feed_mic(tape, 103.0, 103.5, speech=True)
    feed_mic(tape, 103.5, 104.0)
    tape.close(104.0)

    data, rate = sf.read(conv, dtype="int16")
    assert rate == SR and data.shape[1] == 2
    assert abs(len(data) / SR - 4.0) < 0.03
    left, right = data[:, 0], data[:, 1]
    assert abs(onset(right) - 1.0) < 0.04
    assert abs(last_loud(right) - 1.6) < 0.04
    assert abs(onset(left) - 3.0) < 0.04
    assert abs(last_loud(left) - 3.5) < 0.04
    assert not np.any(np.abs(left[: int(2.9 * SR)]) > 1000)  # silence kept, not removed

    alone, rate = sf.read(intv, dtype="int16")
    assert rate == SR and alone.ndim == 1
    assert len(alone) == len(data)
    assert np.array_equal(alone, right)


def test_room_paced_speech_stays_on_the_clock(tmp_path: Path) -> None:
    """LiveKit takes the first second at once, then one 40 ms chunk per 40 ms."""
    tape = RecordingTape(tmp_path / "c.wav", tmp_path / "i.wav", SR)
    tape.start(0.0)
    chunk = tone(0.04, TTS_SR, 440)
    peak = 0
    t = 0.0
    sent = 0
    for step in range(300):  # 6 s of mic in 20 ms steps
        t = round((step + 1) * 0.02, 6)
        tape.add("candidate", silence(0.02), SR, 1, t, ends_now=True)
        if t >= 1.0 and sent < 75:  # 3 s of speech from t=1.0
            due = 25 + int(round((t - 1.0) / 0.04))  # the queue holds one second
            while sent < min(due, 75):
                tape.add("interviewer", chunk, TTS_SR, 1, t)
                sent += 1
        peak = max(peak, tape.buffered_bytes)
    tape.close(t)
    assert tape.ahead_s == 0
    assert peak <= (1.5 + 0.2) * SR * 2
    alone, _ = sf.read(tmp_path / "i.wav", dtype="int16")
    assert abs(len(alone) / SR - 6.0) < 0.01
    assert abs(onset(alone) - 1.0) < 0.04
    assert abs(last_loud(alone) - 4.0) < 0.04


def test_pause_in_interviewer_audio_is_kept(tmp_path: Path) -> None:
    tape = RecordingTape(tmp_path / "c.wav", tmp_path / "i.wav", SR)
    tape.start(0.0)
    tape.add("interviewer", tone(0.5, SR, 440), SR, 1, 0.5)
    tape.add("interviewer", tone(0.5, SR, 440), SR, 1, 2.0)
    tape.close(3.0)
    alone, _ = sf.read(tmp_path / "i.wav", dtype="int16")
    assert abs(len(alone) / SR - 3.0) < 0.01
    assert abs(onset(alone) - 0.5) < 0.04
    assert abs(last_loud(alone[: SR * 3 // 2]) - 1.0) < 0.04
    assert abs(onset(alone[int(1.5 * SR) :]) + 1.5 - 2.0) < 0.04


def test_interruption_drops_audio_that_never_played(tmp_path: Path) -> None:
    tape = RecordingTape(tmp_path / "c.wav", tmp_path / "i.wav", SR)
    tape.start(0.0)
    speech = tone(1.0, TTS_SR, 440)
    for i in range(0, len(speech), 1920):
        tape.add("interviewer", speech[i : i + 1920], TTS_SR, 1, 0.5)
    feed_mic(tape, 0.0, 0.8, speech=False)
    tape.interrupt(0.8)
    feed_mic(tape, 0.8, 2.0, speech=False)
    tape.close(2.0)
    alone, _ = sf.read(tmp_path / "i.wav", dtype="int16")
    assert abs(last_loud(alone) - 0.8) < 0.04


def test_memory_stays_bounded(tmp_path: Path) -> None:
    tape = RecordingTape(tmp_path / "c.wav", None, SR, max_buffer_s=1.0)
    tape.start(0.0)
    # One side up to the bound, the other up to the commit delay, plus a chunk each.
    limit = (1.0 + 0.2 + 2 * 0.04) * SR * 2
    peak = 0
    # Real-time mic for 20 s with a long burst of interviewer audio delivered at once.
    t = 0.0
    while t < 20.0:
        if abs(t - 5.0) < 1e-6:
            for _ in range(250):  # 10 s of audio in one go, faster than real time
                tape.add("interviewer", tone(0.04, TTS_SR, 440), TTS_SR, 1, t)
                peak = max(peak, tape.buffered_bytes)
        t = round(t + 0.02, 6)
        tape.add("candidate", silence(0.02), SR, 1, t, ends_now=True)
        peak = max(peak, tape.buffered_bytes)
    tape.close(20.0)
    assert peak <= limit
    data, _ = sf.read(tmp_path / "c.wav", dtype="int16")
    # Nothing is lost: the 10 s burst is all there, the timeline ran ahead to fit it.
    windows = np.abs(data[: len(data) // 160 * 160, 1]).reshape(-1, 160).max(axis=1)
    assert np.count_nonzero(windows > 1000) * 0.01 >= 9.95
    assert 20.0 <= len(data) / SR <= 20.0 + 10.0


def test_mono_mix(tmp_path: Path) -> None:
    tape = RecordingTape(tmp_path / "c.wav", None, SR, stereo=False)
    tape.start(0.0)
    tape.add("interviewer", tone(0.5, SR, 440), SR, 1, 0.0)
    tape.add("candidate", tone(0.5, SR, 220, 4000), SR, 1, 1.5, ends_now=True)
    tape.close(2.0)
    data, _ = sf.read(tmp_path / "c.wav", dtype="int16")
    assert data.ndim == 1 and abs(len(data) / SR - 2.0) < 0.01
    assert onset(data) < 0.04 and abs(last_loud(data) - 1.5) < 0.04


def test_header_is_valid_before_close(tmp_path: Path) -> None:
    """What is on disk while writing (as after a kill) is a readable WAV."""
    path = tmp_path / "c.wav"
    tape = RecordingTape(path, None, SR)
    tape.start(0.0)
    feed_mic(tape, 0.0, 3.5, speech=True)
    info = sf.info(path)  # the writer is still open and never closed
    assert info.samplerate == SR and info.channels == 2
    assert 2.0 <= info.frames / SR <= 3.5


def test_wav_appender_valid_when_empty(tmp_path: Path) -> None:
    w = WavAppender(tmp_path / "e.wav", SR, 1)
    assert sf.info(tmp_path / "e.wav").frames == 0
    w.close()
    assert sf.info(tmp_path / "e.wav").frames == 0


def test_valid_wav_after_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "killed.wav"
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from interview_pipeline.recording import RecordingTape
        tape = RecordingTape(Path({str(path)!r}), None, {SR})
        t = 0.0
        tape.start(t)
        while True:
            t += 0.1
            tape.add("candidate", b"\\x10\\x00" * {SR // 10}, {SR}, 1, t, ends_now=True)
            if t > 2.5:
                print("ready", flush=True)
                time.sleep(30)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    data, rate = sf.read(path, dtype="int16")
    assert rate == SR and 1.5 <= len(data) / SR <= 2.6
    assert np.all(data[:, 0] == 16) and np.all(data[:, 1] == 0)


async def test_processor_in_a_pipeline(tmp_path: Path) -> None:
    conv, intv = tmp_path / "conversation.wav", tmp_path / "interviewer.wav"
    recorder = ConversationRecorder(conv, intv, SR)
    mic = [InputAudioRawFrame(silence(0.02), SR, 1) for _ in range(10)]
    frames: list = []
    for f in mic:
        frames += [f, SleepFrame(0.02)]
    frames += [SleepFrame(0.3), TTSAudioRawFrame(tone(0.2, TTS_SR, 440), TTS_SR, 1)]
    frames += [SleepFrame(0.1), InterruptionFrame(), SleepFrame(0.3)]
    started = time.monotonic()
    down, _ = await run_test(recorder, frames_to_send=frames)
    elapsed = time.monotonic() - started
    assert sum(isinstance(f, TTSAudioRawFrame) for f in down) == 1  # frames pass through

    data, rate = sf.read(conv, dtype="int16")
    assert rate == SR and data.shape[1] == 2
    assert 0.7 < len(data) / SR <= elapsed + 0.05
    right = data[:, 1]
    # The interviewer chunk arrived after ~0.2 s of mic frames plus a 0.3 s pause and
    # was cut by the interruption 0.1 s later.
    assert 0.45 < onset(right) < 0.75
    assert 0.05 < last_loud(right) - onset(right) < 0.17
    assert recorder.tape.closed
    alone, _ = sf.read(intv, dtype="int16")
    assert len(alone) == len(data)
