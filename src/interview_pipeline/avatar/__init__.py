"""The avatar stage: talking-head video kept in sync with the interviewer's speech."""

from interview_pipeline.avatar.service import HedraVideoService

__all__ = ["HedraVideoService"]
