"""Patience: how long the interviewer waits after the candidate stops, read from the answer.

Smart Turn judges the end of a turn from the voice alone, and on a thinking pause it often
says "complete": after "... and to find it, I first," (seen on the Piper-voiced fixture),
and after any complete sentence followed by a pause to think. Two readings of the words
decide how long to wait instead, always counted from the end of speech:

1. **Unfinished words** (``judge_transcript``): nobody finishes an answer on "I first",
   "and", "the", "um" or "let me think". These wait the persona's ``max_thinking_pause_s``.
   The rules aim at precision: only endings that are practically never the end of an answer.
2. **How far the answer has got** (``answer_progress``): the furthest of its length against
   a full answer to this question (``expected_words`` or ``turn_taking.full_answer_words``),
   the share of the question's "good answer mentions" it covers, and its complete sentences
   (one sentence counts nothing, ``FULL_SENTENCES`` a whole answer: a second point made).
   An answer under ``STARTED`` of the way waits the max pause like unfinished words; from
   ``FULL`` on it waits only ``min_pause_s``; in between the wait shrinks linearly. So a
   one-sentence answer to an open question gets the long wait, a two-point one the short.
   A question back ("could you repeat that?") or a plain "that's all" gets the short wait.

The cost of a wrong "wait" is bounded and visible (a reply up to the max pause late, with
the avatar nodding meanwhile); a wrong "go" is the cut-in this exists to prevent. And the
long wait costs the candidate nothing in latency once they do finish: the reply is prepared
while waiting (see ``turns/stop.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from interview_pipeline.conduct.plan import mentions_found

# --- the transcript check -------------------------------------------------------------

#: Words after which a clause must go on. Pronoun subjects have no verb yet; articles
#: and possessives have no noun yet; these conjunctions and prepositions have no object.
_DANGLING: dict[str, str] = {
    **dict.fromkeys(("and", "but", "or", "nor", "because", "cause", "if", "unless"), "conj"),
    **dict.fromkeys(("whereas", "whether", "than", "so"), "conj"),
    **dict.fromkeys(("a", "an", "the", "my", "our", "your", "their", "every"), "article"),
    **dict.fromkeys(("of", "into", "onto", "via", "like", "to"), "preposition"),
    **dict.fromkeys(("i", "we", "they", "he", "she"), "subject"),
    **dict.fromkeys(("i'm", "we're", "they're", "you're", "it's", "there's", "that's"), "subject"),
    **dict.fromkeys(("i've", "we've", "i'd", "we'd", "i'll", "we'll"), "subject"),
    **dict.fromkeys(("um", "uh", "uhm", "er", "erm", "hmm", "mm", "ah"), "filler"),
}
_SUBJECTS = frozenset(w for w, kind in _DANGLING.items() if kind == "subject") | {"you"}
_CONJ = frozenset(w for w, kind in _DANGLING.items() if kind == "conj")
#: Sequencing adverbs: unfinished right after a subject or conjunction ("I first", "and then").
_SEQUENCE = frozenset(
    (
        "first",
        "firstly",
        "then",
        "next",
        "also",
        "just",
        "actually",
        "basically",
        "initially",
        "eventually",
        "finally",
        "later",
        "immediately",
        "really",
        "usually",
        "probably",
    )
)
#: Complete answers that end on a listed word ("I think so", "I had to").
_COMPLETE_ENDINGS = (
    ("think", "so"),
    ("hope", "so"),
    ("guess", "so"),
    ("believe", "so"),
    ("suppose", "so"),
    ("afraid", "so"),
    ("said", "so"),
    ("even", "so"),
    ("or", "so"),
    ("so", "on"),
    ("so", "forth"),
    ("want", "to"),
    ("wanted", "to"),
    ("have", "to"),
    ("had", "to"),
    ("need", "to"),
    ("needed", "to"),
    ("love", "to"),
    ("like", "to"),
    ("going", "to"),
    ("used", "to"),
    ("tried", "to"),
    ("able", "to"),
    ("supposed", "to"),
    ("ought", "to"),
)
#: The candidate is thinking aloud, not answering yet.
_THINKING = re.compile(
    r"\b(let me (think|see)|give me a (second|sec|moment|minute)|good question"
    r"|where (do|should) i (start|begin)|how (do|should) i put (this|it))\b[^a-z]*$"
)
_TRAILING_OFF = re.compile(r"(,|;|:|-|\u2013|\u2014|\.\.\.|\u2026)\s*$")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class Verdict:
    unfinished: bool
    #: Human-readable why, for the log line that explains a held turn.
    reason: str = ""


def judge_transcript(text: str) -> Verdict:
    """Does the candidate's turn so far read like an unfinished sentence?"""
    clean = text.strip().lower().replace("\u2019", "'")
    if not clean:
        return Verdict(False)
    if clean.endswith("?"):  # a question back to the interviewer wants an answer now
        return Verdict(False)
    if _TRAILING_OFF.search(clean):
        return Verdict(True, f"trails off with {clean.rstrip()[-1]!r}")
    thinking = _THINKING.search(clean)
    if thinking:
        return Verdict(True, f"thinking aloud ({thinking.group(1)!r})")
    words = _WORD.findall(clean)
    if not words:
        return Verdict(False)
    last, prev = words[-1], words[-2] if len(words) > 1 else ""
    if (prev, last) in _COMPLETE_ENDINGS:
        return Verdict(False)
    if last in _DANGLING:
        return Verdict(True, f"ends on {last!r} ({_DANGLING[last]})")
    if last in _SEQUENCE and (prev in _SUBJECTS or prev in _CONJ):
        return Verdict(True, f"ends on {prev + ' ' + last!r} (no verb yet)")
    return Verdict(False)


# --- how far the answer has got ---------------------------------------------------------

#: The candidate says they are done, or cannot say more: no reason to wait longer.
_DONE = re.compile(
    r"\b(that's (all|it|about it)|that is (all|it)|i'm done|i am done|i don't know"
    r"|i do not know|no idea|nothing (else|more)|i'm not sure)\b[^a-z]*$"
)


#: Progress below which an answer has barely started, and from which it is a full one.
STARTED = 0.35
FULL = 0.8
#: Complete sentences of a multi-point answer.
FULL_SENTENCES = 2
_SENTENCE = re.compile(r"[^.!?]+[.!?]")


@dataclass(frozen=True)
class Expectation:
    """What a full answer to the current question looks like (from the persona)."""

    words: int
    mentions: tuple[str, ...] = ()


def answer_progress(text: str, expectation: Expectation) -> float:
    """0 = barely started, 1 = as long (or as complete) as a full answer."""
    words = len(_WORD.findall(text.lower()))
    by_length = words / max(1, expectation.words)
    sentences = sum(
        1 for m in _SENTENCE.finditer(text) if len(_WORD.findall(m.group().lower())) >= 3
    )
    by_points = max(0, sentences - 1) / (FULL_SENTENCES - 1)
    if expectation.mentions:
        found, _ = mentions_found(text, list(expectation.mentions))
        by_points = max(by_points, len(found) / len(expectation.mentions))
    return min(1.0, max(by_length, by_points))


@dataclass(frozen=True)
class Wait:
    """How long to wait after the end of speech, and why (for the log and the nod)."""

    seconds: float
    reason: str
    #: Longer than the persona's shortest pause: the avatar shows it is listening.
    patient: bool


def wait_after_speech(
    text: str,
    expectation: Expectation | None,
    *,
    min_pause_s: float,
    max_pause_s: float,
) -> Wait:
    """The rule in the module docstring: seconds of silence after speech before replying."""
    verdict = judge_transcript(text)
    if verdict.unfinished:
        return Wait(max_pause_s, verdict.reason, True)
    clean = text.strip().lower().replace("\u2019", "'")
    if expectation is None or clean.endswith("?") or _DONE.search(clean):
        return Wait(min_pause_s, "sounds finished", False)
    progress = answer_progress(text, expectation)
    if progress >= FULL:
        return Wait(min_pause_s, "a full answer", False)
    if progress < STARTED:
        started = f"the answer has barely started ({progress:.0%} of a full answer)"
        return Wait(max_pause_s, started, True)
    share = (progress - STARTED) / (FULL - STARTED)
    seconds = max_pause_s - share * (max_pause_s - min_pause_s)
    return Wait(seconds, f"the answer is {progress:.0%} of the way", seconds > min_pause_s + 0.05)
