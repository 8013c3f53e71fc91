"""The interview as a picture: who spoke when, question boundaries, pauses, interruptions and
silence nudges, drawn as one inline SVG from the transcript's turns.

Drawn here, in Python, so the same picture is on the review page and in the self-contained
report HTML (no script, no external reference, no ``url(...)``; every text is escaped). On the
review page the script reads ``data-x0``/``data-scale`` from the root to move the playhead and
each turn's ``data-t`` to seek when it is clicked; the report ignores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from interview_pipeline.transcript import Turn

#: A silence between turns at least this long is drawn as a pause.
PAUSE_S = 3.0
NUDGE_KINDS = {"nudge": "silence nudge", "repeat": "question repeated after a silence"}

_W = 1000.0
_X0 = 92.0  # the lane labels' column
_LANE_H = 22.0
_Y_MARKS = 20.0  # question labels and nudge/interruption marks
_Y_IV = 34.0
_Y_CD = _Y_IV + _LANE_H + 8
_Y_PAUSE = _Y_CD + _LANE_H + 8
_Y_AXIS = _Y_PAUSE + 14
_H_PLOT = _Y_AXIS + 18
_COLOURS = {
    "interviewer": "#0969da",
    "candidate": "#1a7f37",
    "pause": "#8c959f",
    "interrupted": "#cf222e",
    "nudge": "#9a6700",
    "unrecorded": "#eaeef2",
}
_TICKS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def _clock(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class TimelineFacts:
    """What the picture shows, counted (also its text alternative)."""

    interviewer_s: float
    candidate_s: float
    questions: int
    pauses: list[tuple[float, float]]
    interruptions: list[float]
    nudges: list[tuple[float, str]]

    def describe(self) -> str:
        return (
            f"Interviewer spoke {_clock(self.interviewer_s)}, candidate {_clock(self.candidate_s)}; "
            f"{self.questions} question(s); {len(self.pauses)} pause(s) of {PAUSE_S:g} s or more; "
            f"{len(self.interruptions)} interruption(s); {len(self.nudges)} silence nudge(s)."
        )


def timeline_facts(turns: Sequence[Turn]) -> TimelineFacts:
    ordered = sorted(turns, key=lambda t: t.start)
    pauses = []
    last_end: float | None = None
    for t in ordered:
        if last_end is not None and t.start - last_end >= PAUSE_S:
            pauses.append((last_end, t.start))
        last_end = t.end if last_end is None else max(last_end, t.end)
    spoken = {"interviewer": 0.0, "candidate": 0.0}
    for t in ordered:
        spoken[t.speaker] = spoken.get(t.speaker, 0.0) + max(0.0, t.end - t.start)
    return TimelineFacts(
        interviewer_s=spoken["interviewer"],
        candidate_s=spoken["candidate"],
        questions=len(_boundaries(ordered)),
        pauses=pauses,
        interruptions=[t.end for t in ordered if t.interrupted],
        nudges=[(t.start, NUDGE_KINDS[t.kind]) for t in ordered if t.kind in NUDGE_KINDS],
    )


def _boundaries(ordered: Sequence[Turn]) -> list[tuple[float, str]]:
    """(start, question id) of the first interviewer turn of each question."""
    seen: dict[str, float] = {}
    for t in ordered:
        if t.speaker == "interviewer" and t.question_id and t.question_id not in seen:
            seen[t.question_id] = t.start
    return [(at, qid) for qid, at in seen.items()]


def _tick_step(duration: float) -> int:
    return next((s for s in _TICKS if duration / s <= 10), _TICKS[-1])


def render_timeline_svg(
    turns: Sequence[Turn],
    *,
    recorded_s: float | None = None,
    seqs: Sequence[int] | None = None,
    question_numbers: dict[str, int] | None = None,
) -> str:
    """The timeline of ``turns``. ``recorded_s``: how much of it the recording holds (the rest is
    greyed and labelled); ``seqs``: each turn's sequence number, put on its bar as ``data-seq``;
    ``question_numbers``: question id to its number in the plan, for the labels."""
    order = sorted(range(len(turns)), key=lambda i: turns[i].start)
    ordered = [turns[i] for i in order]
    facts = timeline_facts(ordered)
    end = max([t.end for t in ordered] + [recorded_s or 0.0, 1.0])
    scale = (_W - _X0 - 10) / end
    x = lambda s: _X0 + max(0.0, s) * scale  # noqa: E731
    out: list[str] = []
    add = out.append
    add(f'<rect x="{_X0}" y="{_Y_IV - 4}" width="{_W - _X0 - 10:.1f}" '
        f'height="{_Y_PAUSE + 10 - _Y_IV:.1f}" fill="#f6f8fa"/>')  # fmt: skip
    if recorded_s is not None and recorded_s < end - 0.5:
        add(f'<rect x="{x(recorded_s):.1f}" y="{_Y_IV - 4}" width="{x(end) - x(recorded_s):.1f}" '
            f'height="{_Y_PAUSE + 10 - _Y_IV:.1f}" fill="{_COLOURS["unrecorded"]}">'
            f"<title>not in the recording (it stops at {_clock(recorded_s)})</title></rect>")  # fmt: skip
        add(f'<text x="{x(end) - 4:.1f}" y="{_Y_PAUSE + 6}" text-anchor="end" class="tl-small">'
            "not recorded</text>")  # fmt: skip
    add(f'<text x="4" y="{_Y_IV + 15}" class="tl-lane">Interviewer</text>')
    add(f'<text x="4" y="{_Y_CD + 15}" class="tl-lane">Candidate</text>')
    add(f'<text x="4" y="{_Y_PAUSE + 6}" class="tl-small">Pauses</text>')
    numbers = question_numbers or {}
    for n, (at, qid) in enumerate(_boundaries(ordered), 1):
        label = f"Q{numbers.get(qid, n)}"
        add(f'<line x1="{x(at):.1f}" y1="{_Y_MARKS - 6}" x2="{x(at):.1f}" y2="{_Y_AXIS}" '
            'stroke="#57606a" stroke-dasharray="3 3" stroke-width="1"/>')  # fmt: skip
        add(f'<text x="{x(at) + 3:.1f}" y="{_Y_MARKS - 8}" class="tl-q">{_e(label)}'
            f"<title>question {_e(qid)} asked at {_clock(at)}</title></text>")  # fmt: skip
    for i, t in zip(order, ordered, strict=True):
        y = _Y_IV if t.speaker == "interviewer" else _Y_CD
        width = max(1.5, (t.end - t.start) * scale)
        seq = f' data-seq="{seqs[i]}"' if seqs is not None else ""
        what = f"{_clock(t.start)}–{_clock(t.end)} {t.speaker}"
        if t.kind:
            what += f" ({t.kind})"
        if t.interrupted:
            what += ", interrupted"
        text = t.text if len(t.text) <= 120 else t.text[:117] + "…"
        add(f'<rect class="tl-turn" x="{x(t.start):.1f}" y="{y}" width="{width:.1f}" '
            f'height="{_LANE_H}" rx="2" fill="{_COLOURS[t.speaker]}" data-t="{t.start:.2f}"{seq}>'
            f"<title>{_e(what)}: {_e(text)}</title></rect>")  # fmt: skip
    for start, stop in facts.pauses:
        add(f'<rect x="{x(start):.1f}" y="{_Y_PAUSE}" width="{(stop - start) * scale:.1f}" '
            f'height="6" fill="{_COLOURS["pause"]}" data-t="{start:.2f}">'
            f"<title>pause of {stop - start:.1f} s at {_clock(start)}</title></rect>")  # fmt: skip
    for at in facts.interruptions:
        cx = x(at)
        add(f'<path d="M{cx - 5:.1f} {_Y_MARKS} L{cx + 5:.1f} {_Y_MARKS} L{cx:.1f} {_Y_MARKS + 9}Z" '
            f'fill="{_COLOURS["interrupted"]}" data-t="{at:.2f}">'
            f"<title>interrupted at {_clock(at)}</title></path>")  # fmt: skip
    for at, what in facts.nudges:
        cx = x(at)
        add(f'<path d="M{cx:.1f} {_Y_MARKS - 1} L{cx + 5:.1f} {_Y_MARKS + 4} L{cx:.1f} '
            f'{_Y_MARKS + 9} L{cx - 5:.1f} {_Y_MARKS + 4}Z" fill="{_COLOURS["nudge"]}" '
            f'data-t="{at:.2f}"><title>{_e(what)} at {_clock(at)}</title></path>')  # fmt: skip
    step = _tick_step(end)
    for s in range(0, int(end) + 1, step):
        add(f'<line x1="{x(s):.1f}" y1="{_Y_AXIS - 3}" x2="{x(s):.1f}" y2="{_Y_AXIS + 1}" '
            'stroke="#57606a"/>')  # fmt: skip
        add(f'<text x="{x(s):.1f}" y="{_Y_AXIS + 13}" text-anchor="middle" class="tl-small">'
            f"{_clock(s)}</text>")  # fmt: skip
    add(f'<line id="tl-playhead" x1="{_X0}" y1="{_Y_MARKS - 6}" x2="{_X0}" y2="{_Y_AXIS}" '
        'stroke="#000" stroke-width="2" visibility="hidden"/>')  # fmt: skip
    legend = _legend(_H_PLOT + 6)
    height = _H_PLOT + 28
    return (
        f'<svg class="timeline" role="img" aria-labelledby="tl-title tl-desc" '
        f'viewBox="0 0 {_W:.0f} {height:.0f}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'data-x0="{_X0}" data-scale="{scale:.6f}" data-end="{end:.2f}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">'
        '<title id="tl-title">Interview timeline</title>'
        f'<desc id="tl-desc">{_e(facts.describe())}</desc>'
        "<style>.tl-lane{font-size:13px;fill:#1f2328}.tl-small{font-size:11px;fill:#57606a}"
        ".tl-q{font-size:12px;font-weight:600;fill:#1f2328}.tl-turn{cursor:pointer}</style>"
        f"{''.join(out)}{legend}</svg>"
    )


def _legend(y: float) -> str:
    items = [
        ("rect", _COLOURS["interviewer"], "interviewer speaking"),
        ("rect", _COLOURS["candidate"], "candidate speaking"),
        ("rect", _COLOURS["pause"], f"pause ≥ {PAUSE_S:g} s"),
        ("tri", _COLOURS["interrupted"], "interrupted"),
        ("dia", _COLOURS["nudge"], "silence nudge"),
        ("line", "#57606a", "question starts"),
    ]
    out, x = [], _X0
    for shape, colour, label in items:
        if shape == "rect":
            out.append(f'<rect x="{x}" y="{y}" width="14" height="10" fill="{colour}"/>')
        elif shape == "tri":
            out.append(f'<path d="M{x} {y} L{x + 12} {y} L{x + 6} {y + 10}Z" fill="{colour}"/>')
        elif shape == "dia":
            out.append(
                f'<path d="M{x + 6} {y - 1} L{x + 12} {y + 5} L{x + 6} {y + 11} L{x} {y + 5}Z" '
                f'fill="{colour}"/>'
            )
        else:
            out.append(
                f'<line x1="{x + 6}" y1="{y - 2}" x2="{x + 6}" y2="{y + 12}" stroke="{colour}" '
                'stroke-dasharray="3 3"/>'
            )
        out.append(f'<text x="{x + 18}" y="{y + 9}" class="tl-small">{_e(label)}</text>')
        x += 18 + 7 * len(label) + 18
    return "".join(out)
