"""The timeline picture: well-formed SVG, one bar per turn, the marks it promises, escaped text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from interview_pipeline.conduct.timeline_svg import render_timeline_svg, timeline_facts
from interview_pipeline.transcript import Turn

SVG = "{http://www.w3.org/2000/svg}"


def turns() -> list[Turn]:
    return [
        Turn("interviewer", "Hello. First question?", 0.5, 6.0, question_id="q1", kind="opening"),
        Turn("candidate", "An answer <b>with</b> & marks", 7.0, 17.0, question_id="q1"),
        Turn("interviewer", "Second question?", 18.0, 22.0, question_id="q2", kind="question"),
        Turn("interviewer", "Take your time.", 34.0, 35.0, question_id="q2", kind="nudge"),
        Turn("candidate", "Well...", 36.0, 40.0, question_id="q2"),
        Turn("interviewer", "Thank", 40.5, 41.0, kind="closing", interrupted=True),
        Turn("candidate", "One more thing.", 41.0, 44.0),
    ]


def test_facts() -> None:
    facts = timeline_facts(turns())
    assert facts.questions == 2
    assert facts.pauses == [(22.0, 34.0)]  # 6 → 7 and 17 → 18 are under 3 s
    assert facts.interruptions == [41.0]
    assert facts.nudges == [(34.0, "silence nudge")]
    assert "2 question(s); 1 pause(s)" in facts.describe()


def test_svg_is_well_formed_and_marks_everything() -> None:
    svg = render_timeline_svg(turns(), recorded_s=30.0, seqs=list(range(1, 8)),
                              question_numbers={"q1": 1, "q2": 2})  # fmt: skip
    root = ET.fromstring(svg)  # well-formed, so the hostile text was escaped
    assert root.get("role") == "img" and root.get("aria-labelledby") == "tl-title tl-desc"
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "tl-turn"]
    assert [b.get("data-seq") for b in bars] == [str(i) for i in range(1, 8)]
    texts = " ".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert "Q1" in texts and "Q2" in texts and "not recorded" in texts
    titles = " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    assert "An answer <b>with</b> & marks" in titles
    assert "silence nudge at 0:34" in titles and "interrupted at 0:41" in titles
    assert "pause of 12.0 s" in titles
    assert "<b>" not in svg and "url(" not in svg and "<script" not in svg
    assert (
        float(root.get("data-scale", "0")) > 0
        and root.find(f".//{SVG}line[@id='tl-playhead']") is not None
    )


def test_empty_transcript_still_draws() -> None:
    root = ET.fromstring(render_timeline_svg([]))
    assert root.find(f"{SVG}desc") is not None
