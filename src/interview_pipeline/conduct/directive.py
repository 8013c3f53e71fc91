"""How the conductor tells the LLM what to say next: a developer message in the context.

The message is plain language a cloud LLM follows, with a first line and ``>>>`` lines that
the scripted interviewer parses, so both read the same instruction from the same context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from interview_pipeline.conduct.plan import Step, StepKind
from interview_pipeline.personas.schema import Persona

HEADER = "[interview step:"
_HEADER_RE = re.compile(r"^\[interview step: (?P<kind>[a-z_]+)(?: \| question=(?P<qid>[^\s|\]]+))?")
_MORE_RE = re.compile(r"say more about: (?P<topics>.+?)\.$", re.MULTILINE)


def system_instruction(persona: Persona) -> str:
    """Durable identity and rules; per-turn guidance arrives as developer messages."""
    c, who = persona.company, persona.interviewer
    title = f", {who.title}" if who.title else ""
    context = f" About the company: {c.context}" if c.context else ""
    return (
        f"You are {who.name}{title} at {c.name}, interviewing a candidate for the "
        f"{c.role_title} role.{context} Your style: {persona.style}. "
        "Your responses will be spoken aloud, so avoid emojis, bullet points, or other "
        "formatting that can't be spoken. The interview follows a fixed plan: each turn you "
        "receive an instruction starting with '[interview step:'. Follow it exactly. Never "
        "skip, reorder or invent questions, never evaluate or score the candidate aloud, "
        "and keep acknowledgements to one short sentence."
    )


def render(step: Step) -> str:
    """The developer message for a step that goes through the LLM."""
    head = f"{HEADER} {step.kind.value}"
    if step.question_id:
        head += f" | question={step.question_id} | {step.number}/{step.total}"
    head += "]"
    ack = (
        "Acknowledge the candidate's last answer in one short, natural sentence, "
        "without judging it and without asking anything. "
        if step.acknowledge
        else ""
    )
    if step.kind is StepKind.FOLLOW_UP:
        topics = ", ".join(step.missing) if step.missing else "a concrete example"
        body = (
            f"{ack}Then ask one short follow-up question about the current question, "
            f"inviting the candidate to say more about: {topics}."
        )
    elif step.kind is StepKind.CLOSING:
        body = f"{ack}Then say this closing line word for word:\n>>> {step.verbatim}"
    else:
        body = f"{ack}Then ask this question word for word:\n>>> {step.verbatim}"
    return f"{head}\n{body}"


@dataclass(frozen=True)
class ParsedDirective:
    kind: StepKind
    question_id: str | None
    verbatim: str
    acknowledge: bool
    topics: tuple[str, ...]


def parse(text: str) -> ParsedDirective | None:
    """Read a directive back from a developer message (for the scripted interviewer)."""
    m = _HEADER_RE.match(text.strip())
    if not m:
        return None
    verbatim = "\n".join(line[4:] for line in text.splitlines() if line.startswith(">>> ")).strip()
    more = _MORE_RE.search(text)
    topics: tuple[str, ...] = ()
    if more and more.group("topics") != "a concrete example":
        topics = tuple(t.strip() for t in more.group("topics").split(",") if t.strip())
    return ParsedDirective(
        kind=StepKind(m.group("kind")),
        question_id=m.group("qid"),
        verbatim=verbatim,
        acknowledge="Acknowledge" in text,
        topics=topics,
    )
