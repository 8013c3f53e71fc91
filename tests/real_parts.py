"""The real programs tests run against: found, or the test fails saying how to install them.

A missing real part fails instead of skipping: a skipped launcher or browser test reads as
green in CI while nothing was tested. ``scripts/setup.sh`` installs every one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from interview_pipeline.config import Settings
from interview_pipeline.launcher.livekit import find_server_binary

LIVEKIT_INSTALL = (
    "go install github.com/livekit/livekit-server/cmd/server@v1.13.5 "
    "(scripts/setup.sh does it), or set INTERVIEW_LIVEKIT_SERVER_BINARY"
)


def missing(part: str, install: str) -> NoReturn:
    pytest.fail(f"{part} not found; install it: {install}", pytrace=False)


def livekit_server_binary() -> Path:
    binary = find_server_binary(Settings(_env_file=None))  # type: ignore[call-arg]
    if binary is None:
        missing("livekit-server binary", LIVEKIT_INSTALL)
    return binary
