"""The report as one self-contained HTML page, for hiring managers rather than programs.

Inline CSS and no scripts, fonts or images: the page can be saved, mailed or opened
offline and looks the same. Every piece of text is escaped, since quotes come from what
a candidate said (and an LLM's rationale is no more trustworthy).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

from interview_pipeline.conduct.evaluation import RECOMMENDATION_RULE
from interview_pipeline.conduct.report_model import (
    CriterionScore,
    Evidence,
    QuestionReport,
    Report,
)
from interview_pipeline.personas.schema import Persona

_RECOMMENDATION = {
    "strong_yes": ("Strong yes", "#1a7f37"),
    "yes": ("Yes", "#2da44e"),
    "lean_no": ("Lean no", "#bf8700"),
    "no": ("No", "#cf222e"),
    "insufficient_data": ("Insufficient data", "#6e7781"),
}
_STATUS = {
    "answered": ("Answered", "ok"),
    "not_answered": ("Not answered", "bad"),
    "asked": ("Asked, cut off", "warn"),
    "not_asked": ("Not asked", "skip"),
}

_CSS = """
:root { color-scheme: light; --ink:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0; background: var(--bg); }
main { max-width: 860px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 12px; }
h3 { font-size: 16px; margin: 0; }
.meta, .muted { color: var(--muted); font-size: 13px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px;
  margin: 12px 0; }
.banner { border-radius: 8px; padding: 10px 14px; margin: 12px 0; background: #fff8c5;
  border: 1px solid #d4a72c; }
.overall { display: flex; gap: 20px; align-items: center; flex-wrap: wrap; }
.rec { color: #fff; font-weight: 600; padding: 6px 14px; border-radius: 999px; }
.big { font-size: 28px; font-weight: 700; }
.head { display: flex; justify-content: space-between; gap: 12px; align-items: baseline; }
.dots { letter-spacing: 2px; font-size: 18px; color: #0969da; white-space: nowrap; }
blockquote { margin: 10px 0 0; padding: 6px 12px; border-left: 3px solid #0969da;
  background: var(--bg); border-radius: 0 6px 6px 0; }
blockquote cite { display: block; font-style: normal; color: var(--muted); font-size: 12px; }
.badge { font-size: 12px; font-weight: 600; padding: 2px 8px; border-radius: 999px;
  white-space: nowrap; }
.ok { background: #dafbe1; color: #1a7f37; } .bad { background: #ffebe9; color: #cf222e; }
.warn { background: #fff8c5; color: #9a6700; } .skip { background: #eaeef2; color: #57606a; }
.chip { display: inline-block; font-size: 12px; padding: 1px 8px; margin: 2px 4px 0 0;
  border-radius: 999px; border: 1px solid var(--line); }
.chip.found { background: #dafbe1; border-color: #aceebb; }
.chip.missing { color: var(--muted); text-decoration: line-through; }
@media print { body { background: #fff; } .card { break-inside: avoid; } }
"""


@dataclass(frozen=True)
class ConsentNote:
    """What the candidate accepted on their page; ``accepted_at`` None = no acceptance stored."""

    accepted_at: float | None = None
    version: str = ""
    text_sha256: str = ""


def _consent(note: ConsentNote) -> str:
    if note.accepted_at is None:
        return (
            '<div class="banner">No acceptance of the recording and AI-evaluation notice was '
            "stored for this session.</div>"
        )
    when = datetime.fromtimestamp(note.accepted_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f'<p class="meta">Candidate accepted the recording and AI-evaluation notice version '
        f"<b>{_e(note.version)}</b> at {_e(when)} (text sha256 {_e(note.text_sha256[:12])}…)</p>"
    )


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def _evidence(item: Evidence) -> str:
    where = f"turn {item.turn} · {_clock(item.at_s)}"
    if item.question_id:
        where += f" · question {item.question_id}"
    return f"<blockquote>“{_e(item.quote)}”<cite>{_e(where)}</cite></blockquote>"


def _criterion(c: CriterionScore, total_weight: float) -> str:
    if c.score is None:
        score = '<span class="muted">not scored</span>'
    else:
        dots = "●" * c.score + "○" * (5 - c.score)
        score = f'<span class="dots" title="{c.score} of 5">{dots}</span> {c.score}/5'
    share = f"{100 * c.weight / total_weight:.0f}% of the score" if total_weight else ""
    if c.evidence:
        quotes = "".join(_evidence(e) for e in c.evidence)
    elif c.keywords:
        quotes = (
            '<p class="muted">No candidate sentence matched this criterion\'s words: '
            f"{_e(', '.join(c.keywords))}.</p>"
        )
    else:
        quotes = '<p class="muted">No quoted evidence.</p>'
    words = ""
    if c.keywords and c.evidence:
        chips = "".join(
            f'<span class="chip{" found" if k in c.keywords_heard else " missing"}">{_e(k)}</span>'
            for k in c.keywords
        )
        words = f'<div class="muted">Looked for: {chips}</div>'
    return (
        f'<section class="card"><div class="head"><h3>{_e(c.name)}</h3><div>{score}</div></div>'
        f'<div class="meta">{_e(c.id)} · {_e(share)}</div>'
        f"<p>{_e(c.rationale)}</p>{quotes}{words}</section>"
    )


def _question(n: int, q: QuestionReport) -> str:
    label, cls = _STATUS.get(q.status, (q.status, "skip"))
    chips = "".join(f'<span class="chip found">✓ {_e(m)}</span>' for m in q.mentions_found)
    chips += "".join(f'<span class="chip missing">{_e(m)}</span>' for m in q.mentions_missing)
    heard = q.status in ("answered", "not_answered")
    points = f'<div class="muted">Expected points: {chips}</div>' if chips and heard else ""
    return (
        f'<section class="card"><div class="head"><h3>{n}. {_e(q.text)}</h3>'
        f'<span class="badge {cls}">{_e(label)}</span></div>'
        f"<p>{_e(q.summary)}</p>{points}</section>"
    )


def render_report_html(
    report: Report,
    persona: Persona,
    consent: ConsentNote | None = None,
    timeline_svg: str = "",
) -> str:
    """A readable page for one report; ``persona`` supplies the role and company names,
    ``consent`` (when given) says what the candidate agreed to before the interview, and
    ``timeline_svg`` (from ``conduct.timeline_svg``, already escaped) is shown when given."""
    rec_label, rec_colour = _RECOMMENDATION.get(
        report.overall.recommendation, (report.overall.recommendation, "#6e7781")
    )
    score = "—" if report.overall.score is None else f"{report.overall.score:.1f}"
    heuristic = report.method == "heuristic"
    method = (
        "Heuristic scoring (keyword coverage and answer length; no model judgement)"
        if heuristic
        else f"Scored by a language model ({report.method.removeprefix('llm:')})"
    )
    banners = ""
    if heuristic:
        banners += (
            '<div class="banner">These scores are a transparent heuristic, not a judgement '
            "of quality: read the quotes and summaries before deciding anything.</div>"
        )
    if report.partial:
        banners += '<div class="banner">The interview ended early; this report is partial.</div>'
    total_weight = sum(c.weight for c in report.criteria)
    criteria = "".join(_criterion(c, total_weight) for c in report.criteria)
    questions = "".join(_question(i, q) for i, q in enumerate(report.questions, 1))
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    title = f"Interview report: {persona.company.role_title} at {persona.company.name}"
    rule = (
        RECOMMENDATION_RULE
        if heuristic
        else (
            "the model's recommendation, except that fewer than half the questions answered is "
            "always insufficient data; the basis says where the coverage rule differs."
        )
    )
    timeline = f"<h2>Timeline</h2>\n{timeline_svg}" if timeline_svg else ""
    when = report.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>{_e(title)}</h1>
<div class="meta">Interviewer {_e(persona.interviewer.name)} · persona {_e(report.persona_id)}
 · generated {_e(when)} · {_e(method)}</div>
{_consent(consent) if consent is not None else ""}
{banners}
<section class="card overall">
<span class="rec" style="background:{rec_colour}">{_e(rec_label)}</span>
<span><span class="big">{_e(score)}</span><span class="muted"> / 5</span></span>
<div style="flex:1 1 300px"><p style="margin:0">{_e(report.overall.summary)}</p>
<p class="muted" style="margin:4px 0 0">{_e(report.overall.basis)}</p></div>
</section>
<p class="muted">How the recommendation is made: {_e(rule)}</p>
{timeline}
<h2>Rubric</h2>
{criteria or '<p class="muted">The persona has no rubric.</p>'}
<h2>Questions</h2>
{questions}
<h2>Notes</h2>
<ul class="muted">{notes}</ul>
</main></body></html>
"""
