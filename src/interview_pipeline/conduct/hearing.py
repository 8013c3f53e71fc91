"""What the candidate heard: a planned question counts as asked only when it was spoken.

The assistant aggregator reports each line with what was actually played: with word
timestamps (ElevenLabs) the words spoken before an interruption, without them (Piper) the
sentences whose audio finished. A line cut off before its question was spoken to the end
did not ask it, so the plan must not count it, and the candidate's next words are more of
the previous answer. These helpers say whether a line's question was heard and rewrite
the LLM context when it was not: the unheard reply and its instruction are dropped, and
the two parts of the answer become one user message again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pipecat.processors.aggregators.llm_context import LLMContext

from interview_pipeline.conduct.plan import InterviewPlan, PlanState, Step, StepKind

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
#: How many of a question's last words must have been spoken for it to count as heard.
_TAIL_WORDS = 4


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def question_heard(step: Step, question_text: str | None, spoken: str) -> bool:
    """Whether the spoken part of an interrupted line reached the end of its question.

    A planned question is heard when its last words were spoken (in order, anywhere in
    the line, so a cloud LLM's acknowledgement before it does not matter). A follow-up
    is phrased by the LLM, so it is heard when a sentence ending in "?" was spoken.
    """
    if step.kind is StepKind.FOLLOW_UP or not question_text:
        return "?" in spoken
    tail = _words(question_text)[-_TAIL_WORDS:]
    said = _words(spoken)
    n = len(tail)
    return any(said[i : i + n] == tail for i in range(len(said) - n + 1))


def message_text(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict)).strip()
    return ""


def merge_continued_answer(messages: Sequence[Any], earlier: str) -> tuple[list[Any], str]:
    """Join the newest user message to the earlier answer it continues.

    Everything between the earlier answer and the newest message (the instruction for the
    reply that was not heard, and whatever of it was played) is dropped. When the earlier
    answer is not found (a context trimmed in between), the newest message is extended.
    """
    out = list(messages)
    if not out or not isinstance(out[-1], dict) or out[-1].get("role") != "user":
        return out, earlier
    newest = message_text(out[-1])
    merged = f"{earlier} {newest}".strip()
    for i in range(len(out) - 2, -1, -1):
        m = out[i]
        if isinstance(m, dict) and m.get("role") == "user" and message_text(m) == earlier:
            return [*out[:i], {"role": "user", "content": merged}], merged
    return [*out[:-1], {"role": "user", "content": merged}], merged


#: Lines that carry a question, which must be heard to count as asked.
ASKING = frozenset(
    {StepKind.OPENING, StepKind.QUESTION, StepKind.FOLLOW_UP, StepKind.REPEAT, StepKind.CLOSING}
)


@dataclass
class Reply:
    """A step chosen after an answer, and how to take it back if it is never heard."""

    step: Step
    answer: str
    #: The plan and the step before the answer was taken into account.
    before: PlanState
    prior: Step | None
    #: The plan after the step (for a speculative reply: applied only at commit).
    after: PlanState | None = None


@dataclass(frozen=True)
class LineVerdict:
    """Whether a spoken line's question was heard (the transcript labels lines by it)."""

    step: Step | None
    heard: bool
    #: A vendor failed while the line played: it is written as cut, whatever the text says.
    faulted: bool = False


class Hearing:
    """The conductor's memory of what was heard: which reply is unconfirmed, and why.

    ``unheard`` is the reply to the last answer until its question is heard; ``unasked`` a
    scripted line with a question (greeting, repeat) until it is heard. ``resumed`` marks a
    reply cut off inside the resume window: the same answer going on, whatever was heard.
    """

    def __init__(self) -> None:
        self.unheard: Reply | None = None
        self.unasked: Step | None = None
        self.resumed = False
        #: Replies rebuilt because the candidate went on before hearing their question.
        self.rebuilt = 0
        #: The question the candidate is answering: the last one they heard asked.
        self.answering: str | None = None
        self._verdict: tuple[Step | None, LineVerdict] | None = None

    def line_started(self, step: Step, *, scripted: bool) -> None:
        self._verdict = None
        self.resumed = False
        if scripted and step.kind in (StepKind.OPENING, StepKind.REPEAT):
            self.unasked = step

    def cut_off(self, elapsed_s: float, window_s: float) -> None:
        """The line was interrupted ``elapsed_s`` after it started playing."""
        if self.unheard is not None:
            self.resumed = elapsed_s <= window_s

    def judge(
        self, step: Step | None, question_text: str | None, spoken: str, interrupted: bool
    ) -> LineVerdict:
        """Idempotent per line: the recorder and the conductor may both ask, in any order."""
        if self._verdict is not None and self._verdict[0] is step:
            return self._verdict[1]
        heard = True
        if step is not None and step.kind in ASKING:
            heard = not interrupted or (
                not self.resumed and question_heard(step, question_text, spoken)
            )
        verdict = LineVerdict(step, heard)
        self._verdict = (step, verdict)
        if heard:
            if step is not None and step.kind is not StepKind.NUDGE:
                self.answering = step.question_id
            self.unheard = self.unasked = None
        elif step is not None:
            logger.info(f"{step.kind.value} line cut off before its question was heard")
        return verdict

    def choose(
        self,
        plan: InterviewPlan,
        current: Step | None,
        context: LLMContext,
        answer: str,
        *,
        apply: bool,
    ) -> Reply:
        """The step after this answer; one that continues an unheard reply's answer redoes it.

        With ``apply`` the plan takes the step (a confirmed turn); without, it is only
        previewed (a speculative reply) and taken at commit. ``context`` is rewritten when
        the answer continues: more of the same answer, and the plan goes back to before it.
        """
        before, prior = plan.snapshot(), current
        if self.unheard is not None:
            messages, answer = merge_continued_answer(context.get_messages(), self.unheard.answer)
            context.set_messages(messages)
            before, prior = self.unheard.before, self.unheard.prior
        now = plan.snapshot()
        plan.restore(before)
        step = plan.after_answer(answer)
        after = plan.snapshot()
        if not apply:
            plan.restore(now)
        return Reply(step, answer, before, prior, after)

    def adopt(self, reply: Reply) -> None:
        """The reply is being said: it stays unconfirmed until its question is heard."""
        if self.unheard is not None:
            self.rebuilt += 1
            logger.info("candidate went on before hearing the reply; rebuilt it")
        self.unheard, self.unasked = reply, None
