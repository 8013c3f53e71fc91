"""The reply gate: a prepared reply is heard only after the turn is confirmed, or never."""

from __future__ import annotations

from collections.abc import Sequence

from pipecat.frames.frames import (
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.turns.frames import ReplyHoldFrame
from interview_pipeline.turns.reply_gate import ReplyGate


def _reply() -> list[Frame]:
    audio = TTSAudioRawFrame(audio=b"\x00\x00" * 480, sample_rate=24000, num_channels=1)
    return [
        LLMFullResponseStartFrame(),
        audio,
        TTSTextFrame("Thanks.", aggregated_by="sentence"),
        LLMFullResponseEndFrame(),
    ]


def _spoken(frames: Sequence[Frame]) -> list[Frame]:
    return [f for f in frames if isinstance(f, (TTSAudioRawFrame, TTSTextFrame))]


async def _through(gate: ReplyGate, *middle: Frame) -> Sequence[Frame]:
    """A turn opens, a reply is prepared for it, then ``middle`` happens."""
    frames = [UserStartedSpeakingFrame(), ReplyHoldFrame(), *_reply(), SleepFrame(0.1), *middle]
    down, _ = await run_test(gate, frames_to_send=frames)
    return down


async def test_prepared_reply_waits_for_the_confirmation_then_plays_in_order() -> None:
    gate = ReplyGate()
    down = await _through(gate, UserStoppedSpeakingFrame())
    kinds = [type(f) for f in down]
    stopped = kinds.index(UserStoppedSpeakingFrame)
    audio = kinds.index(TTSAudioRawFrame)
    assert stopped < audio  # nothing of the reply before the turn was confirmed
    assert len(_spoken(down)) == 2 and gate.released == 1


async def test_withdrawn_reply_is_never_heard() -> None:
    gate = ReplyGate()
    # The conductor cancels it (the candidate went on), then the turn ends later.
    down = await _through(gate, InterruptionFrame(), SleepFrame(0.1), UserStoppedSpeakingFrame())
    assert _spoken(down) == [] and gate.dropped == 1


async def test_reply_after_the_turn_ended_is_not_held() -> None:
    gate = ReplyGate()
    down, _ = await run_test(
        gate,
        frames_to_send=[
            UserStartedSpeakingFrame(),
            UserStoppedSpeakingFrame(),  # the confirmation overtook the prepared reply
            ReplyHoldFrame(),
            *_reply(),
        ],
    )
    assert len(_spoken(down)) == 2 and gate.released == 0
