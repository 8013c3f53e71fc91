"""The HTML report: readable, self-contained, and safe with hostile transcript text."""

from __future__ import annotations

from html.parser import HTMLParser

from interview_pipeline.conduct.evaluation import RECOMMENDATION_RULE, heuristic_report
from interview_pipeline.conduct.report_html import render_report_html

from .test_evaluation import FEEDBACK_ANSWER, PERSONA, transcript

VOID = {"meta", "br", "hr", "img", "link", "input"}


class Checker(HTMLParser):
    """Collects tags, attributes and text, and checks that tags nest properly."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    return checker


def test_page_shows_the_report() -> None:
    report = heuristic_report(PERSONA, transcript())
    page = render_report_html(report, PERSONA)
    checker = parse(page)
    text = " ".join(checker.text)
    assert "Interview report: Product Designer at Bluebird Health" in text
    assert "Design craft" in text and "Collaboration" in text
    assert "Not asked" in text and "Not answered" in text and "Answered" in text
    assert "Insufficient data" in text
    assert "heuristic" in text.lower()
    assert "I talk to users to understand the real problem before anything else." in text
    assert "turn 3" in text


def test_page_is_self_contained() -> None:
    page = render_report_html(heuristic_report(PERSONA, transcript(FEEDBACK_ANSWER)), PERSONA)
    checker = parse(page)
    tags = {tag for tag, _ in checker.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    for _, attrs in checker.tags:
        for value in attrs.values():
            assert not (value or "").startswith(("http:", "https:", "//"))
    assert "url(" not in page and "@import" not in page


def test_hostile_text_is_escaped() -> None:
    evil = "<script>alert('x')</script> I talk to users & research the problem <b>now</b>."
    turns = transcript()
    turns[3].text = evil
    report = heuristic_report(PERSONA, turns)
    report.overall.summary = '"><img src=x onerror=alert(1)>'
    page = render_report_html(report, PERSONA)
    checker = parse(page)
    assert {tag for tag, _ in checker.tags}.isdisjoint({"script", "img", "b"})
    assert "&lt;script&gt;" in page
    assert '"><img src=x onerror=alert(1)>' in " ".join(checker.text)


def test_llm_report_and_partial_banner() -> None:
    report = heuristic_report(PERSONA, transcript()[:7], partial=True)
    report.method = "llm:judge-1"
    page = render_report_html(report, PERSONA)
    text = " ".join(parse(page).text)
    assert "Scored by a language model (judge-1)" in text
    assert "this report is partial" in text
    assert "Asked, cut off" in text


def test_page_states_the_recommendation_rule_and_its_figures() -> None:
    report = heuristic_report(PERSONA, transcript(FEEDBACK_ANSWER, ask_tools=True))
    text = " ".join(parse(render_report_html(report, PERSONA)).text)
    assert RECOMMENDATION_RULE in text
    assert report.overall.basis and report.overall.basis in text
    assert "expected points (89%)" in text
    assert "Looked for:" in text  # the criterion's words, heard ones marked
