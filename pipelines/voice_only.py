"""The interview without video: the same pipeline minus the avatar stage."""

from __future__ import annotations

from pipecat.pipeline.pipeline import Pipeline

from interview_pipeline.session import InterviewParts, stages


def assemble(parts: InterviewParts) -> Pipeline:
    t = parts.transport
    return Pipeline(
        stages(
            t.input(),
            parts.candidate_tap,
            parts.stt,
            parts.user_aggregator,
            parts.candidate_audio_stop,
            parts.conductor,
            parts.llm,
            parts.tts,
            parts.reply_gate,
            parts.gate,
            t.output(),
            parts.recorder,
            parts.assistant_aggregator,
        )
    )
