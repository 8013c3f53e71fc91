"""Patience: the interviewer does not take the turn while the candidate is mid-thought.

Smart Turn judges the end of a turn from the voice alone, and on a thinking pause after
"... and to find it, I first," it can say "complete" (it did, on the Piper-voiced fixture,
1.5 s into a 4 s pause). The words say otherwise: nobody finishes an answer on "I first",
"and", "the" or "um". So when Smart Turn calls the turn complete but the transcript so far
ends unfinished, the strategy keeps waiting, up to the persona's ``max_thinking_pause_s``
of silence counted from the end of speech. Any new speech cancels the wait and the turn
simply goes on; silence until the limit ends the turn as before.

The cost of a wrong "unfinished" is bounded and visible (a reply up to the max pause
late); a wrong "finished" is the cut-in we are fixing. So the word rules aim at precision:
only endings that are practically never the end of an answer. Complete answers keep
Smart Turn's latency untouched, because the check runs only after Smart Turn said done.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

from loguru import logger
from pipecat.audio.turn.base_turn_analyzer import BaseTurnAnalyzer
from pipecat.frames.frames import (
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import TurnAnalyzerUserTurnStopStrategy

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
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


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


# --- the stop strategy ----------------------------------------------------------------

#: Below this, holding the turn is not worth a log line and a task.
_MIN_HOLD_S = 0.1
#: How long to wait for the words of speech that resumed within the turn. Segmented STT
#: sends them ~0.3-1 s after VAD stops; pipecat would otherwise decide on the words from
#: before the pause (its STT wait collapses to 0 when VAD stop >= the STT p99 latency).
_WORDS_GRACE_S = 2.0


@dataclass
class PatienceStats:
    """What patience did in one interview (for the log, metrics and the design note)."""

    #: Turns Smart Turn called complete that the words said were unfinished.
    holds: int = 0
    #: Of those, the candidate went on speaking: each one is a cut-in avoided.
    resumed: int = 0
    #: Of those, the candidate stayed silent up to the max pause: the turn ended anyway.
    released: int = 0


class PatientTurnStopStrategy(TurnAnalyzerUserTurnStopStrategy):
    """Smart Turn decides from the voice; unfinished words can hold it, up to the max pause.

    Only pipecat's public strategy surface is used: frames seen in ``process_frame``, the
    turn boundary callbacks, and ``trigger_user_turn_stopped``, which is where the base
    class announces its decision and where this class may postpone it. Two postponements:
    waiting for the words of speech that resumed after a pause (so the decision reads the
    whole turn), and holding a turn whose words are unfinished.
    """

    def __init__(
        self,
        *,
        turn_analyzer: BaseTurnAnalyzer,
        max_pause_s: float,
        **kwargs: Any,
    ):
        super().__init__(turn_analyzer=turn_analyzer, **kwargs)
        self.max_pause_s = max_pause_s
        self.stats = PatienceStats()
        self._heard: list[str] = []
        #: Whether the newest speech in this turn has been transcribed yet.
        self._fresh = True
        self._speech_end: float | None = None
        self._hold: asyncio.Task[None] | None = None
        self._hold_since = 0.0
        self._words_wait: asyncio.Task[None] | None = None
        self._frames_flag: bool | None = None

    @property
    def holding(self) -> bool:
        return self._hold is not None

    def heard(self) -> str:
        return " ".join(self._heard)

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._fresh = False
            if self._hold is not None:
                waited = time.monotonic() - self._hold_since
                self.stats.resumed += 1
                logger.info(f"{self}: candidate went on after {waited:.1f}s: no cut-in")
                await self._cancel_hold()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            # VAD reports the stop ``stop_secs`` after speech really ended.
            self._speech_end = time.monotonic() - frame.stop_secs
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._heard.append(frame.text.strip())
            self._fresh = True
        result = await super().process_frame(frame)
        if isinstance(frame, TranscriptionFrame) and self._words_wait is not None:
            await self._cancel_words_wait()
            await self._decide(self._frames_flag)
        return result

    async def handle_user_turn_started(self) -> None:
        await self._forget()
        await super().handle_user_turn_started()

    async def handle_user_turn_stopped(self) -> None:
        await self._forget()
        await super().handle_user_turn_stopped()

    async def cleanup(self) -> None:
        await self._forget()
        await super().cleanup()

    async def trigger_user_turn_stopped(
        self, *, enable_user_speaking_frames: bool | None = None
    ) -> None:
        if self._hold is not None or self._words_wait is not None:
            return  # already postponed; that task (or the transcript) decides
        if self._heard and not self._fresh:
            self._frames_flag = enable_user_speaking_frames
            self._words_wait = self.task_manager.create_task(
                self._decide_after(_WORDS_GRACE_S), f"{self}::words"
            )
            return
        await self._decide(enable_user_speaking_frames)

    async def _decide(self, enable_frames: bool | None) -> None:
        verdict = judge_transcript(self.heard())
        speech_end = self._speech_end if self._speech_end is not None else time.monotonic()
        left = speech_end + self.max_pause_s - time.monotonic()
        if verdict.unfinished and left > _MIN_HOLD_S:
            self.stats.holds += 1
            self._hold_since = time.monotonic()
            logger.info(
                f"{self}: turn sounds complete but {verdict.reason}; "
                f"waiting up to {left:.1f}s more for the candidate to go on"
            )
            self._hold = self.task_manager.create_task(
                self._release_after(left, enable_frames), f"{self}::patience"
            )
            return
        await super().trigger_user_turn_stopped(enable_user_speaking_frames=enable_frames)

    async def _decide_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._words_wait = None
        logger.debug(f"{self}: no words for the last speech; deciding on what was heard")
        await self._decide(self._frames_flag)

    async def _release_after(self, delay: float, enable_frames: bool | None) -> None:
        await asyncio.sleep(delay)
        self._hold = None
        self.stats.released += 1
        logger.info(f"{self}: no more speech within the max pause: ending the turn")
        await super().trigger_user_turn_stopped(enable_user_speaking_frames=enable_frames)

    async def _cancel_hold(self) -> None:
        task, self._hold = self._hold, None
        if task is not None and task is not asyncio.current_task():
            await self.task_manager.cancel_task(task)

    async def _cancel_words_wait(self) -> None:
        task, self._words_wait = self._words_wait, None
        if task is not None and task is not asyncio.current_task():
            await self.task_manager.cancel_task(task)

    async def _forget(self) -> None:
        self._heard.clear()
        self._fresh = True
        self._speech_end = None
        await self._cancel_hold()
        await self._cancel_words_wait()
