"""interview_pipeline: an AI job interviewer built as one Pipecat pipeline per interview."""

__version__ = "0.1.0"
