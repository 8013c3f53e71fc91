"""The pause corpus as interviews, and how a replayed interview is scored.

Shared by bench/turns.py (which replays the corpus in simulate and in a LiveKit room) and
tests/test_corpus.py. Scoring takes plain times and transcript turns, not pipeline objects, so
the same rules apply whichever way the audio reached the bot and can be tested without running
one. Every time here is on one clock: the candidate's, as the replay or the room client saw it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from interview_pipeline.metrics import percentile, word_error_rate
from interview_pipeline.personas.schema import Avatar, AvatarRenderer, Persona, Question

CORPUS_DIR = Path(__file__).resolve().parent / "fixtures" / "corpus"


def _load_make_corpus() -> ModuleType:
    """tests/fixtures is not a package (it holds data); load the script by path, once."""
    name = "make_corpus"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CORPUS_DIR / "make_corpus.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


make_corpus = _load_make_corpus()
CorpusAnswer = make_corpus.CorpusAnswer

#: The open design question the shipped personas lack; asked by the bench persona.
RATE_LIMITER = Question(
    id="rate_limiter",
    text="How would you design a rate limiter for a public API?",
    follow_ups=0,
    time_limit_s=180,
    good_answer_mentions=["token bucket", "redis", "limit", "error"],
)
#: Fillers Whisper leaves out by design: counting them would score Whisper's style, not the voice.
FILLERS = {"um", "uh", "hmm", "er", "erm"}


@dataclass
class Interview:
    id: str
    answers: list[Any]  # list[CorpusAnswer]

    @property
    def voice(self) -> str:
        return str(self.answers[0].entry.voice)

    @property
    def question_ids(self) -> list[str]:
        return [a.entry.question for a in self.answers]


def interviews(answers: Sequence[Any], only: Sequence[str] | None = None) -> list[Interview]:
    """Answers grouped by their ``interview`` field, in manifest order."""
    grouped: dict[str, Interview] = {}
    for a in answers:
        iid = a.entry.interview
        if only is None or iid in only:
            grouped.setdefault(iid, Interview(iid, [])).answers.append(a)
    return list(grouped.values())


def bench_persona(alex: Persona, interview: Interview) -> Persona:
    """Alex as shipped, with a one-line greeting and goodbye and only this interview's questions.

    No follow-ups, so every answer is followed by the next question and each question gets
    exactly one answer: any other count in the transcript is a turn-taking fault.
    """
    pool = {q.id: q for q in alex.questions} | {RATE_LIMITER.id: RATE_LIMITER}
    questions = [pool[qid].model_copy(update={"follow_ups": 0}) for qid in interview.question_ids]
    return alex.model_copy(
        update={
            "id": f"turns-{interview.id}",
            "opening": "Hi {candidate_name}, thanks for joining.",
            "closing": "Thank you, {candidate_name}. Goodbye!",
            "questions": questions,
            "avatar": Avatar(renderer=AvatarRenderer.NONE),
        }
    )


def write_persona_file(folder: Path, persona: Persona) -> Path:
    """``persona`` as ``folder/ID.yaml``, for the launcher (which loads personas by id)."""
    from ruamel.yaml import YAML

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{persona.id}.yaml"
    with path.open("w", encoding="utf-8") as fh:
        YAML(typ="safe").dump(persona.model_dump(mode="json", exclude_none=True), fh)
    return path


# --- scoring ------------------------------------------------------------------------------------
@dataclass
class Window:
    """One replayed answer on the candidate's clock."""

    start: float
    speech_end: float
    pause_start: float | None = None
    pause_end: float | None = None

    @classmethod
    def of(cls, start: float, answer: Any) -> Window:
        t = answer.timing
        return cls(
            start,
            start + t.speech_end_s,
            None if t.pause_start_s is None else start + t.pause_start_s,
            None if t.pause_end_s is None else start + t.pause_end_s,
        )


@dataclass
class AnswerScore:
    id: str
    voice: str
    question: str
    pause: str
    pause_s: float
    #: Interviewer audio that began between the answer's start and its end of speech, as
    #: (seconds after the answer started, "speech" | "pause"): after the pause began is "pause".
    cut_ins: list[tuple[float, str]] = field(default_factory=list)
    #: End of speech -> the interviewer's next audio (None: nothing came).
    wait_s: float | None = None
    heard: str = ""
    turns_heard: int = 0
    question_ids_heard: list[str | None] = field(default_factory=list)
    wer: float | None = None


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def clean_wer(reference: str, hypothesis: str) -> float:
    """``word_error_rate`` without fillers on either side."""

    def strip(s: str) -> str:
        return " ".join(w for w in _norm(s).split() if w not in FILLERS)

    return word_error_rate(strip(reference), strip(hypothesis))


def score_answers(
    answers: Sequence[Any],
    windows: Sequence[Window | None],
    bot_starts: Sequence[float],
    candidate_turns: Sequence[dict[str, Any]],
) -> list[AnswerScore]:
    """Per answer: cut-ins, the wait after its speech, and what was heard.

    A candidate turn belongs to the answer that was playing (or had just played) when the turn
    ended: its start is when the pipeline first heard speech, which can be a previous answer's
    tail, so start times would attribute text to the wrong answer.
    """
    scores = []
    starts = [w.start if w else None for w in windows]
    for i, (answer, w) in enumerate(zip(answers, windows, strict=True)):
        e = answer.entry
        s = AnswerScore(e.id, e.voice, e.question, e.pause, e.pause_s)
        scores.append(s)
        if w is None:  # never played: the interview ended first
            continue
        for t in bot_starts:
            if w.start < t <= w.speech_end:
                where = "pause" if w.pause_start is not None and t >= w.pause_start else "speech"
                s.cut_ins.append((round(t - w.start, 3), where))
        later = [t for t in bot_starts if t > w.speech_end]
        s.wait_s = round(later[0] - w.speech_end, 3) if later else None
        until = next((x for x in starts[i + 1 :] if x is not None), float("inf"))
        mine = [t for t in candidate_turns if w.start < float(t["end"]) <= until]
        s.heard = " ".join(str(t["text"]) for t in mine).strip()
        s.turns_heard = len(mine)
        s.question_ids_heard = [t.get("question_id") for t in mine]
        s.wer = round(clean_wer(e.text, s.heard), 4)
    return scores


def questions_lost(
    asked: Sequence[str], question_text: dict[str, str], turns: Sequence[dict[str, Any]]
) -> list[str]:
    """Questions the plan counted as asked that no uninterrupted interviewer line contained."""
    said = [
        _norm(str(t["text"]))
        for t in turns
        if t["speaker"] == "interviewer" and not t.get("interrupted")
    ]
    return [q for q in asked if not any(_norm(question_text[q]) in line for line in said)]


def questions_repeated(question_text: dict[str, str], turns: Sequence[dict[str, Any]]) -> list[str]:
    """Questions spoken in full again without the silence rule asking for a repeat."""
    seen: set[str] = set()
    again = []
    for t in turns:
        if t["speaker"] != "interviewer" or t.get("interrupted") or t.get("kind") == "repeat":
            continue
        line = _norm(str(t["text"]))
        for qid, text in question_text.items():
            if _norm(text) in line:
                if qid in seen:
                    again.append(qid)
                seen.add(qid)
    return again


def attribution_off(question_ids: Sequence[str], turns: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Questions whose count of candidate turns in the transcript is not one, with the count."""
    counts = {q: 0 for q in question_ids}
    for t in turns:
        if t["speaker"] == "candidate":
            key = t.get("question_id") or "(none)"
            counts[key] = counts.get(key, 0) + 1
    return {q: n for q, n in counts.items() if n != 1 or q not in question_ids}


@dataclass
class InterviewScore:
    interview: str
    voice: str
    outcome: str
    answers: list[AnswerScore]
    asked: list[str]
    lost: list[str]
    attribution_off: dict[str, int]
    repeated: list[str] = field(default_factory=list)
    #: The transcript on the candidate's clock (text shortened), to see what happened.
    transcript: list[dict[str, Any]] = field(default_factory=list)
    #: What the candidate side saw: each answer's window, when interviewer audio started, and
    #: how far the transcript's clock was moved to match it.
    windows: list[dict[str, Any] | None] = field(default_factory=list)
    bot_starts: list[float] = field(default_factory=list)
    clock_offset_s: float = 0.0
    #: Everything the candidate said (the answers that played) against everything the
    #: transcript heard: recognition, whichever turn the words landed in.
    wer: float | None = None
    ref_words: int = 0
    #: Interviewer audio that stopped within a second of starting: a false start the
    #: candidate hears (a reply begun in a pause and then withdrawn).
    short_bursts: int = 0
    #: The persona's ``max_thinking_pause_s``: a longer pause may be taken as the end, by design.
    max_pause_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InterviewScore:
        """Back from JSON (bench workers send scores to their parent process)."""
        answers = [
            AnswerScore(**{**a, "cut_ins": [tuple(c) for c in a["cut_ins"]]})
            for a in data["answers"]
        ]
        return cls(**{**data, "answers": answers})


def score_interview(
    interview: Interview,
    persona: Persona,
    *,
    outcome: str,
    windows: Sequence[Window | None],
    bot_starts: Sequence[float],
    turns: Sequence[dict[str, Any]],
    asked: Sequence[str] | None = None,
    bot_stops: Sequence[float] = (),
) -> InterviewScore:
    """Score one replayed interview from what the candidate side saw and the transcript.

    Transcript times are on the bot's clock (which starts when its pipeline does, before the
    candidate's in a room); they are moved so the first interviewer turn starts with the first
    interviewer audio the candidate heard. ``asked`` defaults to the question ids the
    transcript shows the interviewer asking (a room client cannot see the plan).
    """
    opening = next((t for t in turns if t["speaker"] == "interviewer"), None)
    offset = float(bot_starts[0]) - float(opening["start"]) if opening and bot_starts else 0.0
    turns = [
        {**t, "start": float(t["start"]) + offset, "end": float(t["end"]) + offset} for t in turns
    ]
    if asked is None:
        asked = list(
            dict.fromkeys(
                str(t["question_id"])
                for t in turns
                if t["speaker"] == "interviewer" and t.get("question_id")
            )
        )
    candidate = [t for t in turns if t["speaker"] == "candidate"]
    texts = {q.id: q.text for q in persona.questions}
    said = " ".join(a.entry.text for a, w in zip(interview.answers, windows, strict=True) if w)
    heard = " ".join(str(t["text"]) for t in candidate)
    stops = sorted(bot_stops)
    bursts = sum(
        1 for b in bot_starts if (end := next((x for x in stops if x >= b), None)) and end - b < 1.0
    )
    return InterviewScore(
        interview.id,
        interview.voice,
        outcome,
        score_answers(interview.answers, windows, bot_starts, candidate),
        list(asked),
        questions_lost(asked, texts, turns),
        attribution_off(interview.question_ids, turns),
        questions_repeated(texts, turns),
        [
            {
                "speaker": t["speaker"],
                "start": round(float(t["start"]), 3),
                "end": round(float(t["end"]), 3),
                "question_id": t.get("question_id"),
                "kind": t.get("kind"),
                "interrupted": t.get("interrupted"),
                "text": str(t["text"])[:160],
            }
            for t in turns
        ],
        [
            None if w is None else {k: round(v, 3) if v else v for k, v in asdict(w).items()}
            for w in windows
        ],
        [round(t, 3) for t in bot_starts],
        round(offset, 3),
        round(clean_wer(said, heard), 4) if said else None,
        len([w for w in _norm(said).split() if w not in FILLERS]),
        bursts,
        persona.turn_taking.max_thinking_pause_s,
    )


def summarize(scores: Sequence[InterviewScore]) -> dict[str, Any]:
    """The figures of one mode: cut-ins, lost questions, waits, WER per voice."""
    answers = [a for s in scores for a in s.answers]
    played = [a for a in answers if a.wer is not None]
    fluent = [a.wait_s for a in played if a.pause == "none" and a.wait_s is not None]
    paused = [a.wait_s for a in played if a.pause != "none" and a.wait_s is not None]
    by_kind: dict[str, list[int]] = {}
    for a in played:
        cut, n = by_kind.setdefault(a.pause, [0, 0])
        by_kind[a.pause] = [cut + bool(a.cut_ins), n + 1]
    # Recognition per voice over whole interviews, weighted by words spoken.
    voices: dict[str, list[float]] = {}
    for sc in scores:
        if sc.wer is not None:
            errors, words = voices.setdefault(sc.voice, [0.0, 0.0])
            voices[sc.voice] = [errors + sc.wer * sc.ref_words, words + sc.ref_words]

    def pct(values: list[float], p: float) -> float | None:
        return round(percentile(values, p), 3) if values else None

    return {
        "interviews": len(scores),
        "answers": len(answers),
        "fluent_played": sum(a.pause == "none" for a in played),
        "played": len(played),
        "completed": sum(s.outcome == "completed" for s in scores),
        "answers_cut_in": sum(bool(a.cut_ins) for a in played),
        "cut_ins": sum(len(a.cut_ins) for a in played),
        "cut_ins_in_pause": sum(w == "pause" for a in played for _, w in a.cut_ins),
        "answers_cut_in_at_max_pause": sum(
            bool(a.cut_ins) and s.max_pause_s is not None and a.pause_s >= s.max_pause_s
            for s in scores
            for a in s.answers
        ),
        "cut_in_by_pause_kind": {k: f"{c}/{n}" for k, (c, n) in sorted(by_kind.items())},
        "questions_asked": sum(len(s.asked) for s in scores),
        "questions_lost": sum(len(s.lost) for s in scores),
        "attribution_off": sum(len(s.attribution_off) for s in scores),
        "questions_repeated": sum(len(s.repeated) for s in scores),
        "answers_split": sum(a.turns_heard > 1 for a in played),
        "answers_unheard": sum(a.turns_heard == 0 for a in played),
        "no_reply": sum(a.wait_s is None for a in played),
        "v2v_fluent_p50_s": pct(fluent, 50),
        "v2v_fluent_p95_s": pct(fluent, 95),
        "paused_wait_p50_s": pct(paused, 50),
        "paused_wait_max_s": round(max(paused), 3) if paused else None,
        "interviewer_bursts_under_1s": sum(s.short_bursts for s in scores),
        "wer_by_voice": {v: round(e / max(n, 1), 3) for v, (e, n) in sorted(voices.items())},
    }
