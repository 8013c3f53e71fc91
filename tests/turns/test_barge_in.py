"""The per-line barge-in mute: off for a line read to the end, windowed for a goodbye."""

from __future__ import annotations

from pipecat.frames.frames import BotStartedSpeakingFrame, BotStoppedSpeakingFrame

from interview_pipeline.turns.barge_in import BargeInPolicyFrame, QuestionBargeInMuteStrategy


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_barge_in_off_mutes_only_while_the_line_plays() -> None:
    mute = QuestionBargeInMuteStrategy(clock=Clock())
    assert not await mute.process_frame(BargeInPolicyFrame(allowed=False))
    assert await mute.process_frame(BotStartedSpeakingFrame())
    assert not await mute.process_frame(BotStoppedSpeakingFrame())


async def test_goodbye_can_be_cut_only_inside_the_resume_window() -> None:
    clock = Clock()
    mute = QuestionBargeInMuteStrategy(clock=clock)
    await mute.process_frame(BargeInPolicyFrame(allowed=True, window_s=3.0))
    assert not await mute.process_frame(BotStartedSpeakingFrame())  # the answer may go on
    clock.t = 2.9
    assert not await mute.process_frame(BotStartedSpeakingFrame())  # same line, still inside
    clock.t = 3.1
    assert await mute.process_frame(BotStartedSpeakingFrame())  # "thanks, bye" is not heard
    assert not await mute.process_frame(BotStoppedSpeakingFrame())
    await mute.process_frame(BargeInPolicyFrame(allowed=True))  # the next line: whole line
    clock.t = 10.0
    await mute.process_frame(BotStartedSpeakingFrame())
    clock.t = 20.0
    assert not await mute.process_frame(BotStartedSpeakingFrame())
