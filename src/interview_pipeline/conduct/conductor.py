"""The conductor: the processor between the user aggregator and the LLM that runs the plan.

Each time the candidate's turn ends, the user aggregator sends the context downstream; the
conductor asks the plan what comes next and adds that as a developer instruction before
the LLM sees the context. Scripted lines (opening, nudge, repeat, goodbye) are spoken
verbatim with TTSSpeakFrame, so they need no LLM round trip. After the closing line the
conductor asks the worker to end gracefully, so queued audio is played before the bot
leaves.

It also keeps the interview moving when the candidate says nothing: from the moment the
interviewer stops speaking it counts silence (see ``silence.py``) and nudges, repeats the
question, and finally ends the interview as abandoned. The time budget is enforced at the
same natural boundaries: the end of an answer, or the first silence prompt.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame

from interview_pipeline.conduct import directive
from interview_pipeline.conduct.barge_in import BargeInPolicyFrame
from interview_pipeline.conduct.plan import ALL_ASKED, TIME_BUDGET, InterviewPlan, Step, StepKind
from interview_pipeline.conduct.silence import SilenceAction, SilenceClock
from interview_pipeline.personas.schema import Persona

StepListener = Callable[[Step], None]

#: Said when the candidate has been silent for the persona's ``abandon_after_s``.
ABANDON_LINE = (
    "I haven't heard from you for a while, {name}, so I'll end the interview here. "
    "Thank you for your time. Goodbye."
)
#: Steps the plan chose after an answer, which can be redone when never heard.
_REDIRECTABLE = frozenset({StepKind.OPENING, StepKind.QUESTION, StepKind.FOLLOW_UP})
#: Said before the question when silence escalates to a repeat.
REPEAT_LEAD = "Let me repeat the question."


def _new_answer(messages: list[Any]) -> str | None:
    """The candidate's words if the newest message is theirs, else None.

    The user aggregator appends the candidate's turn last before running the LLM; any
    other newest message (pipecat's empty-turn recovery prompt) means there is no answer.
    """
    message = messages[-1] if messages else None
    if not isinstance(message, dict) or message.get("role") != "user":
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict)).strip()
    return ""


class InterviewConductor(FrameProcessor):
    def __init__(
        self,
        persona: Persona,
        candidate_name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ):
        super().__init__(name="InterviewConductor", **kwargs)
        self.persona = persona
        self.plan = InterviewPlan(persona, candidate_name, clock=clock)
        self.current: Step | None = None
        self.started_at: float | None = None
        self.outcome: str | None = None
        #: Why the interview ended ("all questions asked", "time budget", "no answer", ...).
        self.outcome_reason: str | None = None
        #: Silence prompts spoken, for metrics and the design note.
        self.nudges = 0
        self.repeats = 0
        self._clock = clock
        self._listeners: list[StepListener] = []
        self._silence = SilenceClock.for_persona(persona.silence)
        self._silence_task: asyncio.Task[None] | None = None
        #: The line the silence escalation said; its end resumes (not restarts) the count.
        self._silence_step: Step | None = None
        self._candidate_speaking = False
        self._reply_pending = False
        #: Whether any of the current step's line has been heard (interviewer audio).
        self._step_heard = False
        self._away = False

    def add_step_listener(self, listener: StepListener) -> None:
        self._listeners.append(listener)

    @property
    def asked_count(self) -> int:
        return len(self.plan.asked)

    def _set_step(self, step: Step) -> None:
        self.current = step
        self._step_heard = False
        why = f" ({step.reason})" if step.reason else ""
        logger.info(f"{self}: {step.kind.value} {step.question_id or ''}".rstrip() + why)
        for listener in self._listeners:
            listener(step)

    async def _announce(self, step: Step) -> None:
        """Tell the user aggregator whether the candidate may interrupt this line."""
        ending = step.kind is StepKind.CLOSING  # a goodbye is not worth cutting off
        allowed = not ending and self.persona.barge_in_for(step.question_id)
        label = step.question_id or step.kind.value
        await self.push_frame(
            BargeInPolicyFrame(allowed=allowed, label=label), FrameDirection.UPSTREAM
        )
        # Live progress for the candidate page (RTVI server message; ignored without RTVI).
        await self.push_frame(RTVIServerMessageFrame(data=self.progress(step)))

    def progress(self, step: Step) -> dict[str, object]:
        """Question k of n and time left, as the candidate page shows them."""
        plan = self.plan
        left = None
        if plan.started_at is not None:
            left = max(0, round(self.persona.time_budget_s - plan.elapsed_s()))
        return {
            "type": "interview-progress",
            "step": step.kind.value,
            "question_id": step.question_id,
            "question": step.number,
            "total": step.total or len(self.persona.questions),
            "time_left_s": left,
        }

    # --- lines ------------------------------------------------------------------------
    async def begin(self) -> None:
        """Greet the candidate and ask the first question (called when they are there)."""
        if self.current is not None:
            return
        self.started_at = time.monotonic()
        await self.say(self.plan.opening())

    async def say(self, step: Step, text: str | None = None) -> None:
        """Speak a scripted line verbatim (no LLM), in order with anything already queued."""
        self._set_step(step)
        await self._announce(step)
        self._reply_pending = True
        await self.push_frame(TTSSpeakFrame(text if text is not None else step.verbatim))

    async def welcome_back(self) -> None:
        """The candidate rejoined: greet them and ask the same question again."""
        self._away = False
        if self.current is None or self.plan.finished:
            return
        name = self.plan.candidate_name
        step = self.plan.repeat()
        await self.say(
            step, f"Welcome back, {name}. Let's pick up where we left off. {step.verbatim}"
        )

    async def candidate_left(self) -> None:
        """The candidate dropped out: no silence prompts to an empty room until they rejoin."""
        self._away = True
        await self._stop_silence()

    async def wrap_up(self, outcome: str = "stopped", reason: str | None = None) -> None:
        """End now: closing line, then the bot leaves (DELETE, time budget, shutdown)."""
        if self.plan.finished:
            return
        self.outcome, self.outcome_reason = outcome, reason or outcome
        await self._stop_silence()
        if self.current is None:  # nobody was greeted; nothing to say
            self.plan.finished = True
            await self.push_frame(EndWorkerFrame(reason=outcome))
            return
        await self.say(self.plan.closing(reason=reason or ALL_ASKED))
        await self.push_frame(EndWorkerFrame(reason=outcome))

    async def abandon(self) -> None:
        """The candidate never answered: a short goodbye, and the session ends as abandoned."""
        if self.plan.finished:
            return
        await self._stop_silence()
        step = self.plan.abandon(ABANDON_LINE.format(name=self.plan.candidate_name))
        self.outcome, self.outcome_reason = "abandoned", step.reason
        await self.say(step)
        await self.push_frame(EndWorkerFrame(reason="candidate silent"))

    # --- frames -----------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            await self._on_candidate_turn(frame)
            return
        await self.push_frame(frame, direction)
        await self._observe(frame)

    async def _observe(self, frame: Frame) -> None:
        """Who has the floor: drives the silence count and the interview clock."""
        now = self._clock()
        if isinstance(frame, BotStartedSpeakingFrame):
            self.plan.start_clock()
            self._step_heard = True
            self._reply_pending = False
            self._silence.pause(now)
            await self._cancel_silence_task()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            if self._candidate_speaking or self._away or not self._expects_answer():
                return
            if self.current is not None and self.current is self._silence_step:
                self._silence.resume(now)
            else:
                self._silence.start(now)
            await self._schedule_silence()
        elif isinstance(frame, (UserStartedSpeakingFrame, VADUserStartedSpeakingFrame)):
            self._candidate_speaking = True
            await self._stop_silence()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._candidate_speaking = False
            # A turn with words is answered next; one without (a cough) must not leave
            # the interviewer waiting forever, so the count starts again.
            if not self._reply_pending and self._expects_answer() and not self._away:
                self._silence.start(now)
                await self._schedule_silence()
        elif isinstance(frame, InterruptionFrame):
            self._reply_pending = False

    def _expects_answer(self) -> bool:
        return self.current is not None and not self.plan.finished

    async def _on_candidate_turn(self, frame: LLMContextFrame) -> None:
        if self.current is None or self.plan.finished:
            # Before the greeting or after the closing line nothing more is said.
            return
        await self._stop_silence()
        answer = _new_answer(list(frame.context.get_messages()))
        if answer is None:
            # No new words: pipecat asks the LLM to recover from a turn that interrupted
            # the interviewer but was not understood. The plan must not advance on that;
            # the interviewer asks the current question again instead.
            step = self.plan.repeat()
            if not step.ends_interview:
                await self.say(step, f"Sorry, I didn't catch that. {step.verbatim}")
            return
        unheard = self.current if not self._step_heard else None
        if unheard is not None and unheard.kind in _REDIRECTABLE:
            # The candidate went on talking before a word of our reply was heard (their
            # new turn cancelled it). That is more of the same answer, not an answer to
            # a line they never heard: the plan stays where it is and the step is redone.
            logger.info(f"{self}: candidate went on before hearing the reply; same step again")
            await self._direct(frame, unheard)
            return
        step = self.plan.after_answer(answer)
        await self._direct(frame, step)

    async def _direct(self, frame: LLMContextFrame, step: Step) -> None:
        self._set_step(step)
        await self._announce(step)
        frame.context.add_message({"role": "developer", "content": directive.render(step)})
        self._reply_pending = True
        await self.push_frame(frame)
        if step.kind is StepKind.CLOSING:
            self.outcome, self.outcome_reason = "completed", step.reason or ALL_ASKED
            await self.push_frame(EndWorkerFrame(reason=f"interview completed: {step.reason}"))

    # --- silence ----------------------------------------------------------------------
    async def _schedule_silence(self) -> None:
        await self._cancel_silence_task()
        wait = self._silence.wait_s(self._clock())
        if wait is not None:
            self._silence_task = self.create_task(self._silence_after(wait), "silence")

    async def _silence_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._silence_task = None
        action = self._silence.take(self._clock())
        if action is not None and self._expects_answer():
            await self._on_silence(action)

    async def _on_silence(self, action: SilenceAction) -> None:
        silent = self._silence.silent_s(self._clock())
        logger.info(f"{self}: candidate silent for {silent:.1f}s: {action.value}")
        if self.plan.budget_spent():
            await self.wrap_up("completed", TIME_BUDGET)
            return
        if action is SilenceAction.ABANDON:
            await self.abandon()
            return
        if action is SilenceAction.NUDGE:
            step = self.plan.nudge()
            self.nudges += 1
            text = step.verbatim
        else:
            step = self.plan.repeat()
            self.repeats += 1
            text = f"{REPEAT_LEAD} {step.verbatim}"
        self._silence_step = step
        self._silence.pause(self._clock())
        await self.say(step, text)

    async def _cancel_silence_task(self) -> None:
        task, self._silence_task = self._silence_task, None
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task)

    async def _stop_silence(self) -> None:
        self._silence.stop()
        self._silence_step = None
        await self._cancel_silence_task()

    async def cleanup(self) -> None:
        await self._cancel_silence_task()
        await super().cleanup()
