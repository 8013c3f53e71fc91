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

from dataclasses import replace
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EagerEndOfTurnCancelFrame,
    Frame,
    InterruptionFrame,
    LLMContextFrame,
    LLMContextUserTurnFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection

from interview_pipeline.conduct import directive
from interview_pipeline.conduct.hearing import (
    LineVerdict,
    Reply,
    merge_continued_answer,
    message_text,
)
from interview_pipeline.conduct.lines import (
    ABANDON_LINE,
    APOLOGY_LINE,
    REPEAT_LEAD,
    FaultLimits,
    InterviewLines,
)
from interview_pipeline.turns.frames import ReplyHoldFrame

__all__ = [
    "ABANDON_LINE",
    "APOLOGY_LINE",
    "REPEAT_LEAD",
    "FaultLimits",
    "InterviewConductor",
]


def _new_answer(messages: list[Any]) -> str | None:
    """The candidate's words if the newest message is theirs, else None.

    The user aggregator appends the candidate's turn last before running the LLM; any
    other newest message (pipecat's empty-turn recovery prompt) means there is no answer.
    """
    message = messages[-1] if messages else None
    if not isinstance(message, dict) or message.get("role") != "user":
        return None
    return message_text(message)


class InterviewConductor(InterviewLines):
    """Runs the plan at the candidate's turns; the interviewer's own lines are the base's."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: A speculation is open (from its context frame until committed or withdrawn),
        #: and the reply prepared for it, if one could be.
        self._speculating = False
        self._speculation: Reply | None = None
        self._speculations_seen = 0
        self._speculations_withdrawn = 0
        #: The LLM failed on the prepared reply: at commit the plan's line is said instead.
        self._speculation_failed: str | None = None

    # --- what was heard ---------------------------------------------------------------
    def note_line(self, spoken: str, interrupted: bool) -> LineVerdict:
        """The assistant aggregator reports a line as played: was its question heard?"""
        step = self.current
        faulted = self._line_fault
        if not self._played and not spoken.strip() and not interrupted and not faulted:
            # Nothing played, no words, nothing cut: an LLM reply that failed before it
            # said anything (pipecat still closes its assistant turn). Nothing was heard
            # either: the reply stays unheard, and its failure is answered.
            return LineVerdict(step, heard=True)
        text = self.plan.question_text(step) if step is not None else None
        verdict = self.hearing.judge(step, text, spoken, interrupted or faulted)
        return replace(verdict, faulted=True) if faulted else verdict

    async def on_assistant_turn_stopped(self, _aggregator: Any, message: Any) -> None:
        text = (getattr(message, "content", "") or "").strip()
        verdict = self.note_line(text, bool(getattr(message, "interrupted", False)))
        unheard = self.hearing.unheard
        if not verdict.heard and unheard is not None and unheard.prior is not None:
            await self._push_progress(unheard.prior)  # the page shows what was asked
        if verdict.faulted and not verdict.heard and not self._done():
            # The TTS failed mid-line and recovered: the question was not heard, say it again.
            self._line_fault = False
            step = self.plan.repeat()
            question = self.plan.question_text(step) or step.verbatim
            await self.say(step, f"Sorry, let me say that again. {question}")

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
        now = self._clock.now()
        if isinstance(frame, BotStartedSpeakingFrame):
            self._played = True
            await self._end.line_started()
            await self._stop_line_watch()
            if self._llm_line:
                self.llm_replied()
            self.plan.start_clock()
            if not self._bot_speaking:
                self._line_started = now
            self._bot_speaking = True
            self._reply_pending, self._line_retried = False, False
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
            # The queued reply was cancelled with everything else: its deadline goes too (the
            # candidate's next turn brings the next reply), or it would be taken for a failure.
            self._llm_line = False
            await self._stop_line_watch()

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
        self._reply_pending, self._llm_line = True, True
        await self._watch_line(self.faults.reply_s, "LLM gave no reply in time")

    async def llm_failed(self, reason: str) -> None:
        if self._speculating and self._speculation is not None:
            # A prepared reply failed: the candidate may still be answering. The plan's
            # line replaces it if the turn is confirmed; a withdrawal forgets it.
            self._speculation_failed = reason
            return
        await super().llm_failed(reason)

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
        self._speculation_failed = None
        if prepared is not None:
            await self.push_frame(InterruptionFrame())

    async def _commit(self) -> None:
        """The turn is confirmed: the prepared reply is being released; the plan takes it."""
        reply, self._speculation, self._speculating = self._speculation, None, False
        failed, self._speculation_failed = self._speculation_failed, None
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
        if failed is not None:
            await self.llm_failed(failed)  # nothing was prepared to release: the plan's line
