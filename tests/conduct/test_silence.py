"""The silence count: escalation thresholds in silent seconds, paused by the interviewer."""

from __future__ import annotations

from interview_pipeline.conduct.silence import SilenceAction, SilenceClock


def _clock() -> SilenceClock:
    return SilenceClock(nudge_after_s=2, repeat_after_s=4, abandon_after_s=7)


def test_escalates_nudge_repeat_abandon_counting_only_silence() -> None:
    c = _clock()
    c.start(100.0)
    assert c.wait_s(100.0) == 2
    assert c.take(101.0) is None
    assert c.take(102.0) is SilenceAction.NUDGE
    c.pause(102.0)  # the nudge is being said: 3 s that do not count
    assert c.wait_s(104.0) is None
    c.resume(105.0)
    assert c.silent_s(106.0) == 3
    assert c.wait_s(106.0) == 1
    assert c.take(107.0) is SilenceAction.REPEAT
    c.pause(107.0)
    c.resume(112.0)  # a long repeat of the question
    assert c.take(114.9) is None
    assert c.take(115.0) is SilenceAction.ABANDON
    assert c.wait_s(116.0) is None and c.take(200.0) is None


def test_candidate_speaking_ends_the_episode_and_a_new_one_starts_from_zero() -> None:
    c = _clock()
    c.start(0.0)
    assert c.take(2.0) is SilenceAction.NUDGE
    c.stop()
    assert c.wait_s(3.0) is None and c.take(10.0) is None
    c.start(20.0)
    assert c.take(22.0) is SilenceAction.NUDGE  # nudge again, not straight to repeat


def test_resume_without_an_episode_does_nothing() -> None:
    c = _clock()
    c.resume(5.0)
    assert not c.active and c.wait_s(100.0) is None
