"""Suite-wide fixtures."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _dispose_livekit_runtime() -> Iterator[None]:
    """Stop livekit's native runtime while Python is still alive (any test may have used it).

    Left to its atexit hook, a native thread can call back into a finalising interpreter and
    the process aborts (exit 134) after every test passed. ``_dispose`` is idempotent.
    """
    yield
    ffi = sys.modules.get("livekit.rtc._ffi_client")
    if ffi is not None and ffi.FfiClient._instance is not None:
        ffi.FfiClient._instance._dispose()
