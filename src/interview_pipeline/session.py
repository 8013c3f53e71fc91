"""Building blocks of one interview, made from (persona, settings, transport).

``build_parts`` creates every processor with the persona's settings; the assembled order
lives in ``pipelines/`` so that it reads top to bottom like the diagram. ``make_worker``
wraps an assembled pipeline with the observers that write the transcript and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame
from pipecat.observers.base_observer import BaseObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMAssistantAggregator,
    LLMContextAggregatorPair,
    LLMUserAggregator,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.transports.base_transport import BaseTransport
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_start.transcription_user_turn_start_strategy import (
    TranscriptionUserTurnStartStrategy,
)
from pipecat.turns.user_stop import BaseUserTurnStopStrategy
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from interview_pipeline import providers
from interview_pipeline.avatar import HedraVideoService
from interview_pipeline.candidate_audio import CandidateAudioStop
from interview_pipeline.conduct import directive
from interview_pipeline.conduct.barge_in import QuestionBargeInMuteStrategy
from interview_pipeline.conduct.conductor import InterviewConductor
from interview_pipeline.conduct.patience import PatientTurnStopStrategy
from interview_pipeline.config import Settings
from interview_pipeline.gate import JoinGate
from interview_pipeline.metrics import LatencyCollector
from interview_pipeline.personas.schema import AvatarRenderer, Persona
from interview_pipeline.recording import ConversationRecorder
from interview_pipeline.smart_turn import SharedSmartTurnAnalyzerV3
from interview_pipeline.transcript import MemorySink, TranscriptSink
from interview_pipeline.transcript_recorder import TranscriptRecorder


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
    extra_observers: list[BaseObserver] = field(default_factory=list)


def turn_strategies(persona: Persona) -> LLMUserAggregatorParams:
    """VAD, end-of-turn and barge-in settings from the persona's patience.

    ``max_thinking_pause_s`` is counted from the end of speech, and VAD reports a stop
    ``vad_stop_s`` after it, so the analysers get the difference. With Smart Turn, the
    patience layer holds a turn the words show unfinished (see ``conduct/patience.py``).
    Barge-in starts as the persona's default; the conductor switches it per question.
    """
    tt = persona.turn_taking
    after_vad = max(0.1, tt.max_thinking_pause_s - tt.vad_stop_s)
    stop: list[BaseUserTurnStopStrategy]
    if tt.smart_turn:
        analyzer = SharedSmartTurnAnalyzerV3(params=SmartTurnParams(stop_secs=after_vad))
        stop = [
            PatientTurnStopStrategy(turn_analyzer=analyzer, max_pause_s=tt.max_thinking_pause_s)
        ]
    else:
        stop = [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=after_vad)]
    start = [
        VADUserTurnStartStrategy(enable_interruptions=True),
        TranscriptionUserTurnStartStrategy(enable_interruptions=True),
    ]
    return LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=tt.vad_stop_s)),
        user_turn_strategies=UserTurnStrategies(start=start, stop=stop),
        user_mute_strategies=[QuestionBargeInMuteStrategy(default_allowed=tt.barge_in)],
        user_turn_stop_timeout=tt.max_thinking_pause_s + 1.0,
    )


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
) -> InterviewParts:
    settings.check_providers()
    stt = providers.build_stt(settings)
    llm = providers.build_llm(settings, persona, directive.system_instruction(persona))
    tts = providers.build_tts(settings, persona)
    # The persona's identity goes in the LLM's system_instruction (pipecat 1.9+), not the context.
    context = LLMContext()
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context, user_params=turn_strategies(persona)
    )
    conductor = InterviewConductor(persona, candidate_name)
    avatar = None
    if with_avatar and persona.avatar.renderer is not AvatarRenderer.NONE:
        avatar = HedraVideoService(persona=persona, portrait=portrait, settings=settings)
    transcript = TranscriptRecorder(
        sink or MemorySink(), conductor, vad_stop_s=persona.turn_taking.vad_stop_s
    )
    user_aggregator.add_event_handler("on_user_turn_stopped", transcript.on_user_turn_stopped)
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
        *parts.extra_observers,
    ]
    return PipelineWorker(
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


__all__ = ["Frame", "InterviewParts", "build_parts", "make_worker", "stages"]
