"""End to end over a real livekit-server: the candidate receives the avatar's camera track.

The bot side is wired as production wires it (``HedraVideoService(video_out=transport.output())``
with the persona's size and fps on ``LiveKitParams``); the candidate is the LiveKit Python SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interview_pipeline.config import Settings
from interview_pipeline.launcher.livekit import LocalLiveKitServer
from interview_pipeline.personas.loader import PersonaLibrary
from interview_pipeline.personas.schema import AvatarRenderer
from tests.real_parts import livekit_server_binary

from .conftest import with_renderer
from .livekit_av import measure_av

pytestmark = pytest.mark.livekit


@pytest.fixture(scope="module")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLiveKitServer]:
    binary = livekit_server_binary()
    server = LocalLiveKitServer(binary, log_path=tmp_path_factory.mktemp("lk") / "server.log")
    yield server.start()
    server.stop()
    # LiveKit's native runtime is disposed once, at the end of the session (tests/conftest.py):
    # disposing it here would hang every later test that uses livekit.rtc in this process.


@pytest.mark.xfail(
    strict=False,
    reason="issue 16, open: fps and mouth-movement counts at the candidate miss under CPU "
    "contention (failed as the first test of the 2026-12-02 clean-clone run, passed alone)",
)
async def test_candidate_receives_camera_track_in_sync(
    livekit: LocalLiveKitServer, settings: Settings, library: PersonaLibrary, tmp_path: Path
) -> None:
    persona = with_renderer(library.load("maya"), AvatarRenderer.LOCAL, width=320, height=320)
    result = await measure_av(livekit.credentials, persona, settings, count=5)
    assert {"KIND_AUDIO", "KIND_VIDEO"} <= result.tracks
    assert result.video_size == (320, 320)
    assert result.video_fps > 21  # 25 configured; loose for a busy 2-core machine
    assert len(result.offsets_ms) >= 4  # every pulse moved the mouth
    assert abs(result.median_ms) <= 70  # bench/avatar_render.py measures this properly
