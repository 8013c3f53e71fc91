"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interview_pipeline.compat import dispose_livekit_runtime


@pytest.fixture(scope="session", autouse=True)
def _dispose_livekit_runtime() -> Iterator[None]:
    """Stop livekit's native runtime while Python is still alive (any test may have used it).

    Left to its atexit hook, a native thread can call back into a finalising interpreter and
    the process aborts (exit 134) after every test passed.
    """
    yield
    dispose_livekit_runtime()
