"""One rubric criterion, judged offline: the words it looks for, its quotes and its score.

Each criterion is judged on its own evidence, so two criteria get different quotes and
different rationales unless the candidate really showed both in the same sentences:

* **Words**: the criterion's ``keywords`` in the persona when it lists them, else the words of
  its name and description (minus filler words). Matching is the stemmed word-sequence match
  that decides follow-ups (``plan.mentions_found``).
* **Quotes**: candidate sentences that use those words, the most distinct words first; one per
  question before a second from the same one, and a sentence another criterion already quoted
  only when nothing else matches. None match: no quote, and the rationale says so.
* **Score**: 60 % answer quality (expected-point coverage and length, the same for every
  criterion), 40 % how many of the criterion's own words were heard (3 distinct keywords
  count in full, not a share of answers: ownership may rightly show in one answer only; a
  criterion without ``keywords`` counts one word of its description in full).
"""

from __future__ import annotations

import math

from interview_pipeline.conduct.answers import Answers, sentences, words
from interview_pipeline.conduct.plan import mentions_found
from interview_pipeline.conduct.report_model import MAX_QUOTES, CriterionScore, Evidence, Score
from interview_pipeline.personas.schema import Criterion

QUALITY_SHARE = 0.6
#: Distinct criterion words heard that count as full evidence for the criterion.
WORDS_IN_FULL = 3
_STOP = frozenset(
    "a about an and answer answers are as at be by can clear clearly describes demonstrates does "
    "for from good has have how in into is it its of on or others shows that the their them "
    "they this to under uses well what when which who with work works".split()
)
_SCORES: tuple[Score, ...] = (1, 2, 3, 4, 5)


def to_score(quality: float) -> Score:
    """0-1 quality to 1-5, in equal bands (0.5 → 3)."""
    return _SCORES[min(4, max(0, math.floor(4 * quality + 0.5)))]


def criterion_words(criterion: Criterion) -> list[str]:
    if criterion.keywords:
        return list(dict.fromkeys(k.strip() for k in criterion.keywords if k.strip()))
    seen: dict[str, None] = {}
    for w in (w.strip("'") for w in words(f"{criterion.name} {criterion.description}".lower())):
        if w not in _STOP and len(w) > 2:
            seen.setdefault(w, None)
    return list(seen)


def _matches(answers: Answers, keywords: list[str]) -> list[tuple[list[str], int, int, str]]:
    """(words hit, turn index, offset, sentence) of every candidate sentence using the words,
    best first: most distinct words, then earliest."""
    found = []
    for index in answers.candidate:
        for offset, sentence in sentences(answers.turns[index].text):
            hit, _ = mentions_found(sentence, keywords)
            if hit:
                found.append((hit, index, offset, sentence))
    found.sort(key=lambda m: (-len(m[0]), m[1], m[2]))
    return found


def _pick(
    answers: Answers,
    matches: list[tuple[list[str], int, int, str]],
    used: set[tuple[int, int]],
) -> list[Evidence]:
    chosen: list[tuple[list[str], int, int, str]] = []
    # Unused and from a question not yet quoted; then unused; then anything.
    tiers = (
        lambda m, qs: (m[1], m[2]) not in used and answers.question_of.get(m[1], m[1]) not in qs,
        lambda m, qs: (m[1], m[2]) not in used,
        lambda m, qs: True,
    )
    for fits in tiers:
        for m in matches:
            if len(chosen) == MAX_QUOTES:
                break
            questions = {answers.question_of.get(c[1], c[1]) for c in chosen}
            if m not in chosen and fits(m, questions):
                chosen.append(m)
    used.update((m[1], m[2]) for m in chosen)
    chosen.sort(key=lambda m: (m[1], m[2]))  # in the order they were said
    return [answers.evidence(index, sentence) for _, index, _, sentence in chosen]


def judge_criterion(
    criterion: Criterion,
    answers: Answers,
    mean_quality: float,
    used: set[tuple[int, int]],
) -> CriterionScore:
    """``used``: sentences quoted by earlier criteria (updated with this one's quotes)."""
    keywords = criterion_words(criterion)
    judged = answers.judged()
    answered = answers.answered()
    if not answered:
        return CriterionScore(
            id=criterion.id,
            name=criterion.name,
            weight=criterion.weight,
            score=None,
            rationale="No answers to judge.",
            keywords=keywords,
        )
    matches = _matches(answers, keywords) if keywords else []
    heard = [k for k in keywords if any(k in m[0] for m in matches)]
    showing = {answers.question_of.get(m[1]) for m in matches} & {q.id for q in judged}
    # A description is prose, not a list of signals: one of its words heard is all it can give.
    in_full = WORDS_IN_FULL if criterion.keywords else 1
    evidence = min(1.0, len(heard) / in_full)
    quality = QUALITY_SHARE * mean_quality + (1 - QUALITY_SHARE) * evidence
    if not keywords:
        said = "this criterion gives no words to look for (list `keywords` in the persona)."
    elif matches:
        said = (
            f"heard {len(heard)} of its words ({', '.join(heard)}) in {len(showing)} of "
            f"{len(judged)} answers."
        )
    else:
        shown = ", ".join(keywords[:8]) + (", …" if len(keywords) > 8 else "")
        said = f"none of its words ({shown}) was heard, so there is no quote for it."
    rationale = (
        f"Heuristic: {said} Score: {QUALITY_SHARE:.0%} answer quality {mean_quality:.2f} "
        f"(expected points and length) + {1 - QUALITY_SHARE:.0%} its words heard "
        f"{evidence:.2f} ({in_full} or more count in full)."
    )
    return CriterionScore(
        id=criterion.id,
        name=criterion.name,
        weight=criterion.weight,
        score=to_score(quality),
        evidence=_pick(answers, matches, used),
        rationale=rationale,
        keywords=keywords,
        keywords_heard=heard,
    )
