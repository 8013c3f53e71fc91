"""``interview-pipeline simulate``: a whole interview, offline, from recorded answers.

All input is checked before anything runs, output goes to a temporary folder beside the
target and is moved into place only when the interview finished, so a bad script or a
crash never leaves a half-written result where a real one is expected.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger
from pipecat.frames.frames import EndWorkerFrame
from pipecat.transports.base_transport import TransportParams
from pipecat.workers.runner import WorkerRunner
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from interview_pipeline.audio import AudioInputError, load_pcm16, speech_end_s
from interview_pipeline.config import Settings
from interview_pipeline.metrics import summarize, word_error_rate
from interview_pipeline.outcome import Outcome
from interview_pipeline.personas import Persona, PersonaLibrary
from interview_pipeline.transcript import FanoutSink, JsonlSink, Turn
from interview_pipeline.transports.replay import ReplayAnswer, ReplayTransport


class ScriptError(Exception):
    """The answers script is unusable; the message names the file and entry."""


class ScriptEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wav: str = Field(min_length=1)
    think_s: float = Field(1.0, ge=0.0, le=120.0)
    text: str | None = None
    #: Start while the interviewer is still speaking, this long after it began (barge-in).
    barge_in_after_s: float | None = Field(None, ge=0.0, le=120.0)


def load_script(path: Path) -> list[ReplayAnswer]:
    """Parse SCRIPT.yaml and load every WAV (paths are relative to the script)."""
    try:
        raw = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScriptError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, YAMLError) as exc:
        raise ScriptError(f"{path}: unreadable YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, list) or not raw:
        raise ScriptError(f"{path}: must be a non-empty list of {{wav, think_s, text}} entries")
    answers = []
    for i, item in enumerate(raw):
        try:
            entry = ScriptEntry.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "entry"
            raise ScriptError(f"{path}: [{i}].{field}: {err['msg']}") from None
        try:
            pcm = load_pcm16((path.parent / entry.wav).resolve())
        except AudioInputError as exc:
            raise ScriptError(f"{path}: [{i}].wav: {exc}") from None
        answers.append(
            ReplayAnswer(pcm, entry.think_s, entry.text, speech_end_s(pcm), entry.barge_in_after_s)
        )
    return answers


@dataclass
class SimulationResult:
    out_dir: Path
    outcome: Outcome
    turns: list[Turn]
    metrics: dict[str, Any]
    questions_asked: list[str]


class _ProgressSink:
    def __init__(self, echo: Callable[[str], None]):
        self._echo = echo

    def append(self, turn: Turn) -> None:
        who = "interviewer" if turn.speaker == "interviewer" else "candidate  "
        q = f" [{turn.question_id}]" if turn.question_id else ""
        cut = " (interrupted)" if turn.interrupted else ""
        text = turn.text if len(turn.text) < 90 else turn.text[:87] + "..."
        self._echo(f"{turn.start:7.1f}s {who}{q}{cut}: {text}")


def _voice_to_voice(transport: ReplayTransport) -> list[float | None]:
    """End of each replayed answer's speech → the interviewer's next audio."""
    out: list[float | None] = []
    for answer in transport.log.answers:
        later = [t for t in transport.log.bot_started if t > answer.speech_end]
        out.append(round(later[0] - answer.speech_end, 4) if later else None)
    return out


def _metrics(parts: Any, transport: ReplayTransport, turns: list[Turn]) -> dict[str, Any]:
    answers = transport.answers
    candidate_turns = [t for t in turns if t.speaker == "candidate"]
    v2v = _voice_to_voice(transport)
    per_turn = []
    for i, timing in enumerate(transport.log.answers):
        entry: dict[str, Any] = {
            "answer": i,
            "speech_end_s": round(timing.speech_end, 3),
            "voice_to_voice_s": v2v[i],
        }
        if i < len(parts.latency.turns):
            lat = parts.latency.turns[i]
            entry["ttfb_s"] = lat.ttfb
            entry["breakdown_s"] = {
                k: getattr(lat, k) for k in ("endpointing", "stt", "llm", "tts", "overhead")
            }
            entry["pipecat_voice_to_voice_s"] = lat.voice_to_voice
        reference = answers[i].text if i < len(answers) else None
        if reference and i < len(candidate_turns):
            entry["wer"] = round(word_error_rate(reference, candidate_turns[i].text), 4)
            entry["transcript"] = candidate_turns[i].text
        per_turn.append(entry)
    wers = [t["wer"] for t in per_turn if "wer" in t]
    return {
        "turns": per_turn,
        "summary": summarize(parts.latency.turns),
        "mean_wer": round(sum(wers) / len(wers), 4) if wers else None,
        "video_frames": transport.log.video_frames,
    }


async def run_simulation(
    settings: Settings,
    persona: Persona,
    answers: list[ReplayAnswer],
    out_dir: Path,
    *,
    candidate_name: str = "Sam",
    portrait: Path | None = None,
    echo: Callable[[str], None] = print,
    idle_end_s: float = 12.0,
    with_avatar: bool = True,
) -> SimulationResult:
    out_dir = out_dir.resolve()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        result = await _run(
            settings,
            persona,
            answers,
            tmp=tmp,
            candidate_name=candidate_name,
            portrait=portrait,
            echo=echo,
            idle_end_s=idle_end_s,
            with_avatar=with_avatar,
        )
        _move_into_place(tmp, out_dir)
        result.out_dir = out_dir
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def _run(
    settings: Settings,
    persona: Persona,
    answers: list[ReplayAnswer],
    *,
    tmp: Path,
    candidate_name: str,
    portrait: Path | None,
    echo: Callable[[str], None],
    idle_end_s: float,
    with_avatar: bool,
) -> SimulationResult:
    from interview_pipeline.recording import ConversationRecorder
    from pipelines import build_interview, transport_kwargs, wants_video

    video = with_avatar and wants_video(persona)
    transport = ReplayTransport(
        answers, params=TransportParams(**transport_kwargs(persona, video=video))
    )
    recorder = ConversationRecorder(tmp / "conversation.wav", tmp / "interviewer.wav")
    sink = FanoutSink(JsonlSink(tmp / "turns.jsonl"), _ProgressSink(echo))
    parts, worker = build_interview(
        persona,
        settings,
        transport,
        video=video,
        candidate_name=candidate_name,
        sink=sink,
        portrait=portrait,
        recorder=recorder,
    )

    @worker.event_handler("on_pipeline_started")
    async def _greet(_worker: Any, _frame: Any) -> None:
        await parts.conductor.begin()

    async def watchdog() -> None:
        """End an interview whose script ran out: nothing more will be said."""
        log = transport.log
        quiet_since = time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            if log.bot_started and log.bot_started[-1] > (log.bot_stopped or [0])[-1]:
                quiet_since = time.monotonic()
            elif log.answers and log.answers[-1].end > log.now() - 0.5:
                quiet_since = time.monotonic()
            if log.finished_script and time.monotonic() - quiet_since > idle_end_s:
                if parts.conductor.outcome is None:
                    parts.conductor.end_without_goodbye(Outcome.SCRIPT_ENDED)
                await worker.queue_frame(EndWorkerFrame(reason="answers script ended"))
                return

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    guard = asyncio.create_task(watchdog())
    budget = persona.time_budget_s + 120
    try:
        await asyncio.wait_for(runner.run(), timeout=budget)
    except Exception as exc:  # whatever failed, the folder says so and keeps what was said
        logger.exception("simulation failed")
        parts.conductor.end_without_goodbye(Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        guard.cancel()
    parts.transcript.flush()
    turns = parts.transcript.turns
    outcome = parts.conductor.outcome or Outcome.ENDED
    metrics = _metrics(parts, transport, turns)
    metrics["outcome"] = outcome
    metrics["outcome_reason"] = parts.conductor.outcome_reason
    metrics["degraded"] = dict(parts.conductor.degraded)
    policy = parts.fault_policy
    metrics["vendor_errors"] = {str(k): v for k, v in (policy.errors if policy else {}).items()}
    metrics["providers"] = {
        "stt": settings.resolved_stt().value,
        "llm": settings.resolved_llm().value,
        "tts": settings.resolved_tts().value,
    }
    transcript = {
        "persona": persona.id,
        "candidate": candidate_name,
        "outcome": outcome,
        "outcome_reason": parts.conductor.outcome_reason,
        "questions_asked": list(parts.conductor.plan.asked),
        "turns": [t.to_dict() for t in turns],
    }
    (tmp / "transcript.json").write_text(json.dumps(transcript, indent=2, ensure_ascii=False))
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (tmp / "turns.jsonl").unlink(missing_ok=True)
    logger.info(f"simulation finished: {outcome}")
    return SimulationResult(tmp, outcome, turns, metrics, list(parts.conductor.plan.asked))


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Swap the finished folder in; an old result is replaced only after success."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{int(time.time())}")
        out_dir.rename(old)
    shutil.copytree(tmp, out_dir) if tmp.parent != out_dir.parent else tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_persona(settings: Settings, persona_id: str) -> tuple[Persona, Path | None]:
    library = PersonaLibrary(
        settings.personas_dir, face_cache_dir=settings.resolved_face_cache_dir()
    )
    persona = library.load(persona_id)
    return persona, library.portrait(persona)
