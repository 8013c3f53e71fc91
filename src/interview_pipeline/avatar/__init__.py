"""The avatar stage: talking-head video kept in sync with the interviewer's speech.

``HedraVideoService`` is the pipeline stage; ``LocalFaceRenderer`` the embedded real-time
renderer; ``render_command`` / ``render_persona_clips`` pre-render scripted sentences with
Hedra Character-3 into the clip cache; ``RealtimeAvatarVendor`` is the seam for vendors that
speak LiveKit's avatar data-stream protocol.
"""

from interview_pipeline.avatar.clips import ClipCache, ClipLibrary, ClipSpec
from interview_pipeline.avatar.hedra import HedraClient, HedraError
from interview_pipeline.avatar.local import FaceRenderer, LocalFaceRenderer
from interview_pipeline.avatar.realtime import RealtimeAvatarVendor
from interview_pipeline.avatar.render import render_command, render_persona_clips
from interview_pipeline.avatar.service import HedraVideoService

__all__ = [
    "ClipCache",
    "ClipLibrary",
    "ClipSpec",
    "FaceRenderer",
    "HedraClient",
    "HedraError",
    "HedraVideoService",
    "LocalFaceRenderer",
    "RealtimeAvatarVendor",
    "render_command",
    "render_persona_clips",
]
