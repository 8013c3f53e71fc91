"""The interviewer bot in a LiveKit room: one interview, one pipeline, one process.

``prewarm`` loads everything heavy (imports, VAD, Smart Turn, Whisper, Piper) so a pooled
process starts a session fast. ``run_bot`` joins the room, synthesises the greeting while
waiting (it is held at the join gate), and plays it the moment the candidate arrives.
A candidate who drops gets ``reconnect_grace_s`` to come back ("welcome back", same
question); otherwise the session is abandoned with its transcript kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger
from pipecat.transports.livekit.transport import LiveKitParams
from pipecat.workers.runner import WorkerRunner

from interview_pipeline import providers
from interview_pipeline.config import ConfigError, Settings
from interview_pipeline.outcome import Outcome, OutcomeReport
from interview_pipeline.personas.schema import Persona
from interview_pipeline.transcript import TranscriptSink
from interview_pipeline.transports.livekit import InterviewLiveKitTransport

StatusCallback = Callable[[str, str | None], None]
#: Longest the bot waits for its greeting's audio before saying it is ready anyway.
GREETING_WAIT_S = 10.0


_SHARED_WARM = False


def prewarm_shared(settings: Settings, *, fork_safe: bool = True) -> None:
    """What a template process loads once for every bot it forks: nothing here starts a thread."""
    global _SHARED_WARM
    if _SHARED_WARM:
        return
    providers.prewarm(settings, fork_safe=fork_safe)
    from pipecat.audio.vad.silero import SileroVADAnalyzer

    from interview_pipeline.turns.smart_turn import smart_turn_session

    SileroVADAnalyzer()
    smart_turn_session()
    import pipelines.interview  # noqa: F401
    import pipelines.voice_only  # noqa: F401

    _SHARED_WARM = True


def prewarm(settings: Settings) -> None:
    """Everything heavy, before any session is assigned (in a fork: only what is still missing)."""
    prewarm_shared(settings, fork_safe=False)
    providers.prewarm(settings)


async def run_bot(
    settings: Settings,
    persona: Persona,
    *,
    room_name: str,
    token: str,
    candidate_name: str,
    sink: TranscriptSink,
    on_status: StatusCallback | None = None,
    portrait: Path | None = None,
    stop: asyncio.Event | None = None,
    recording_path: Path | None = None,
    candidate_identity: str | None = None,
) -> OutcomeReport:
    """Run one interview in ``room_name``; return completed, abandoned, stopped or failed."""
    if not settings.livekit_url:
        raise ConfigError("the bot needs LIVEKIT_URL (the LiveKit server to join)")

    def status(value: str, reason: str | None = None) -> None:
        if on_status:
            on_status(value, reason)

    from pipelines import build_interview, transport_kwargs, wants_video

    video = wants_video(persona)
    transport = InterviewLiveKitTransport(
        settings.livekit_url,
        token,
        room_name,
        # The persona's bitrate (800 kbit/s by default: LiveKit's default preset caps 512x512
        # at 20 fps, measured).
        params=LiveKitParams(
            **transport_kwargs(persona, video=video),
            video_out_max_bitrate=persona.avatar.bitrate_kbps * 1000,
        ),
    )
    recorder = None
    if recording_path is not None:
        from interview_pipeline.recording import ConversationRecorder

        recorder = ConversationRecorder(recording_path)
    parts, worker = build_interview(
        persona,
        settings,
        transport,
        video=video,
        rtvi=True,
        candidate_name=candidate_name,
        sink=sink,
        portrait=portrait,
        recorder=recorder,
        hold_until_joined=True,
    )
    conductor = parts.conductor
    grace: dict[str, asyncio.Task[None] | None] = {"task": None}
    announcer: dict[str, asyncio.Task[None] | None] = {"task": None}

    def is_candidate(participant_id: str) -> bool:
        return candidate_identity is None or participant_id == candidate_identity

    async def _announce_when_greeting_held() -> None:
        # "waiting_for_candidate" promises that a candidate who joins now hears the greeting
        # at once, so it waits for the synthesis (bounded: a slow TTS must not hide the bot).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(parts.gate.greeting_ready.wait(), GREETING_WAIT_S)
        if not parts.gate.is_open:
            status("waiting_for_candidate")

    @worker.event_handler("on_pipeline_started")
    async def _ready(_w: Any, _f: Any) -> None:
        await conductor.begin()  # synthesised now, held at the gate
        announcer["task"] = asyncio.create_task(_announce_when_greeting_held())

    async def _candidate_here() -> None:
        if parts.gate.is_open:
            return
        logger.info("candidate joined")
        await parts.gate.open()
        status("in_progress")

    @transport.event_handler("on_first_participant_joined")
    async def _joined(_t: Any, participant_id: str) -> None:
        await _candidate_here()

    # LiveKit may batch the join notice of a participant who publishes nothing yet for up
    # to 3 s; their first track is an earlier sign they are there.
    @transport.event_handler("on_audio_track_subscribed")
    async def _track(_t: Any, participant_id: str) -> None:
        if is_candidate(participant_id):
            await _candidate_here()

    @transport.event_handler("on_participant_connected")
    async def _rejoined(_t: Any, participant_id: str) -> None:
        task = grace["task"]
        if task is not None and is_candidate(participant_id):
            task.cancel()
            grace["task"] = None
            logger.info("candidate rejoined within the grace window")
            status("in_progress")
            await conductor.welcome_back()

    async def _abandon_after_grace() -> None:
        await asyncio.sleep(settings.reconnect_grace_s)
        grace["task"] = None
        logger.info("candidate did not come back: abandoning")
        conductor.end_without_goodbye(Outcome.ABANDONED)
        await worker.cancel(reason="candidate left")

    @transport.event_handler("on_participant_disconnected")
    async def _left(_t: Any, participant_id: str) -> None:
        if conductor.finished or not is_candidate(participant_id):
            return
        await conductor.candidate_left()  # no nudges into an empty room
        if grace["task"] is None:
            logger.info(f"candidate left; waiting {settings.reconnect_grace_s}s for a rejoin")
            grace["task"] = asyncio.create_task(_abandon_after_grace())

    async def _watch_stop() -> None:
        if stop is None:
            return
        await stop.wait()
        if not parts.gate.is_open:
            conductor.end_without_goodbye(Outcome.STOPPED)
            await worker.cancel(reason="stopped before the candidate joined")
            return
        await conductor.wrap_up(Outcome.STOPPED)

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    watcher = asyncio.create_task(_watch_stop())
    try:
        await runner.run()
    finally:
        watcher.cancel()
        if announcer["task"] is not None:
            announcer["task"].cancel()
        if grace["task"] is not None:
            grace["task"].cancel()
        parts.transcript.flush()
    degraded = dict(conductor.degraded)
    reason = conductor.outcome_reason
    if degraded:  # the session record says how the interview got there
        counts = ", ".join(f"{role} {n}" for role, n in sorted(degraded.items()))
        reason = f"{reason or conductor.outcome}; degraded lines: {counts}"
    return OutcomeReport(conductor.outcome or Outcome.ABANDONED, reason=reason, degraded=degraded)
