"""The pause corpus: its manifest, its committed WAVs, its generator and the bench's scoring.

Cheap on purpose (no pipeline runs): bench/turns.py replays the corpus; these checks keep what it
replays honest, so a figure it prints means what it says.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from interview_pipeline.audio import load_pcm16, speech_end_s
from interview_pipeline.config import REPO_ROOT
from interview_pipeline.personas import Persona, PersonaLibrary
from interview_pipeline.personas.loader import load_persona_file
from tests.corpus_util import (
    RATE_LIMITER,
    Interview,
    Window,
    bench_persona,
    interviews,
    make_corpus,
    score_interview,
    summarize,
    write_persona_file,
)

RATE = make_corpus.RATE


@pytest.fixture(scope="module")
def manifest() -> Any:
    return make_corpus.load_manifest()


def _alex() -> Persona:
    return PersonaLibrary(REPO_ROOT / "personas").load("alex")


def test_manifest_has_enough_voices_pauses_and_answers(manifest: Any) -> None:
    answers = manifest.answers
    assert len(answers) >= 40
    voices = {a.voice for a in answers}
    assert len(voices) >= 3
    assert len({manifest.voices[v].engine for v in voices}) >= 2
    kinds = Counter(a.pause for a in answers)
    assert set(kinds) == set(make_corpus.PAUSE_KINDS)
    assert 0.4 <= kinds["none"] / len(answers) <= 0.6, kinds
    known = {q.id for q in _alex().questions} | {RATE_LIMITER.id}
    for interview in interviews([make_corpus.CorpusAnswer(a, Path(), None) for a in answers]):
        ids = interview.question_ids
        assert len(ids) == len(set(ids)) and set(ids) <= known, (interview.id, ids)
        assert len({a.entry.voice for a in interview.answers}) == 1, interview.id
    assert "piper" not in {v.engine for v in manifest.voices.values()}


def test_a_bad_manifest_entry_is_named(tmp_path: Path) -> None:
    text = make_corpus.MANIFEST.read_text(encoding="utf-8")
    bad = tmp_path / "corpus.yaml"
    bad.write_text(text.replace("voice: fl_slt", "voice: nobody", 1), encoding="utf-8")
    with pytest.raises(make_corpus.CorpusError, match=r"answers\[0\] \(i01-background\)\.voice"):
        make_corpus.load_manifest(bad)


def test_committed_wavs_match_their_timing(manifest: Any) -> None:
    fixtures = [make_corpus.fixture(manifest, fid) for fid in manifest.fixtures]
    assert sum(f.wav.stat().st_size for f in fixtures) < 2.1e6
    kinds = {f.entry.pause for f in fixtures}
    assert {"none", "sentence", "conjunction", "filler"} <= kinds
    assert len({f.entry.voice for f in fixtures}) >= 3
    for f in fixtures:
        pcm = load_pcm16(f.wav)
        t = f.timing
        assert abs(len(pcm) / RATE - t.duration_s) < 0.01, f.entry.id
        assert 5.0 <= t.duration_s <= 15.0, f.entry.id
        assert abs(speech_end_s(pcm) - t.speech_end_s) <= 0.03, f.entry.id
        if t.pause_start_s is not None:
            gap = pcm[int(t.pause_start_s * RATE) : int(t.pause_end_s * RATE)]
            assert np.abs(gap).max() == 0, f.entry.id
            assert abs(t.pause_end_s - t.pause_start_s - f.entry.pause_s) < 0.01


def test_generates_answers_deterministically_into_a_cache(manifest: Any, tmp_path: Path) -> None:
    missing = {"espeak-ng", "flite"} - set(make_corpus.engines_available())
    assert not missing, f"{sorted(missing)} missing: make setup installs them"
    fluent = next(a for a in manifest.answers if a.voice.startswith("es_") and a.pause == "none")
    paused = next(a for a in manifest.answers if a.voice.startswith("fl_") and a.pause != "none")
    built = make_corpus.build_all(manifest, [fluent.id, paused.id], tmp_path / "a")
    assert [b.entry.id for b in built] == [e.id for e in manifest.answers if e in (fluent, paused)]
    for b in built:
        assert 5.0 <= b.timing.duration_s <= 15.0
        assert b.wav.name.startswith(b.entry.id + "-") and b.wav.with_suffix(".json").is_file()
        pcm = load_pcm16(b.wav)
        assert abs(speech_end_s(pcm) - b.timing.speech_end_s) <= 0.03
    p = next(b for b in built if b.entry is paused).timing
    assert p.pause_start_s is not None and p.pause_end_s is not None
    assert p.speech_start_s < p.pause_start_s < p.pause_end_s < p.speech_end_s
    # A second run finds them in the cache; a fresh cache gets the same bytes.
    mtimes = [b.wav.stat().st_mtime_ns for b in built]
    again = make_corpus.build_all(manifest, [fluent.id, paused.id], tmp_path / "a")
    assert [b.wav.stat().st_mtime_ns for b in again] == mtimes
    fresh = make_corpus.build_all(manifest, [fluent.id], tmp_path / "b")
    same = next(b for b in built if b.entry is fluent)
    assert fresh[0].wav.read_bytes() == same.wav.read_bytes()


def test_bench_persona_asks_only_the_interviews_questions(manifest: Any, tmp_path: Path) -> None:
    answers = [make_corpus.fixture(manifest, fid) for fid in ("i06-databases", "i06-rate_limiter")]
    interview = Interview("i06", answers)
    persona = bench_persona(_alex(), interview)
    assert [q.id for q in persona.questions] == ["databases", "rate_limiter"]
    assert all(q.follow_ups == 0 for q in persona.questions)
    # The room mode hands it to the launcher as a file: it must load as written.
    loaded = load_persona_file(write_persona_file(tmp_path, persona))
    assert loaded.id == "turns-i06" and loaded.questions == persona.questions


def test_scoring_counts_cut_ins_lost_questions_and_attribution(manifest: Any) -> None:
    answers = [make_corpus.fixture(manifest, fid) for fid in ("i06-databases", "i06-rate_limiter")]
    interview = Interview("i06", answers)
    persona = bench_persona(_alex(), interview)
    q_db, q_rl = (q.text for q in persona.questions)
    w1 = Window.of(6.0, answers[0])  # paused: speech 6.2-8.8, pause 8.8-11.3, speech to 17.1
    w2 = Window.of(30.0, answers[1])
    # The interviewer took the turn in the first answer's pause, was talked over, and asked the
    # second question again only after the answer; the second answer was waited for.
    bot = [1.0, 9.8, 18.2, 30.0 + answers[1].timing.speech_end_s + 0.9]
    turns = [
        {"speaker": "interviewer", "text": f"Hi. {q_db}", "start": 0.9, "end": 5.0,
         "question_id": "databases"},
        {"speaker": "candidate", "text": "The first thing", "start": 6.3, "end": 8.8,
         "question_id": "databases"},
        {"speaker": "interviewer", "text": f"Thanks. {q_rl}", "start": 9.7, "end": 10.5,
         "question_id": "rate_limiter", "interrupted": True},
        {"speaker": "candidate", "text": "If it shows a sequential scan", "start": 11.4,
         "end": 17.1, "question_id": "rate_limiter"},
        {"speaker": "interviewer", "text": "Okay. Could you say more?", "start": 18.1,
         "end": 20.0, "question_id": "rate_limiter"},
        {"speaker": "candidate", "text": answers[1].entry.text, "start": 30.3, "end": 40.0,
         "question_id": "rate_limiter"},
    ]  # fmt: skip
    score = score_interview(
        interview,
        persona,
        outcome="completed",
        windows=[w1, w2],
        bot_starts=bot,
        bot_stops=[5.0, 10.5, 20.0, bot[-1] + 0.4],
        turns=turns,
    )
    first, second = score.answers
    assert [where for _, where in first.cut_ins] == ["pause"]
    assert first.turns_heard == 2 and first.question_ids_heard == ["databases", "rate_limiter"]
    assert not second.cut_ins and second.wait_s == pytest.approx(0.9, abs=0.01)
    assert second.wer == 0.0
    assert score.lost == ["rate_limiter"]  # only ever said in an interrupted line
    assert score.attribution_off == {"rate_limiter": 2}
    assert score.repeated == []
    assert score.short_bursts == 2  # 9.8-10.5 and the last one
    # Whole-interview WER: all the words said against all the words heard, whatever the turn.
    assert score.wer is not None and 0.3 < score.wer < 0.7
    summary = summarize([score])
    assert summary["answers_cut_in"] == 1 and summary["questions_lost"] == 1
    assert summary["answers_cut_in_at_max_pause"] == 0  # 2.5 s, under alex's 5 s
    assert summary["cut_in_by_pause_kind"] == {"filler": "0/1", "sentence": "1/1"}
    assert summary["wer_by_voice"]["fl_awb"] == pytest.approx(score.wer, abs=1e-3)
