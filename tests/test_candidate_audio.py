"""Candidate audio routing: the recorder's tap sees it as it enters, and it stops after the
turn logic; the join gate says when the greeting is held; Smart Turn shares one session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pipecat.frames.frames import (
    InputAudioRawFrame,
    OutputAudioRawFrame,
    TextFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameDirection
from pipecat.tests.utils import run_test

from interview_pipeline.candidate_audio import CandidateAudioStop, CandidateAudioTap
from interview_pipeline.compat.smart_turn import predict_endpoint, session_of
from interview_pipeline.gate import JoinGate
from interview_pipeline.recording import ConversationRecorder
from interview_pipeline.turns.smart_turn import SharedSmartTurnAnalyzerV3, smart_turn_session


def mic(ms: int = 20) -> InputAudioRawFrame:
    return InputAudioRawFrame(audio=b"\x01\x00" * (16 * ms), sample_rate=16000, num_channels=1)


async def test_stop_drops_candidate_audio_and_nothing_else() -> None:
    down, _ = await run_test(
        CandidateAudioStop(),
        frames_to_send=[mic(), TextFrame("hi"), mic()],
        expected_down_frames=[TextFrame],
    )
    assert down[0].text == "hi"


async def test_tap_records_candidate_audio_and_passes_everything() -> None:
    seen: list[InputAudioRawFrame] = []
    down, _ = await run_test(
        CandidateAudioTap(seen.append), frames_to_send=[mic(), TextFrame("hi"), mic(40)]
    )
    # Audio is a system frame in pipecat, so it may overtake the text: compare as a multiset.
    assert sorted(type(f).__name__ for f in down) == [
        "InputAudioRawFrame",
        "InputAudioRawFrame",
        "TextFrame",
    ]
    assert [len(f.audio) for f in seen] == [640, 1280]


async def test_tapped_recorder_keeps_the_candidate_channel(tmp_path: Path) -> None:
    """With the tap, the candidate's audio never reaches the recorder itself, and the
    conversation still has both channels."""
    recorder = ConversationRecorder(tmp_path / "conversation.wav")
    pipeline = Pipeline([recorder.candidate_tap(), CandidateAudioStop(), recorder])
    tone = (0.3 * 32767 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440)).astype(np.int16)
    frames = [mic() for _ in range(25)] + [
        OutputAudioRawFrame(tone.tobytes(), sample_rate=16000, num_channels=1)
    ]
    await run_test(pipeline, frames_to_send=frames)
    data = np.frombuffer((tmp_path / "conversation.wav").read_bytes()[44:], dtype=np.int16)
    stereo = data[: len(data) // 2 * 2].reshape(-1, 2)
    assert np.count_nonzero(stereo[:, 0] == 1) >= 25 * 320 * 0.9  # the candidate, left
    assert np.abs(stereo[:, 1]).max() > 5000  # the interviewer, right


async def test_gate_says_when_a_whole_greeting_is_held() -> None:
    gate = JoinGate()
    audio = TTSAudioRawFrame(b"\x00\x00" * 160, sample_rate=16000, num_channels=1)
    for frame in (TTSStartedFrame(), audio):
        await gate.process_frame(frame, FrameDirection.DOWNSTREAM)
    assert not gate.greeting_ready.is_set()  # synthesis still running
    await gate.process_frame(TTSStoppedFrame(), FrameDirection.DOWNSTREAM)
    assert gate.greeting_ready.is_set() and not gate.is_open


def test_smart_turn_analyzers_share_one_session() -> None:
    first, second = SharedSmartTurnAnalyzerV3(), SharedSmartTurnAnalyzerV3()
    assert session_of(first) is session_of(second) is smart_turn_session()
    silence = np.zeros(16000 * 2, dtype=np.float32)
    assert predict_endpoint(first, silence)["prediction"] in (0, 1)
