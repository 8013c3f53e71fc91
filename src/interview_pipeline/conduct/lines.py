"""What the interviewer says on its own initiative, and the state the conductor shares.

The greeting, the silence prompts (nudge, repeat, abandon), the goodbye on DELETE or the time
budget, and the lines said when a vendor fails: the LLM's reply replaced by the plan's next
line verbatim (the plan knows it), and after repeated failures, or a TTS that cannot speak, a
clean end as ``failed`` with the reason. ``conductor.py`` adds what happens at the candidate's
turns; this base keeps the lines and the timers (silence, the end, the line deadline).
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger
from pipecat.frames.frames import EndWorkerFrame, TTSSpeakFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.processors.frameworks.rtvi.frames import RTVIServerMessageFrame

from interview_pipeline.clock import MONOTONIC, Clock
from interview_pipeline.conduct.ending import PendingEnd
from interview_pipeline.conduct.hearing import Hearing
from interview_pipeline.conduct.plan import (
    ALL_ASKED,
    TIME_BUDGET,
    InterviewPlan,
    Step,
    StepKind,
)
from interview_pipeline.conduct.silence import SilenceAction, SilenceClock, SilenceTimer
from interview_pipeline.faults.limits import FaultLimits
from interview_pipeline.outcome import Outcome
from interview_pipeline.personas.schema import Persona
from interview_pipeline.turns.barge_in import BargeInPolicyFrame
from interview_pipeline.turns.frames import QuestionContextFrame
from interview_pipeline.turns.patience import Expectation

#: Said when the candidate has been silent for the persona's ``abandon_after_s``.
ABANDON_LINE = (
    "I haven't heard from you for a while, {name}, so I'll end the interview here. "
    "Thank you for your time. Goodbye."
)
#: Said before the question when silence escalates to a repeat.
REPEAT_LEAD = "Let me repeat the question."
#: Said when the interview cannot go on (the LLM failed again and again).
APOLOGY_LINE = (
    "I'm sorry, {name}, we're having technical problems on our side, so I have to end the "
    "interview here. Nothing you said is lost, and the team will be in touch. Goodbye."
)
#: After a goodbye cut off by the answer going on, how long past the longest thinking pause
#: (and the resume window) the interview waits for the rest of the answer before ending.
_END_GUARD_MARGIN_S = 5.0


class InterviewLines(FrameProcessor):
    def __init__(
        self,
        persona: Persona,
        candidate_name: str,
        *,
        context: LLMContext | None = None,
        clock: Clock = MONOTONIC,
        end_guard_s: float | None = None,
        faults: FaultLimits | None = None,
        **kwargs: Any,
    ):
        super().__init__(name="InterviewConductor", **kwargs)
        self.persona = persona
        self.plan = InterviewPlan(persona, candidate_name, clock=clock.now)
        self.current: Step | None = None
        self.outcome: Outcome | None = None
        #: The end was sent: from here on vendors disconnect because the pipeline ends.
        self.closing = False
        #: Why the interview ended ("all questions asked", "time budget", "no answer", ...).
        self.outcome_reason: str | None = None
        #: Silence prompts spoken, for metrics and the design note.
        self.nudges = 0
        self.repeats = 0
        self.hearing = Hearing()
        self._context = context
        self._clock = clock
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
        self._bot_speaking = False
        self._line_started = 0.0
        tt = persona.turn_taking
        self._end = PendingEnd(
            end_guard_s or tt.max_thinking_pause_s + tt.resume_window_s + _END_GUARD_MARGIN_S,
            lambda coro: self.create_task(coro, "end"),
            self.cancel_task,
            self._send_end,
            clock,
        )
        self.faults = faults or FaultLimits()
        #: Lines said in a degraded mode, by role ("llm": the plan's line instead of a reply).
        self.degraded: dict[str, int] = {}
        self._llm_streak = 0
        #: A vendor failed while the current line was being spoken (see ``line_faulted``).
        self._line_fault = False
        #: The line queued last is the LLM's reply (not a scripted line).
        self._llm_line = False
        #: The current step's line has started playing (an empty line that never did is
        #: a failed reply, not a line: ``note_line``).
        self._played = False
        #: The scripted line queued last (step, words), to say again if none of it played.
        self._queued: tuple[Step, str] | None = None
        #: A line that produced no audio was said again; a second silent one is the end.
        self._line_retried = False
        #: A reply (or a fallback line) was queued and has not started playing: its deadline.
        self._line_watch: asyncio.Task[None] | None = None

    @property
    def answering(self) -> str | None:
        """The question the candidate is answering: the last one they heard asked."""
        return self.hearing.answering

    @property
    def rebuilt(self) -> int:
        return self.hearing.rebuilt

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
        self._line_fault = False
        self._played = False  # the step's line has not started playing yet
        self.hearing.line_started(step, scripted=scripted)
        why = f" ({step.reason})" if step.reason else ""
        logger.info(f"{self}: {step.kind.value} {step.question_id or ''}".rstrip() + why)

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
        await self.say(self.plan.opening())

    async def say(self, step: Step, text: str | None = None) -> None:
        """Speak a scripted line verbatim (no LLM), in order with anything already queued."""
        self._set_step(step, scripted=True)
        await self._announce(step)
        words = text if text is not None else step.verbatim
        self._reply_pending, self._llm_line, self._queued = True, False, (step, words)
        await self.push_frame(TTSSpeakFrame(words))

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

    async def wrap_up(self, outcome: Outcome = Outcome.STOPPED, reason: str | None = None) -> None:
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
        self.outcome, self.outcome_reason = Outcome.ABANDONED, step.reason
        await self.say(step)
        await self.push_frame(EndWorkerFrame(reason="candidate silent"))

    def end_without_goodbye(self, outcome: Outcome, reason: str | None = None) -> None:
        """The interview ends from outside with nothing more said (the candidate left for good,
        a stop before they joined, a failed run): the plan is over and the outcome is this."""
        self.outcome = outcome
        if reason is not None:
            self.outcome_reason = reason
        self.plan.finished = True

    @property
    def finished(self) -> bool:
        """The plan has ended: nothing more will be asked."""
        return self.plan.finished

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

    async def _send_end(self, reason: str) -> None:
        self.closing = True  # vendors disconnecting from here on are the pipeline ending
        await self.push_frame(EndWorkerFrame(reason=reason))

    # --- vendor faults (faults/policy.py says which role failed) ---------------------------
    async def llm_failed(self, reason: str) -> None:
        """The LLM gave no reply: say the plan's line verbatim, or end after too many."""
        if not self._llm_line or self._done() or self.outcome is Outcome.FAILED:
            return  # no reply of the LLM's is waiting (a late error for one already replaced)
        await self._stop_line_watch()
        self._llm_streak += 1
        self.degraded["llm"] = self.degraded.get("llm", 0) + 1
        if self._llm_streak >= self.faults.llm_failures_to_end:
            await self.end_failed(f"LLM unavailable ({reason})", spoken=True)
            return
        step = self.current
        if step is None:
            return
        if step.kind is StepKind.FOLLOW_UP:  # phrased by the LLM: ask the next question instead
            step = self.plan.next_question(step.answer, reason="LLM unavailable")
        logger.warning(f"{self}: LLM failed ({reason}); saying the plan's line verbatim")
        await self.say(step)
        await self._watch_line(self.faults.line_s, "TTS gave no audio for the plan's line")
        await self._after_direct(step)

    async def line_faulted(self) -> None:
        """The TTS failed and recovered while a line was queued or spoken: some was lost.

        Part of a line played: it is marked cut when it ends (``note_line``) and its question
        asked again. None of it played (the vendor gave no audio in time): nothing will
        report the line ended, so it is said again now, once; a second silent line ends the
        interview, because a candidate must never sit in a silence nobody will break.
        """
        if self.closing or self._line_fault or not (self._bot_speaking or self._reply_pending):
            return  # counted once per line; between lines nothing was lost
        self.degraded["tts"] = self.degraded.get("tts", 0) + 1
        if self._bot_speaking:
            self._line_fault = True
            return
        if self._line_retried or self.current is None:
            await self.end_failed("TTS gave no audio for the line, twice", spoken=False)
            return
        self._line_retried = True
        step, words = self.current, None
        if not self._llm_line and self._queued is not None:
            step, words = self._queued
        elif step.kind is StepKind.FOLLOW_UP:  # the LLM's words are lost: the plan's instead
            step = self.plan.next_question(step.answer, reason="TTS lost the follow-up")
        logger.warning(f"{self}: the line produced no audio; saying it again")
        await self._stop_line_watch()
        await self.say(step, words)
        await self._watch_line(self.faults.line_s, "TTS gave no audio for the line")
        if words is None:
            await self._after_direct(step)  # a new step: it may be the closing one

    def llm_replied(self) -> None:
        """A reply from the LLM was heard: failures are counted in a row."""
        self._llm_streak = 0

    async def end_failed(self, reason: str, *, spoken: bool) -> None:
        """End now as ``failed``: the page is told in text; with ``spoken`` an apology first."""
        if self.outcome is Outcome.FAILED:
            return
        logger.error(f"{self}: ending the interview: {reason}")
        self.outcome, self.outcome_reason = Outcome.FAILED, reason
        await self._silence.stop()
        await self._stop_line_watch()
        await self.push_frame(
            RTVIServerMessageFrame(
                data={"type": "interview-ended", "outcome": Outcome.FAILED.value, "reason": reason}
            )
        )
        if spoken and self.current is not None:
            line = APOLOGY_LINE.format(name=self.plan.candidate_name)
            await self.say(self.plan.abandon(line), line)
        self.plan.finished = True
        await self._end.arm(f"failed: {reason}")
        await self._end.fire()

    async def _watch_line(self, within_s: float, failure: str) -> None:
        """The queued line must start playing within ``within_s``, or ``failure`` happened."""
        await self._stop_line_watch()
        self._line_watch = self.create_task(self._line_deadline(within_s, failure), "line")

    async def _line_deadline(self, within_s: float, failure: str) -> None:
        await self._clock.sleep(within_s)
        self._line_watch = None
        if failure.startswith("LLM"):
            await self.llm_failed(failure)
        else:
            await self.end_failed(failure, spoken=False)

    async def _stop_line_watch(self) -> None:
        task, self._line_watch = self._line_watch, None
        if task is not None and task is not asyncio.current_task():
            await self.cancel_task(task)

    # --- for the conductor ------------------------------------------------------------
    async def _after_direct(self, step: Step) -> None:
        if step.kind is StepKind.CLOSING:
            self.outcome, self.outcome_reason = Outcome.COMPLETED, step.reason or ALL_ASKED
            await self._end.arm(f"interview completed: {step.reason}")
        else:
            await self._end.disarm()  # the answer went on past a goodbye: the interview goes on

    # --- silence ----------------------------------------------------------------------
    async def _on_silence(self, action: SilenceAction) -> None:
        if not self._expects_answer():
            return
        silent = self._silence.clock.silent_s(self._clock.now())
        logger.info(f"{self}: candidate silent for {silent:.1f}s: {action.value}")
        if self.plan.budget_spent():
            await self.wrap_up(Outcome.COMPLETED, TIME_BUDGET)
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
        self._silence.clock.pause(self._clock.now())
        await self.say(step, text)

    async def cleanup(self) -> None:
        await self._silence.cancel()
        await self._stop_line_watch()
        await super().cleanup()
