"""Frames the turn-taking parts exchange (frames as data, as in pipecat)."""

from __future__ import annotations

from dataclasses import dataclass

from pipecat.frames.frames import ControlFrame, SystemFrame


@dataclass
class ListeningCueFrame(SystemFrame):
    """The interviewer is waiting longer than usual for the candidate to go on.

    Sent by the stop strategy while it holds a turn; the avatar shows it is listening (a
    small nod), which takes nothing from the candidate: no word, no sound. A system frame
    so that a reply held at the ``ReplyGate`` does not hold the cue back too.
    """

    listening: bool = True


@dataclass
class ReplyHoldFrame(ControlFrame):
    """The reply that follows answers a turn that may not be over: hold it unheard.

    Sent by the conductor in front of a speculative reply, in order with it, so the gate
    after TTS knows to hold what comes next until the turn is confirmed.
    """


@dataclass
class QuestionContextFrame(SystemFrame):
    """The question the candidate is about to answer, for STT that can use context.

    Sent upstream by the conductor when a question is asked. Local Whisper takes it as its
    decoder prompt, so the question's own domain words are recognised more reliably; other
    providers let it pass. It carries the question only, never what a good answer mentions.
    """

    text: str = ""
