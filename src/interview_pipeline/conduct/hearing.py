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
from typing import Any

from interview_pipeline.conduct.plan import Step, StepKind

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
