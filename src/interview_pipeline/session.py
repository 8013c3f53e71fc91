"""Building blocks of one interview, made from (persona, settings, transport).

``build_parts`` creates every processor with the persona's settings; the assembled order
lives in ``pipelines/`` so that it reads top to bottom like the diagram. ``make_worker``
wraps an assembled pipeline with the observers that write the transcript and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipecat.frames.frames import Frame
from pipecat.observers.base_observer import BaseObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMAssistantAggregator,
    LLMContextAggregatorPair,
    LLMUserAggregator,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_transport import BaseTransport

from interview_pipeline import providers
from interview_pipeline.avatar import HedraVideoService
from interview_pipeline.candidate_audio import CandidateAudioStop
from interview_pipeline.conduct import directive
from interview_pipeline.conduct.conductor import FaultLimits, InterviewConductor
from interview_pipeline.config import Settings
from interview_pipeline.faults import VendorFaultPolicy
from interview_pipeline.gate import JoinGate
from interview_pipeline.metrics import LatencyCollector
from interview_pipeline.personas.schema import AvatarRenderer, Persona
from interview_pipeline.recording import ConversationRecorder
from interview_pipeline.transcript import MemorySink, TranscriptSink
from interview_pipeline.transcript_recorder import TranscriptRecorder
from interview_pipeline.turns.reply_gate import ReplyGate
from interview_pipeline.turns.strategies import turn_strategies


@dataclass
class InterviewParts:
    persona: Persona
    settings: Settings
    transport: BaseTransport
    stt: STTService
    context: LLMContext
    user_aggregator: LLMUserAggregator
    conductor: InterviewConductor
    llm: LLMService
    tts: TTSService
    #: Holds a reply prepared before the turn was confirmed (see turns/stop.py).
    reply_gate: FrameProcessor
    avatar: FrameProcessor | None
    assistant_aggregator: LLMAssistantAggregator
    transcript: TranscriptRecorder
    latency: LatencyCollector
    gate: JoinGate
    recorder: ConversationRecorder | None = None
    #: Records the candidate where their audio enters (when there is a recorder).
    candidate_tap: FrameProcessor | None = None
    #: Past the turn logic the candidate's raw audio has no more readers.
    candidate_audio_stop: FrameProcessor = field(default_factory=CandidateAudioStop)
    #: Set by ``make_worker``: what a vendor failure does to the interview.
    fault_policy: VendorFaultPolicy | None = None


def build_parts(
    persona: Persona,
    settings: Settings,
    transport: BaseTransport,
    *,
    candidate_name: str,
    sink: TranscriptSink | None = None,
    portrait: Path | None = None,
    recorder: ConversationRecorder | None = None,
    with_avatar: bool = True,
    hold_until_joined: bool = False,
    speculate: bool = True,
) -> InterviewParts:
    settings.check_providers()
    stt = providers.build_stt(settings)
    llm = providers.build_llm(settings, persona, directive.system_instruction(persona))
    tts = providers.build_tts(settings, persona)
    # The persona's identity goes in the LLM's system_instruction (pipecat 1.9+), not the context.
    context = LLMContext()
    conductor = InterviewConductor(
        persona, candidate_name, context=context, faults=FaultLimits.from_settings(settings)
    )
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context,
        user_params=turn_strategies(persona, conductor.expectation, speculate=speculate),
    )
    avatar = None
    if with_avatar and persona.avatar.renderer is not AvatarRenderer.NONE:
        avatar = HedraVideoService(persona=persona, portrait=portrait, settings=settings)
    transcript = TranscriptRecorder(
        sink or MemorySink(), conductor, vad_stop_s=persona.turn_taking.vad_stop_s
    )
    user_aggregator.add_event_handler("on_user_turn_stopped", transcript.on_user_turn_stopped)
    # The conductor first: it judges whether the line's question was heard, which the
    # transcript then writes (note_line is idempotent, so the order is not load-bearing).
    assistant_aggregator.add_event_handler(
        "on_assistant_turn_stopped", conductor.on_assistant_turn_stopped
    )
    assistant_aggregator.add_event_handler(
        "on_assistant_turn_stopped", transcript.on_assistant_turn_stopped
    )
    latency = LatencyCollector({"stt": stt.name, "llm": llm.name, "tts": tts.name})
    return InterviewParts(
        persona=persona,
        settings=settings,
        transport=transport,
        stt=stt,
        context=context,
        user_aggregator=user_aggregator,
        conductor=conductor,
        llm=llm,
        tts=tts,
        reply_gate=ReplyGate(),
        avatar=avatar,
        assistant_aggregator=assistant_aggregator,
        transcript=transcript,
        latency=latency,
        gate=JoinGate(open_=not hold_until_joined),
        recorder=recorder,
        candidate_tap=recorder.candidate_tap() if recorder is not None else None,
    )


def stages(*processors: FrameProcessor | None) -> list[FrameProcessor]:
    """Drop the optional stages a variant leaves out (no avatar, no recorder)."""
    return [p for p in processors if p is not None]


def make_worker(
    pipeline: Pipeline,
    parts: InterviewParts,
    *,
    idle_timeout_s: float | None = None,
    audio_out_sample_rate: int = 24000,
    enable_rtvi: bool = False,
) -> PipelineWorker:
    observers: list[BaseObserver] = [
        parts.transcript,
        parts.latency.observer,
    ]
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            enable_metrics=True,
            enable_usage_metrics=False,
            audio_in_sample_rate=16000,
            audio_out_sample_rate=audio_out_sample_rate,
        ),
        observers=observers,
        idle_timeout_secs=idle_timeout_s,
        enable_rtvi=enable_rtvi,
    )
    parts.fault_policy = VendorFaultPolicy(parts, worker)
    return worker


__all__ = ["Frame", "InterviewParts", "build_parts", "make_worker", "stages"]
