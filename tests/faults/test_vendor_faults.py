"""Fault injection on the cloud path: pipecat's real Deepgram, OpenAI and ElevenLabs services
against the loopback fakes, with the fakes' failure knobs turned (HTTP status, hang, close
mid-stream, refuse reconnects, process gone). Each case says what the candidate heard (the
interviewer lines that were played), the outcome and its reason, the transcript kept, and how
long the interview took to end after the fault.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from interview_pipeline.conduct.lines import APOLOGY_LINE
from interview_pipeline.fakes import (
    DeepgramFake,
    ElevenLabsFake,
    OpenAIFake,
    cloud_settings,
    interviewer_responder,
    tone_synth,
)
from interview_pipeline.simulate import (
    SimulationResult,
    load_persona,
    load_script,
    run_simulation,
)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "fixtures" / "scripts" / "maya_happy.yaml"
QUESTION_2 = "How do you handle feedback you disagree with?"

pytestmark = pytest.mark.slow


@dataclass
class Vendors:
    deepgram: DeepgramFake
    openai: OpenAIFake
    elevenlabs: ElevenLabsFake


@asynccontextmanager
async def vendors() -> AsyncIterator[Vendors]:
    async with (
        DeepgramFake(finalize_delay_s=0.25) as deepgram,
        OpenAIFake(interviewer_responder, first_token_delay_s=0.2) as openai,
        # Nobody listens to the interviewer here: a tone keeps the TTS timing off the CPU.
        ElevenLabsFake(tone_synth, first_audio_delay_s=0.075) as elevenlabs,
    ):
        yield Vendors(deepgram, openai, elevenlabs)


async def _interview(
    v: Vendors, out: Path, *, kill_llm: bool = False, **settings: Any
) -> SimulationResult:
    values = {"llm_timeout_s": 1.0, "llm_retries": 1, "tts_timeout_s": 4.0, **settings}
    s = cloud_settings(v.deepgram, v.openai, v.elevenlabs, **values)
    if kill_llm:
        await v.openai.stop()  # the vendor process is gone: connections refused
    persona, _ = load_persona(s, "maya")
    return await run_simulation(
        s, persona, load_script(SCRIPT), out, echo=lambda _: None, with_avatar=False
    )


def _said(result: SimulationResult) -> list[str]:
    return [t.text for t in result.turns if t.speaker == "interviewer"]


def _answers(result: SimulationResult) -> list[str]:
    return [t.text for t in result.turns if t.speaker == "candidate"]


async def test_llm_errors_on_every_request_the_plan_carries_the_interview(tmp_path: Path) -> None:
    async with vendors() as v:
        v.openai.faults.status = 500
        result = await _interview(v, tmp_path / "out")
    said = _said(result)
    # The questions and the goodbye were heard verbatim, with no LLM.
    assert any(QUESTION_2 in line for line in said), said
    assert said[-1].endswith("Have a lovely day!"), said
    assert result.outcome == "completed"
    assert result.metrics["degraded"].get("llm", 0) >= 2
    assert len(_answers(result)) == 2
    assert v.openai.faults.hit >= 2  # the fake really refused (a withdrawn guess cancels one)
    assert (tmp_path / "out" / "transcript.json").exists()


async def test_llm_that_never_answers_is_timed_out_and_then_ends_cleanly(tmp_path: Path) -> None:
    async with vendors() as v:
        v.openai.faults.hang = True
        t0 = time.monotonic()
        result = await _interview(v, tmp_path / "out", llm_failures_to_end=1)
        took = time.monotonic() - t0
    said = _said(result)
    assert result.outcome == "failed" and "LLM" in (result.metrics["outcome_reason"] or "")
    assert said[-1] == APOLOGY_LINE.format(name="Sam")
    assert len(_answers(result)) >= 1  # the answer before the fault is kept
    # Greeting + first answer (~15 s of audio) + 2 x 1 s timeouts + the apology: well under a
    # minute, never the 22-minute budget.
    assert took < 60
    assert (tmp_path / "out" / "metrics.json").exists()


async def test_llm_process_gone_the_interview_goes_on_verbatim(tmp_path: Path) -> None:
    async with vendors() as v:
        result = await _interview(v, tmp_path / "out", kill_llm=True)
    assert result.outcome == "completed"
    assert any(QUESTION_2 in line for line in _said(result))


async def test_tts_gone_mid_interview_ends_failed_within_seconds(tmp_path: Path) -> None:
    async with vendors() as v:
        ended: dict[str, float] = {}

        async def kill_tts_after_first_answer() -> None:
            while not v.openai.completions:  # noqa: ASYNC110 (polling the fake: the first reply is being prepared)
                await asyncio.sleep(0.05)
            v.elevenlabs.faults.status = 503  # reconnects refused
            await v.elevenlabs.drop_connections()
            ended["fault"] = time.monotonic()

        killer = asyncio.create_task(kill_tts_after_first_answer())
        result = await _interview(v, tmp_path / "out")
        ended["end"] = time.monotonic()
        killer.cancel()
    assert result.outcome == "failed"
    assert "TTS" in (result.metrics["outcome_reason"] or "")
    assert ended["end"] - ended["fault"] < 20
    # What was said before the fault is kept: the greeting and the first answer.
    assert _said(result) and _answers(result)
    assert (tmp_path / "out" / "transcript.json").exists()


async def test_stt_drop_mid_answer_marks_the_answer_incomplete(tmp_path: Path) -> None:
    async with vendors() as v:

        async def drop_stt_inside_the_first_answer() -> None:
            # The first words of the answer came back: the candidate is mid-answer.
            while not any(  # noqa: ASYNC110 (polling the fake)
                "research" in str(r).lower() for c in v.deepgram.connections for r in c.results
            ):
                await asyncio.sleep(0.05)
            await v.deepgram.drop_connections()

        dropper = asyncio.create_task(drop_stt_inside_the_first_answer())
        result = await _interview(v, tmp_path / "out")
        dropper.cancel()
    answers = [t for t in result.turns if t.speaker == "candidate"]
    assert answers, "the answer before the drop is kept"
    assert answers[0].meta.get("incomplete") is True, [t.to_dict() for t in answers]
    assert result.metrics["degraded"].get("stt", 0) >= 1
    # The interview went on (a follow-up on the half-heard answer took the script's last
    # answer, so it may end with the script): never a hang, never a failure.
    assert result.outcome in ("completed", "script_ended")
