"""The persona schema: what the product team may write in a persona YAML.

Unknown keys are errors (a typo must not silently fall back to a default), ids are safe
names (they become file names and URL parts), numbers are finite (``.inf`` seconds would
never time out), and spoken lines are templates checked and filled by ``template`` (only the
``PLACEHOLDERS``, never ``str.format``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from interview_pipeline.personas.template import check_template, render_template

SafeId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Interviewer(Strict):
    name: str = Field(min_length=1, max_length=60)
    title: str = ""


class Company(Strict):
    name: str = Field(min_length=1, max_length=120)
    role_title: str = Field(min_length=1, max_length=120)
    context: str = ""


class Voice(Strict):
    """Voice per TTS provider; the deployment chooses the provider, the persona the voice."""

    piper: str = "en_US-joe-medium"
    elevenlabs: str = "21m00Tcm4TlvDq8ikWAM"
    speed: float = Field(1.0, ge=0.5, le=2.0)


class LLMOverrides(Strict):
    model: str | None = None
    temperature: float = Field(0.6, ge=0.0, le=2.0)
    max_tokens: int = Field(300, ge=16, le=4096)


class AvatarRenderer(StrEnum):
    LOCAL = "local"
    HEDRA = "hedra"
    NONE = "none"


class Avatar(Strict):
    renderer: AvatarRenderer = AvatarRenderer.LOCAL
    #: Portrait path relative to the persona file; none → a generated illustrated face.
    image: str | None = None
    #: ``photo``: the face is found and the photo's own mouth and lids are animated.
    #: ``illustration``: a drawn face (like the generated one) gets the drawn mouth and lids
    #: at the layout's places; its features are not what a face detector is made for.
    style: Literal["photo", "illustration"] = "photo"
    width: int = Field(512, ge=64, le=1920)
    height: int = Field(512, ge=64, le=1920)
    fps: int = Field(25, ge=5, le=60)
    #: Frames per second while the interviewer is not speaking (default: half of ``fps``):
    #: a still face needs fewer, and every frame not sent is one not encoded.
    listening_fps: int | None = Field(None, ge=1, le=60)
    #: Ceiling for the camera track's bitrate.
    bitrate_kbps: int = Field(800, ge=100, le=8000)

    @property
    def idle_fps(self) -> int:
        return min(self.fps, self.listening_fps or max(1, self.fps // 2))

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be an even number of pixels (video encoders need it)")
        return v


class Question(Strict):
    id: SafeId
    text: str = Field(min_length=1)
    follow_ups: int = Field(0, ge=0, le=5)
    time_limit_s: float = Field(180.0, gt=0, le=3600)
    good_answer_mentions: list[str] = Field(default_factory=list)
    #: Whether the candidate may interrupt while this question is being asked.
    barge_in: bool | None = None
    #: Words of a full answer to this question (default: turn_taking.full_answer_words).
    expected_words: int | None = Field(None, ge=1, le=2000)

    _text = field_validator("text")(lambda cls, v: check_template(v))


class Criterion(Strict):
    id: SafeId
    name: str = Field(min_length=1)
    weight: float = Field(gt=0, le=100)
    description: str = Field(min_length=1)
    #: Words or phrases that show this criterion in an answer (stemmed match, like
    #: ``good_answer_mentions``): the offline scorer quotes the sentences that use them.
    #: Empty: the words of ``name`` and ``description`` are used instead.
    keywords: list[str] = Field(default_factory=list, max_length=50)


class TurnTaking(Strict):
    """How patient the interviewer is: candidates pause to think.

    The rule these settings tune is documented in personas/README.md ("Turn-taking").
    """

    #: Silence (s) before VAD reports a pause; the reply starts being prepared from here.
    vad_stop_s: float = Field(0.3, ge=0.1, le=3.0)
    #: Shortest silence (s) before the interviewer speaks after a full, finished answer.
    min_pause_s: float = Field(0.8, ge=0.1, le=10.0)
    #: Whether Smart Turn v3 judges if the candidate has finished.
    smart_turn: bool = True
    #: Longest thinking pause (s) before the interviewer takes the turn anyway; also how
    #: long it waits after unfinished words or an answer that has barely started.
    max_thinking_pause_s: float = Field(5.0, ge=0.5, le=30.0)
    #: Words of a full answer (per question ``expected_words`` overrides it): shorter
    #: answers that sound finished get more time, up to ``max_thinking_pause_s``.
    full_answer_words: int = Field(40, ge=1, le=2000)
    #: The candidate going on within this many seconds of the interviewer starting its
    #: reply is the same answer continuing: the reply stops and is rebuilt later.
    resume_window_s: float = Field(3.0, ge=0.0, le=15.0)
    #: Whether the candidate may interrupt the interviewer (per question overridable).
    barge_in: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> TurnTaking:
        if not self.vad_stop_s <= self.min_pause_s <= self.max_thinking_pause_s:
            raise ValueError("must satisfy vad_stop_s <= min_pause_s <= max_thinking_pause_s")
        return self


class Silence(Strict):
    nudge_after_s: float = Field(12.0, gt=0)
    repeat_after_s: float = Field(25.0, gt=0)
    abandon_after_s: float = Field(90.0, gt=0)
    nudge_line: str = "Take your time. Let me know when you're ready."

    _line = field_validator("nudge_line")(lambda cls, v: check_template(v))

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if not self.nudge_after_s < self.repeat_after_s < self.abandon_after_s:
            raise ValueError("must satisfy nudge_after_s < repeat_after_s < abandon_after_s")
        return self


#: Said on the candidate's page before they join unless the persona words it itself: the three
#: things a candidate must know before talking to an AI interviewer (recorded, evaluated by an
#: AI, kept for a while). Paragraphs are separated by a blank line.
DEFAULT_CONSENT_TEXT = (
    "This interview is conducted by an AI interviewer, {interviewer_name}, on behalf of "
    "{company_name}.\n\n"
    "Your voice and a written transcript of the conversation are recorded.\n\n"
    "Your answers are evaluated by an AI against the criteria for the {role_title} role; the "
    "evaluation is given to the {company_name} hiring team, who make the decision.\n\n"
    "The recording, transcript and evaluation are kept for up to 12 months and then deleted. "
    "You can ask {company_name} for a copy or for deletion at any time."
)
DEFAULT_END_SCREEN = (
    "Thank you for your time, {candidate_name}. Your interview has ended.\n\n"
    "The {company_name} hiring team will review it and contact you about the next steps."
)


class Consent(Strict):
    """The notice a candidate must accept before joining; its ``version`` is stored with their
    acceptance, so a later change of wording never rewrites what someone agreed to."""

    version: str = Field("default-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    text: str = Field(DEFAULT_CONSENT_TEXT, min_length=1, max_length=5000)

    _text = field_validator("text")(lambda cls, v: check_template(v))


class Persona(Strict):
    id: SafeId
    interviewer: Interviewer
    company: Company
    style: str = "warm, concise and professional"
    opening: str = Field(min_length=1)
    closing: str = Field(min_length=1)
    voice: Voice = Field(default_factory=Voice)
    llm: LLMOverrides = Field(default_factory=LLMOverrides)
    avatar: Avatar = Field(default_factory=Avatar)
    questions: list[Question] = Field(min_length=1, max_length=50)
    rubric: list[Criterion] = Field(default_factory=list)
    turn_taking: TurnTaking = Field(default_factory=TurnTaking)
    silence: Silence = Field(default_factory=Silence)
    #: Whole-interview budget in seconds; past it the interviewer wraps up.
    time_budget_s: float = Field(1800.0, gt=0, le=4 * 3600)
    #: Shown to the candidate before they join (see ``Consent``).
    consent: Consent = Field(default_factory=Consent)
    #: Shown to the candidate when the interview is over: what happens next (never scores).
    end_screen: str = Field(DEFAULT_END_SCREEN, min_length=1, max_length=2000)

    _lines = field_validator("opening", "closing", "end_screen")(lambda cls, v: check_template(v))

    @model_validator(mode="after")
    def _unique_ids(self) -> Persona:
        for kind, ids in (
            ("questions", [q.id for q in self.questions]),
            ("rubric", [c.id for c in self.rubric]),
        ):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    raise ValueError(f"{kind}: duplicate id {i!r}")
                seen.add(i)
        return self

    def placeholders(self, candidate_name: str) -> dict[str, str]:
        return {
            "candidate_name": candidate_name,
            "interviewer_name": self.interviewer.name,
            "company_name": self.company.name,
            "role_title": self.company.role_title,
            "question_count": str(len(self.questions)),
        }

    def render(self, template: str, candidate_name: str) -> str:
        """Fill a spoken line; safe on any text, so a line the schema never saw cannot fail."""
        return render_template(template, self.placeholders(candidate_name))

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def barge_in_for(self, question_id: str | None) -> bool:
        if question_id is not None:
            q = self.question(question_id)
            if q.barge_in is not None:
                return q.barge_in
        return self.turn_taking.barge_in
