"""The conductor: the processor between the user aggregator and the LLM that runs the plan.

Each time the candidate's turn ends, the user aggregator sends the context downstream; the
conductor asks the plan what comes next and adds that as a developer instruction before
the LLM sees the context. Scripted lines (opening, nudge, repeat, goodbye) are spoken
verbatim with TTSSpeakFrame, so they need no LLM round trip. After the closing line the
conductor asks the worker to end gracefully, so queued audio is played before the bot
leaves; after a goodbye that replies to an answer, only once it was heard (``ending.py``).

Replies are prepared before the turn is confirmed (``turns/stop.py``): a speculative
context is walked on a preview of the plan, held unheard after TTS, and committed when the
turn is confirmed, or cancelled (LLM and TTS interrupted) when the candidate goes on.
A step chosen after an answer counts only once its question was heard (``hearing.py``):
if the line is cut off before that, or the candidate resumes within the persona's resume
window, the candidate's next words join the previous answer and the plan goes back.

It also keeps the interview moving when the candidate says nothing: from the moment the
interviewer stops speaking it counts silence (see ``silence.py``) and nudges, repeats the
question, and finally ends the interview as abandoned. The time budget is enforced at the
same natural boundaries: the end of an answer, or the first silence prompt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EagerEndOfTurnCancelFrame,
    EndWorkerFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    TTSSpeakFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame

from interview_pipeline.conduct import directive
from interview_pipeline.conduct.ending import PendingEnd
from interview_pipeline.conduct.hearing import (
    Hearing,
    LineVerdict,
    Reply,
    merge_continued_answer,
    message_text,
)
from interview_pipeline.conduct.plan import (
    ALL_ASKED,
    TIME_BUDGET,
    InterviewPlan,
    Step,
    StepKind,
)
from interview_pipeline.conduct.silence import SilenceAction, SilenceClock, SilenceTimer
from interview_pipeline.personas.schema import Persona
from interview_pipeline.turns.barge_in import BargeInPolicyFrame
from interview_pipeline.turns.frames import QuestionContextFrame, ReplyHoldFrame
from interview_pipeline.turns.patience import Expectation

StepListener = Callable[[Step], None]

#: Said when the candidate has been silent for the persona's ``abandon_after_s``.
ABANDON_LINE = (
    "I haven't heard from you for a while, {name}, so I'll end the interview here. "
    "Thank you for your time. Goodbye."
)
#: Said before the question when silence escalates to a repeat.
REPEAT_LEAD = "Let me repeat the question."
#: After a goodbye cut off by the answer going on, how long past the longest thinking pause
#: (and the resume window) the interview waits for the rest of the answer before ending.
_END_GUARD_MARGIN_S = 5.0


def _new_answer(messages: list[Any]) -> str | None:
    """The candidate's words if the newest message is theirs, else None.

    The user aggregator appends the candidate's turn last before running the LLM; any
    other newest message (pipecat's empty-turn recovery prompt) means there is no answer.
    """
    message = messages[-1] if messages else None
    if not isinstance(message, dict) or message.get("role") != "user":
        return None
    return message_text(message)


class InterviewConductor(FrameProcessor):
    def __init__(
        self,
        persona: Persona,
        candidate_name: str,
        *,
        context: LLMContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        end_guard_s: float | None = None,
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
        self.hearing = Hearing()
        self._context = context
        self._clock = clock
        self._listeners: list[StepListener] = []
        self._silence = SilenceTimer(
            SilenceClock.for_persona(persona.silence),
            clock,
            lambda coro: self.create_task(coro, "silence"),
            self.cancel_task,
            self._on_silence,
        )
        self._candidate_speaking = False
        self._reply_pending = False
        self._away = False
        #: A speculation is open (from its context frame until committed or withdrawn),
        #: and the reply prepared for it, if one could be.
        self._speculating = False
        self._speculation: Reply | None = None
        self._speculations_seen = 0
        self._speculations_withdrawn = 0
        self._bot_speaking = False
        self._line_started = 0.0
        tt = persona.turn_taking
        self._end = PendingEnd(
            end_guard_s or tt.max_thinking_pause_s + tt.resume_window_s + _END_GUARD_MARGIN_S,
            lambda coro: self.create_task(coro, "end"),
            self.cancel_task,
            self._send_end,
        )

    @property
    def answering(self) -> str | None:
        """The question the candidate is answering: the last one they heard asked."""
        return self.hearing.answering

    @property
    def rebuilt(self) -> int:
        return self.hearing.rebuilt

    def add_step_listener(self, listener: StepListener) -> None:
        self._listeners.append(listener)

    @property
    def asked_count(self) -> int:
        return len(self.plan.asked)

    def expectation(self) -> Expectation | None:
        """What a full answer to the question being answered looks like (for patience)."""
        q = self.plan.current
        if q is None or self.current is None:
            return None
        words = q.expected_words or self.persona.turn_taking.full_answer_words
        return Expectation(words=words, mentions=tuple(q.good_answer_mentions))

    def _set_step(self, step: Step, *, scripted: bool = False) -> None:
        self.current = step
        self.hearing.line_started(step, scripted=scripted)
        why = f" ({step.reason})" if step.reason else ""
        logger.info(f"{self}: {step.kind.value} {step.question_id or ''}".rstrip() + why)
        for listener in self._listeners:
            listener(step)

    async def _announce(self, step: Step, *, reply: bool = False) -> None:
        """Tell the user aggregator whether the candidate may interrupt this line."""
        # A goodbye is not worth cutting off, except by the last answer going on.
        closing = step.kind is StepKind.CLOSING
        ending = closing and not reply
        allowed = not ending and self.persona.barge_in_for(step.question_id)
        window = self.persona.turn_taking.resume_window_s if closing else None
        label = step.question_id or step.kind.value
        await self.push_frame(
            BargeInPolicyFrame(allowed=allowed, label=label, reply=reply, window_s=window),
            FrameDirection.UPSTREAM,
        )
        question = self.plan.question_text(step)
        if question and step.kind is not StepKind.CLOSING:
            await self.push_frame(QuestionContextFrame(text=question), FrameDirection.UPSTREAM)
        await self._push_progress(step)

    async def _push_progress(self, step: Step) -> None:
        # Live progress for the candidate page (RTVI server message; ignored without RTVI).
        await self.push_frame(RTVIServerMessageFrame(data=self.progress(step)))

    def progress(self, step: Step) -> dict[str, object]:
        """Question k of n and time left, as the candidate page shows them."""
        return self.plan.progress(step)

    # --- lines ------------------------------------------------------------------------
    async def begin(self) -> None:
        """Greet the candidate and ask the first question (called when they are there)."""
        if self.current is not None:
            return
        self.started_at = time.monotonic()
        await self.say(self.plan.opening())

    async def say(self, step: Step, text: str | None = None) -> None:
        """Speak a scripted line verbatim (no LLM), in order with anything already queued."""
        self._set_step(step, scripted=True)
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
        await self._silence.stop()

    async def wrap_up(self, outcome: str = "stopped", reason: str | None = None) -> None:
        """End now: closing line, then the bot leaves (DELETE, time budget, shutdown)."""
        if self.plan.finished:
            await self._end.fire()  # a goodbye was said or is playing: no waiting for more
            return
        self.outcome, self.outcome_reason = outcome, reason or outcome
        await self._silence.stop()
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
        await self._silence.stop()
        step = self.plan.abandon(ABANDON_LINE.format(name=self.plan.candidate_name))
        self.outcome, self.outcome_reason = "abandoned", step.reason
        await self.say(step)
        await self.push_frame(EndWorkerFrame(reason="candidate silent"))

    # --- what was heard ---------------------------------------------------------------
    def note_line(self, spoken: str, interrupted: bool) -> LineVerdict:
        """The assistant aggregator reports a line as played: was its question heard?"""
        step = self.current
        text = self.plan.question_text(step) if step is not None else None
        return self.hearing.judge(step, text, spoken, interrupted)

    async def on_assistant_turn_stopped(self, _aggregator: Any, message: Any) -> None:
        text = (getattr(message, "content", "") or "").strip()
        verdict = self.note_line(text, bool(getattr(message, "interrupted", False)))
        unheard = self.hearing.unheard
        if not verdict.heard and unheard is not None and unheard.prior is not None:
            await self._push_progress(unheard.prior)  # the page shows what was asked

    # --- frames -----------------------------------------------------------------------
    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction is FrameDirection.DOWNSTREAM:
            if frame.speculation:
                await self._speculate(frame)
            else:
                await self._on_candidate_turn(frame)
            return
        await self.push_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, EagerEndOfTurnCancelFrame):
                await self._withdraw()
            elif isinstance(frame, LLMContextUserTurnFrame) and self._speculating:
                await self._commit()
        await self._observe(frame)

    async def _observe(self, frame: Frame) -> None:
        """Who has the floor: drives the silence count and the interview clock."""
        now = self._clock()
        if isinstance(frame, BotStartedSpeakingFrame):
            await self._end.line_started()
            self.plan.start_clock()
            if not self._bot_speaking:
                self._line_started = now
            self._bot_speaking = True
            self._reply_pending = False
            self._silence.clock.pause(now)
            await self._silence.cancel()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            await self._end.line_stopped()
            if self._candidate_speaking or self._away or not self._expects_answer():
                return
            if self.current is not None and self.current is self._silence.prompt:
                self._silence.clock.resume(now)
            else:
                self._silence.clock.start(now)
            await self._silence.schedule()
        elif isinstance(frame, (UserStartedSpeakingFrame, VADUserStartedSpeakingFrame)):
            self._candidate_speaking = True
            await self._silence.stop()
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._candidate_speaking = False
            # A turn with words is answered next; one without (a cough) must not leave
            # the interviewer waiting forever, so the count starts again.
            if not self._reply_pending and self._expects_answer() and not self._away:
                self._silence.clock.start(now)
                await self._silence.schedule()
        elif isinstance(frame, InterruptionFrame):
            if self._bot_speaking:
                window = self.persona.turn_taking.resume_window_s
                self.hearing.cut_off(now - self._line_started, window)
                await self._end.line_cut()
            self._reply_pending = False

    def _expects_answer(self) -> bool:
        return self.current is not None and not self.plan.finished

    def _done(self) -> bool:
        """Nothing more to say: the plan has ended, unless its goodbye was cut by the answer."""
        if self.current is None:
            return True
        if not self.plan.finished:
            return False
        unheard = self.hearing.unheard
        cut_goodbye = unheard is not None and unheard.step.kind is StepKind.CLOSING
        return not (self._end.pending and cut_goodbye)

    async def _on_candidate_turn(self, frame: LLMContextFrame) -> None:
        if self._done():
            # Before the greeting or after the closing line nothing more is said.
            return
        await self._silence.stop()
        answer = _new_answer(list(frame.context.get_messages()))
        if answer is None:
            # No new words: pipecat asks the LLM to recover from a turn that interrupted
            # the interviewer but was not understood. The plan must not advance on that;
            # the interviewer asks the current question again instead.
            step = self.plan.repeat()
            if not step.ends_interview:
                await self.say(step, f"Sorry, I didn't catch that. {step.verbatim}")
            return
        unasked = self.hearing.unasked
        if self.hearing.unheard is None and unasked is not None:
            # The greeting (or a repeat) was cut off before its question: ask it again.
            self.hearing.unasked = None
            logger.info(f"{self}: candidate spoke before hearing the question; asking again")
            await self.say(self.plan.repeat(), self.plan.question_text(unasked) or unasked.verbatim)
            return
        reply = self.hearing.choose(self.plan, self.current, frame.context, answer, apply=True)
        await self._direct(frame.context, reply)
        await self.push_frame(frame)
        await self._after_direct(reply.step)

    async def _direct(self, context: LLMContext, reply: Reply) -> None:
        """Take a step: announce it and add its instruction for the LLM."""
        self.hearing.adopt(reply)
        self._set_step(reply.step)
        await self._announce(reply.step, reply=True)
        context.add_message({"role": "developer", "content": directive.render(reply.step)})
        self._reply_pending = True

    async def _after_direct(self, step: Step) -> None:
        if step.kind is StepKind.CLOSING:
            self.outcome, self.outcome_reason = "completed", step.reason or ALL_ASKED
            await self._end.arm(f"interview completed: {step.reason}")
        else:
            await self._end.disarm()  # the answer went on past a goodbye: the interview goes on

    async def _send_end(self, reason: str) -> None:
        await self.push_frame(EndWorkerFrame(reason=reason))

    # --- speculative replies ------------------------------------------------------------
    async def _speculate(self, frame: LLMContextFrame) -> None:
        """Prepare the reply to a turn that may not be over, on a preview of the plan."""
        self._speculations_seen += 1
        if self._speculations_seen <= self._speculations_withdrawn:
            return  # withdrawn before it got here
        # From here a confirmation expects an answer from us, prepared or not.
        self._speculating, self._speculation = True, None
        if self._done():
            return
        answer = _new_answer(list(frame.context.get_messages()))
        if not answer or (self.hearing.unheard is None and self.hearing.unasked is not None):
            return  # nothing to prepare: the commit takes the ordinary path
        reply = self.hearing.choose(self.plan, self.current, frame.context, answer, apply=False)
        frame.context.add_message({"role": "developer", "content": directive.render(reply.step)})
        self._speculation = reply
        # Held after TTS by the ReplyGate, not inside the LLM (whose own gate would keep
        # the text from TTS): so the prepared audio can go out the moment it is confirmed.
        frame.speculation = False
        await self.push_frame(ReplyHoldFrame())
        await self.push_frame(frame)

    async def _withdraw(self) -> None:
        """The candidate went on: cancel the prepared reply (LLM and TTS requests too)."""
        self._speculations_withdrawn += 1
        if self._speculations_withdrawn > self._speculations_seen:
            return  # its frame is still on the way and will be dropped
        prepared, self._speculating, self._speculation = self._speculation, False, None
        if prepared is not None:
            await self.push_frame(InterruptionFrame())

    async def _commit(self) -> None:
        """The turn is confirmed: the prepared reply is being released; the plan takes it."""
        reply, self._speculation, self._speculating = self._speculation, None, False
        context = self._context
        if reply is None:
            # Nothing was prepared (no words, a question not yet heard): answer the turn now.
            if context is not None:
                await self._on_candidate_turn(LLMContextFrame(context=context))
            return
        if self._done():
            return
        await self._silence.stop()
        if reply.after is not None:
            self.plan.restore(reply.after)
        unheard = self.hearing.unheard
        if context is not None and unheard is not None:
            messages, _ = merge_continued_answer(context.get_messages(), unheard.answer)
            context.set_messages(messages)
        if context is not None:
            await self._direct(context, reply)
        else:
            self.hearing.adopt(reply)
            self._set_step(reply.step)
            await self._announce(reply.step, reply=True)
        await self._after_direct(reply.step)

    # --- silence ----------------------------------------------------------------------
    async def _on_silence(self, action: SilenceAction) -> None:
        if not self._expects_answer():
            return
        silent = self._silence.clock.silent_s(self._clock())
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
        self._silence.prompt = step
        self._silence.clock.pause(self._clock())
        await self.say(step, text)

    async def cleanup(self) -> None:
        await self._silence.cancel()
        await super().cleanup()
