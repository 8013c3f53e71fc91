"""The launcher: HTTP API that puts one interviewer bot process into one LiveKit room per session.

``create_app(settings)`` builds the FastAPI app; ``server.py`` at the repository root runs it.
The import is lazy so that bot worker processes (``launcher.worker``) do not load FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from interview_pipeline.launcher.app import create_app

        return create_app
    raise AttributeError(name)
