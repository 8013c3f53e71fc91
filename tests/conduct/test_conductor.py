"""The conductor in a real pipecat pipeline, with the frames its neighbours would send.

Upstream frames (the interviewer speaking) enter at the sink as the output transport would
send them; downstream frames (the candidate's turns) enter at the source as the user
aggregator would. The conductor's timers (silence, the end guard, a reply's deadline) run
on a fake clock that moves only in ``Harness.wait`` and ``Harness.speak``, so no window is
raced against a loaded machine; frames still travel the real pipeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EagerEndOfTurnCancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

from interview_pipeline.conduct.conductor import (
    ABANDON_LINE,
    APOLOGY_LINE,
    REPEAT_LEAD,
    FaultLimits,
    InterviewConductor,
)
from interview_pipeline.conduct.plan import OUT_OF_TIME_LINE, StepKind
from interview_pipeline.personas.schema import Persona, Question, Silence
from interview_pipeline.turns.barge_in import BargeInPolicyFrame
from interview_pipeline.turns.frames import ReplyHoldFrame
from tests.fake_clock import FakeClock
from tests.polling import until

DOWN, UP = FrameDirection.DOWNSTREAM, FrameDirection.UPSTREAM
#: Clock time per step while a test lets time pass.
STEP_S = 0.01
ANSWER = "I read the logs and the metrics, reproduced it, found the root cause and fixed it."


def _persona(**update: Any) -> Persona:
    base = Persona(
        id="t",
        interviewer={"name": "Alex"},
        company={"name": "Acme", "role_title": "Engineer"},
        opening="Hi {candidate_name}.",
        closing="Goodbye, {candidate_name}.",
        questions=[
            Question(id="one", text="First?"),
            Question(id="two", text="Second?", barge_in=False),
        ],
        silence=Silence(nudge_after_s=0.15, repeat_after_s=0.3, abandon_after_s=0.5),
    )
    return base.model_copy(update=update)


class Collect(FrameProcessor):
    def __init__(self, direction: FrameDirection) -> None:
        super().__init__()
        self.direction = direction
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is self.direction:
            self.frames.append(frame)
        await self.push_frame(frame, direction)


class Harness:
    """A pipeline source → conductor → sink that can send frames either way."""

    def __init__(self, persona: Persona, **conductor: Any) -> None:
        self.context = LLMContext()
        self.clock = FakeClock()
        self.conductor = InterviewConductor(
            persona, "Sam", context=self.context, clock=self.clock, **conductor
        )
        self.up = Collect(UP)
        self.down = Collect(DOWN)
        self.worker = PipelineWorker(
            Pipeline([self.up, self.conductor, self.down]), cancel_on_idle_timeout=False
        )
        self._started = asyncio.Event()
        self._run: asyncio.Task[None] | None = None

        @self.worker.event_handler("on_pipeline_started")
        async def _started(_w: Any, _f: Any) -> None:
            self._started.set()

    async def __aenter__(self) -> Harness:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        self._run = asyncio.create_task(runner.run())
        await asyncio.wait_for(self._started.wait(), 2)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._run and not self._run.done():
            await self.worker.queue_frame(EndFrame())
        assert self._run is not None
        await asyncio.wait_for(self._run, 5)

    async def send(self, frame: Frame, direction: FrameDirection = DOWN) -> None:
        await self.worker.queue_frame(frame, direction)
        await asyncio.sleep(0.02)

    async def speak(
        self, seconds: float = 0.05, *, spoken: str = "", interrupted: bool = False
    ) -> None:
        """The interviewer's audio plays (what the output transport reports upstream),
        then the assistant aggregator reports the line with what of it was played."""
        await self.send(BotStartedSpeakingFrame(), UP)
        await self.wait(seconds)
        if interrupted:
            await self.send(InterruptionFrame())
        await self.send(BotStoppedSpeakingFrame(), UP)
        line = SimpleNamespace(content=spoken, interrupted=interrupted)
        await self.conductor.on_assistant_turn_stopped(None, line)

    async def answer(self, text: str) -> None:
        await self.send(UserStartedSpeakingFrame())
        await self.send(UserStoppedSpeakingFrame())
        self.context.add_message({"role": "user", "content": text})
        await self.send(LLMContextFrame(context=self.context))

    def said(self) -> list[str]:
        return [f.text for f in self.down.frames if isinstance(f, TTSSpeakFrame)]

    def directives(self) -> list[str]:
        return [
            str(m["content"])
            for m in self.context.get_messages()
            if isinstance(m, dict) and m.get("role") == "developer"
        ]

    def policies(self) -> list[bool]:
        return [f.allowed for f in self.up.frames if isinstance(f, BargeInPolicyFrame)]

    async def wait(self, seconds: float) -> None:
        """Time passes (the fake clock moves; timers due fire), in steps so that a timer the
        pipeline arms a little late still sees the time go by."""
        end = self.clock.now() + seconds
        while self.clock.now() < end - 1e-9:
            await self.clock.advance(min(STEP_S, end - self.clock.now()))

    async def wait_until(self, check: Callable[[], bool], within: float = 3.0) -> None:
        """Time passes, step by step, until ``check`` holds (within that much clock time)."""
        end = self.clock.now() + within
        while not check():
            assert self.clock.now() < end, f"not within {within}s of interview time"
            await self.clock.advance(STEP_S)

    async def until(self, check: Callable[[], bool], within: float = 3.0) -> None:
        """The pipeline (real time) gets to where ``check`` holds; the clock stands still."""
        await until(check, within)


def _ended(h: Harness) -> bool:
    return any(isinstance(f, EndWorkerFrame) for f in h.down.frames) or bool(
        h._run and h._run.done()
    )


async def test_plan_drives_the_interview_to_completion() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.until(lambda: h.said() == ["Hi Sam. First?"])
        await h.speak()
        await h.answer(ANSWER)
        await h.speak()
        await h.answer(ANSWER)
        await h.wait(0.1)
        assert not _ended(h)  # the end waits for the goodbye to be heard
        await h.speak(spoken="Thanks. Goodbye, Sam.")
        await h.until(lambda: _ended(h))
    kinds = [d.splitlines()[0] for d in h.directives()]
    assert kinds[0].startswith("[interview step: question | question=two")
    assert kinds[1].startswith("[interview step: closing")
    assert h.conductor.outcome == "completed"
    assert h.conductor.outcome_reason == "all questions asked"
    # Barge-in: on for one, off for two (persona override); the goodbye after the last answer
    # only inside the resume window (the answer going on).
    assert h.policies() == [True, False, True]
    windows = [f.window_s for f in h.up.frames if isinstance(f, BargeInPolicyFrame)]
    assert windows == [None, None, _persona().turn_taking.resume_window_s]


async def test_goodbye_cut_off_by_the_answer_going_on_takes_the_end_back() -> None:
    # A false end of turn on the last answer: the goodbye starts, the candidate goes on
    # within the resume window. The answer is one answer, the goodbye is said again after
    # it, and the interview ends once, after the goodbye that was heard.
    persona = _persona(questions=[Question(id="one", text="First?")])
    async with Harness(persona) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.answer("I read the logs.")
        await h.speak(0.1, spoken="Thanks.", interrupted=True)
        assert not _ended(h)
        await h.answer("Then I found the root cause in the cache and fixed it.")
        await h.wait(0.1)
        assert not _ended(h)
        await h.speak(spoken="Thanks. Goodbye, Sam.")
        await h.until(lambda: _ended(h))
    closings = [d for d in h.directives() if d.startswith("[interview step: closing")]
    assert len(closings) == 1 and h.conductor.rebuilt == 1  # the cut one left the context
    users = [m for m in h.context.get_messages() if isinstance(m, dict) and m["role"] == "user"]
    assert [m["content"] for m in users][-1].startswith("I read the logs. Then I found")
    ends = [f for f in h.down.frames if isinstance(f, EndWorkerFrame)]
    assert len(ends) == 1 and h.conductor.outcome == "completed"


async def test_goodbye_that_never_plays_still_ends_the_interview() -> None:
    persona = _persona(questions=[Question(id="one", text="First?")])
    async with Harness(persona, end_guard_s=0.3) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.answer(ANSWER)  # the goodbye is queued, and no audio ever comes (TTS down)
        await h.wait_until(lambda: _ended(h), within=2.0)


async def test_silence_nudges_repeats_and_abandons() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak()  # the opening ends: the floor is the candidate's
        await h.wait_until(lambda: len(h.said()) == 2)
        assert h.said()[1] == "Take your time. Let me know when you're ready."
        assert h.conductor.current and h.conductor.current.kind is StepKind.NUDGE
        await h.speak(0.3)  # saying the nudge does not count as silence
        await h.wait_until(lambda: len(h.said()) == 3)
        assert h.said()[2] == f"{REPEAT_LEAD} First?"
        await h.speak(0.3)
        await h.wait_until(lambda: _ended(h))
    assert h.said()[3] == ABANDON_LINE.format(name="Sam")
    assert h.conductor.outcome == "abandoned" and h.conductor.outcome_reason == "no answer"
    assert (h.conductor.nudges, h.conductor.repeats) == (1, 1)


async def test_candidate_speaking_stops_the_silence_count() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak()
        await h.send(UserStartedSpeakingFrame())
        await h.wait(0.6)  # longer than abandon_after_s, but they are talking
        assert h.said() == ["Hi Sam. First?"]
        await h.send(UserStoppedSpeakingFrame())  # a cough: no words, nothing to answer
        await h.wait_until(lambda: len(h.said()) == 2)  # so the count starts again
    assert h.conductor.current and h.conductor.current.kind is StepKind.NUDGE


async def test_time_budget_spent_wraps_up_instead_of_nudging() -> None:
    async with Harness(_persona(time_budget_s=0.05)) as h:
        await h.conductor.begin()
        await h.speak(0.1)
        await h.wait_until(lambda: _ended(h))
    assert h.said()[1].startswith(OUT_OF_TIME_LINE)
    assert h.conductor.outcome == "completed" and h.conductor.outcome_reason == "time budget"


async def test_turn_without_new_words_repeats_instead_of_advancing() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak()
        # pipecat's empty-turn recovery: a context run with no new user message
        h.context.add_message({"role": "developer", "content": "Ask them to repeat."})
        await h.send(LLMContextFrame(context=h.context))
        await h.until(lambda: len(h.said()) == 2)
    assert h.said()[1] == "Sorry, I didn't catch that. First?"
    assert h.conductor.plan.asked == ["one"]


async def test_reply_cut_off_before_it_was_heard_is_redone_not_skipped() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak()
        await h.answer("I built a billing service with my team in Python last year.")
        # No interviewer audio yet: the candidate goes on and their new turn cancels it.
        await h.answer("And it cut our costs in half, which mattered a lot to us.")
        await h.until(lambda: h.conductor.rebuilt == 1)
    # One answer, one instruction: the unheard reply's instruction left the context.
    users = [m["content"] for m in h.context.get_messages() if m.get("role") == "user"]
    assert users == [
        "I built a billing service with my team in Python last year. "
        "And it cut our costs in half, which mattered a lot to us."
    ]
    assert len(h.directives()) == 1 and "question=two" in h.directives()[0]
    assert h.conductor.plan.asked == ["one", "two"]


async def test_question_cut_off_before_its_end_is_not_asked_and_the_answer_goes_on() -> None:
    async with Harness(
        _persona(
            questions=[
                Question(id="one", text="Tell me about a project."),
                Question(id="two", text="What would you change about it?"),
                Question(id="three", text="Anything else?"),
            ]
        )
    ) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. Tell me about a project.")
        await h.answer(ANSWER)
        assert h.conductor.plan.asked == ["one", "two"]
        # The acknowledgement was heard, the question was not: cut off 3.5 s in (after the
        # resume window), so only the words decide.
        h.conductor.persona = h.conductor.persona.model_copy(
            update={
                "turn_taking": h.conductor.persona.turn_taking.model_copy(
                    update={"resume_window_s": 0.0}
                )
            }
        )
        await h.speak(spoken="Thank you, that's a helpful picture.", interrupted=True)
        assert h.conductor.answering == "one"
        await h.answer("And we also wrote a runbook for it.")
        await h.until(lambda: h.conductor.rebuilt == 1)
        assert h.conductor.plan.asked == ["one", "two"]  # two asked once, not three
        await h.speak(spoken="Thanks. What would you change about it?", interrupted=True)
        assert h.conductor.answering == "two"  # its last words were spoken: heard
        await h.answer("Better alerts.")
        await h.until(lambda: h.conductor.plan.asked == ["one", "two", "three"])


async def test_resuming_inside_the_window_is_the_same_answer_even_if_the_question_was_heard() -> (
    None
):
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.answer(ANSWER)
        await h.speak(0.05, spoken="Thanks. Second?", interrupted=True)  # within 3 s
        assert h.conductor.answering == "one"
        await h.answer("Oh, and I wrote the postmortem.")
        await h.until(lambda: h.conductor.rebuilt == 1)
        assert h.conductor.plan.asked == ["one", "two"]


def _provisional(h: Harness, text: str) -> LLMContextFrame:
    """What the user aggregator sends for a speculation: a copy carrying the turn so far."""
    messages = [*h.context.get_messages(), {"role": "user", "content": text}]
    return LLMContextFrame(context=LLMContext(messages=messages), speculation=True)


async def test_speculative_reply_previews_the_plan_and_commits_on_confirmation() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.send(UserStartedSpeakingFrame())
        await h.send(_provisional(h, ANSWER))
        passed = [f for f in h.down.frames if isinstance(f, LLMContextFrame)]
        assert len(passed) == 1 and not passed[0].speculation  # held after TTS, not in the LLM
        assert any(isinstance(f, ReplyHoldFrame) for f in h.down.frames)
        assert "question=two" in str(passed[0].context.get_messages()[-1]["content"])
        assert h.conductor.plan.asked == ["one"] and h.directives() == []  # only a preview
        # Confirmed: the aggregator writes the turn (no new inference) and says so.
        await h.send(UserStoppedSpeakingFrame())
        h.context.add_message({"role": "user", "content": ANSWER})
        await h.send(LLMContextUserTurnFrame(text=ANSWER, timestamp="now"))
        await h.until(lambda: h.conductor.plan.asked == ["one", "two"])
        assert len(h.directives()) == 1 and "question=two" in h.directives()[0]
        assert len([f for f in h.down.frames if isinstance(f, LLMContextFrame)]) == 1


async def test_withdrawn_speculation_cancels_the_reply_and_leaves_the_plan() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.send(UserStartedSpeakingFrame())
        await h.send(_provisional(h, "I built a billing service."))
        await h.send(EagerEndOfTurnCancelFrame())
        await h.until(lambda: any(isinstance(f, InterruptionFrame) for f in h.down.frames))
        assert h.conductor.plan.asked == ["one"] and h.directives() == []
        # The answer goes on and ends normally: the plan moves on from the whole of it.
        await h.send(UserStoppedSpeakingFrame())
        await h.answer(ANSWER)
        await h.until(lambda: h.conductor.plan.asked == ["one", "two"])


async def test_confirmation_without_a_prepared_reply_answers_the_turn_anyway() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam.", interrupted=True)  # the question was not heard
        await h.send(UserStartedSpeakingFrame())
        await h.send(_provisional(h, "Hello!"))  # nothing is prepared for this
        await h.send(UserStoppedSpeakingFrame())
        h.context.add_message({"role": "user", "content": "Hello!"})
        await h.send(LLMContextUserTurnFrame(text="Hello!", timestamp="now"))
        await h.until(lambda: len(h.said()) == 2)
    assert h.said()[1] == "First?"  # asked again, not skipped
    assert h.conductor.plan.asked == ["one"]


async def test_line_cut_by_a_tts_fault_is_marked_and_its_question_asked_again() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.send(BotStartedSpeakingFrame(), UP)
        await h.conductor.line_faulted()  # the TTS failed and recovered mid-line
        await h.send(BotStoppedSpeakingFrame(), UP)
        line = SimpleNamespace(content="Hi Sam.", interrupted=False)
        verdict = h.conductor.note_line("Hi Sam.", False)
        await h.conductor.on_assistant_turn_stopped(None, line)
        await h.until(lambda: len(h.said()) == 2)
    assert verdict.faulted and not verdict.heard  # written as cut, whatever the text says
    assert h.said()[1] == "Sorry, let me say that again. First?"
    assert h.conductor.degraded == {"tts": 1}


async def test_llm_failure_says_the_plans_line_and_repeated_failure_ends_with_an_apology() -> None:
    persona = _persona(
        questions=[Question(id="one", text="First?"), Question(id="two", text="Second?")]
    )
    async with Harness(persona, faults=FaultLimits(llm_failures_to_end=2)) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.answer(ANSWER)
        await h.conductor.llm_failed("HTTP 500")  # the reply never came
        await h.until(lambda: len(h.said()) == 2)
        assert h.said()[1] == "Second?"  # the plan's next line, verbatim
        await h.conductor.llm_failed("HTTP 500")  # a late error for the same reply: ignored
        await h.speak(spoken="Second?")
        await h.answer(ANSWER)
        await h.conductor.llm_failed("HTTP 500")
        await h.until(lambda: _ended(h))
    assert h.said()[-1] == APOLOGY_LINE.format(name="Sam")
    assert h.conductor.outcome == "failed" and "LLM unavailable" in str(h.conductor.outcome_reason)
    assert h.conductor.degraded == {"llm": 2}


async def test_a_failed_closing_reply_is_replaced_even_when_its_empty_turn_ends_first() -> None:
    """pipecat closes the failed reply's assistant turn (no words, not interrupted) and
    reports the error upstream; whichever comes first, the goodbye is said verbatim."""
    async with Harness(_persona(), faults=FaultLimits(llm_failures_to_end=3)) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.answer(ANSWER)
        await h.speak(spoken="Thanks. Second?")
        await h.answer(ANSWER)  # the closing reply goes to the LLM, which fails
        await h.conductor.on_assistant_turn_stopped(
            None, SimpleNamespace(content="", interrupted=False)
        )
        await h.conductor.llm_failed("HTTP 500")
        await h.until(lambda: len(h.said()) == 2)
    assert h.said()[-1] == "Goodbye, Sam."
    assert h.conductor.degraded == {"llm": 1}


async def test_a_reply_cancelled_by_the_candidate_is_not_taken_for_an_llm_failure() -> None:
    async with Harness(_persona(), faults=FaultLimits(reply_s=0.2)) as h:
        await h.conductor.begin()
        await h.speak(spoken="Hi Sam. First?")
        await h.answer(ANSWER)  # the reply goes to the LLM...
        await h.send(InterruptionFrame())  # ...and the candidate speaks again before it plays
        await h.wait(0.4)  # past the reply's deadline
    assert h.said() == ["Hi Sam. First?"]  # no fallback line
    assert h.conductor.degraded == {}


async def test_line_that_never_played_is_said_again_once_then_the_interview_ends() -> None:
    """The TTS gave no audio for the greeting (first audio later than pipecat waits): nothing
    will say the line ended, so it is said again at once; a second silent line ends."""
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.conductor.line_faulted()  # "TTS context ... completed with no audio"
        await h.until(lambda: len(h.said()) == 2)
        assert h.said()[1] == h.said()[0]  # the same line, verbatim
        await h.conductor.line_faulted()
        await h.until(lambda: h.conductor.outcome == "failed")
    assert "no audio" in (h.conductor.outcome_reason or "")
    assert h.conductor.degraded["tts"] == 2


async def test_a_line_that_played_resets_the_retry() -> None:
    async with Harness(_persona()) as h:
        await h.conductor.begin()
        await h.conductor.line_faulted()
        await h.until(lambda: len(h.said()) == 2)
        await h.send(BotStartedSpeakingFrame(), UP)  # the second try was heard
        await h.send(BotStoppedSpeakingFrame(), UP)
        assert h.conductor.outcome is None
