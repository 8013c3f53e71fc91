"""The interview with a face: voice in, plan-led interviewer, voice and talking head out."""

from __future__ import annotations

from pipecat.pipeline.pipeline import Pipeline

from interview_pipeline.session import InterviewParts, stages


def assemble(parts: InterviewParts) -> Pipeline:
    t = parts.transport
    return Pipeline(
        stages(
            t.input(),  # LiveKit (or replayed) candidate audio
            parts.candidate_tap,  # the recorder's candidate channel, as it arrives
            parts.stt,  # Deepgram | local Whisper
            parts.user_aggregator,  # Silero VAD + Smart Turn v3 decide when the turn ends
            parts.candidate_audio_stop,  # raw candidate audio goes no further
            parts.conductor,  # the plan: what to ask next
            parts.llm,  # OpenAI-compatible | scripted interviewer
            parts.tts,  # ElevenLabs | local Piper
            parts.reply_gate,  # a reply prepared while the candidate paused waits here, unheard
            parts.avatar,  # HedraVideoService: talking head in sync with the speech
            parts.gate,  # holds the pre-synthesised greeting until the candidate joins
            t.output(),  # audio (+ camera track) to the room
            parts.recorder,  # the interviewer's side, aligned with the candidate's, to disk
            parts.assistant_aggregator,  # what was actually said goes into the context
        )
    )
