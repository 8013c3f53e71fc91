"""pipecat's Piper voice object and the model path onnxruntime keeps for a session."""

from __future__ import annotations

from typing import Any


def piper_voice(tts: object) -> Any | None:
    """The ``PiperVoice`` a ``PiperTTSService`` speaks with, or None for another service."""
    return getattr(tts, "_voice", None)


def onnx_model_path(session: Any) -> str:
    """The file an ``InferenceSession`` was loaded from (onnxruntime has no public getter)."""
    path: str = session._model_path
    return path
