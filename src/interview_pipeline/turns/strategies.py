"""The user aggregator's turn settings, from the persona's ``turn_taking``.

VAD reports a pause after ``vad_stop_s`` of silence; that is when the reply starts being
prepared, so it is short. How long the interviewer then waits before speaking is
patience's decision (``turns/patience.py``), from ``min_pause_s`` to
``max_thinking_pause_s``, all counted from the end of speech. When Smart Turn hears an
unfinished voice, its fallback waits ``VOICE_UNFINISHED_S`` of silence; the words can then
hold the turn to the max pause (unfinished words, an answer that has barely started). Not the
max pause outright, and not at all once the words make a full, finished answer (the stop
strategy ends those on the words): on flat synthetic voices Smart Turn calls most finished
answers unfinished, and a full answer would wait the longest for it.
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.processors.aggregators.llm_response_universal import LLMUserAggregatorParams
from pipecat.turns.user_start import VADUserTurnStartStrategy
from pipecat.turns.user_start.transcription_user_turn_start_strategy import (
    TranscriptionUserTurnStartStrategy,
)
from pipecat.turns.user_stop import BaseUserTurnStopStrategy
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from interview_pipeline.personas.schema import Persona
from interview_pipeline.turns.barge_in import QuestionBargeInMuteStrategy
from interview_pipeline.turns.patience import Expectation
from interview_pipeline.turns.smart_turn import SharedSmartTurnAnalyzerV3
from interview_pipeline.turns.stop import PatientTurnStopStrategy

#: The aggregator's own stop watchdog must never beat patience's longest wait.
_WATCHDOG_MARGIN_S = 3.0
#: Silence after speech before the turn can end when Smart Turn says the voice goes on.
VOICE_UNFINISHED_S = 2.0


def turn_strategies(
    persona: Persona,
    expectation: Callable[[], Expectation | None] | None = None,
    *,
    speculate: bool = True,
) -> LLMUserAggregatorParams:
    """VAD, end-of-turn and barge-in settings; ``expectation`` tells patience the question."""
    tt = persona.turn_taking
    stop: list[BaseUserTurnStopStrategy]
    if tt.smart_turn:
        voice_wait = min(tt.max_thinking_pause_s, max(VOICE_UNFINISHED_S, tt.min_pause_s))
        after_vad = max(0.1, voice_wait - tt.vad_stop_s)
        analyzer = SharedSmartTurnAnalyzerV3(params=SmartTurnParams(stop_secs=after_vad))
        stop = [
            PatientTurnStopStrategy(
                turn_analyzer=analyzer,
                max_pause_s=tt.max_thinking_pause_s,
                min_pause_s=tt.min_pause_s,
                expectation=expectation,
                speculate=speculate,
            )
        ]
    else:
        after_vad = max(0.1, tt.max_thinking_pause_s - tt.vad_stop_s)
        stop = [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=after_vad)]
    start = [
        VADUserTurnStartStrategy(enable_interruptions=True),
        TranscriptionUserTurnStartStrategy(enable_interruptions=True),
    ]
    mute = QuestionBargeInMuteStrategy(default_allowed=tt.barge_in)
    return LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=tt.vad_stop_s)),
        user_turn_strategies=UserTurnStrategies(start=start, stop=stop),
        user_mute_strategies=[mute],
        user_turn_stop_timeout=tt.max_thinking_pause_s + _WATCHDOG_MARGIN_S,
    )
