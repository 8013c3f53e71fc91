"""Hedra v3 client and clip rendering against the loopback fake (real MP4s, every error path)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pipecat.frames.frames import TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.avatar import HedraVideoService
from interview_pipeline.avatar.clips import ClipCache
from interview_pipeline.avatar.face import generated_face, png_bytes
from interview_pipeline.avatar.hedra import HedraClient, HedraError, RetryPolicy
from interview_pipeline.avatar.media import decode_audio, wav_bytes
from interview_pipeline.avatar.metrics import HEDRA_FAILURES
from interview_pipeline.avatar.render import render_command, render_persona_clips
from interview_pipeline.config import Settings
from interview_pipeline.fakes.hedra import HedraFake
from interview_pipeline.personas.loader import PersonaLibrary
from interview_pipeline.personas.schema import AvatarRenderer, Persona
from interview_pipeline.providers.piper import build_piper_tts

from .conftest import Collector, tone, with_renderer

KEY = "test-key-id:test-secret"
FAST = RetryPolicy(attempts=3, base_s=0.01, max_s=0.05)


@pytest.fixture
async def fake() -> AsyncIterator[HedraFake]:
    async with HedraFake(api_key=KEY, job_delay_s=0.1) as server:
        yield server


def _client(fake: HedraFake, key: str = KEY, **kw: object) -> HedraClient:
    opts: dict = {"poll_initial_s": 0.02, "poll_max_s": 0.1, "retry": FAST} | kw
    return HedraClient(key, fake.base_url, **opts)


async def _character3(client: HedraClient) -> tuple[bytes, str]:
    image = png_bytes(generated_face(128, 128, "t"))
    audio = wav_bytes(tone(0.8, 0.5, sr=16000), 16000)
    return await client.character3(
        image, audio, aspect_ratio="1:1", resolution="540p", idempotency_key="k1"
    )


async def test_upload_submit_poll_download_gives_a_playable_mp4(
    fake: HedraFake, tmp_path: Path
) -> None:
    async with _client(fake) as client:
        mp4, job_id = await _character3(client)
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    pcm, rate = decode_audio(path, 16000)
    assert abs(len(pcm) / rate - 0.8) < 0.1
    assert fake.counts["files"] == 2 and fake.counts["submit"] == 1 and fake.counts["status"] >= 1
    assert fake.jobs[job_id].body["idempotency_key"] == "k1"
    assert fake.jobs[job_id].size == (540, 540)
    api = [r for r in fake.requests if r.path.startswith("/v3/")]
    blobs = [r for r in fake.requests if r.path.startswith("/_blobs/")]
    assert all(r.headers["Authorization"] == f"Key {KEY}" for r in api)
    assert blobs and not any("Authorization" in r.headers for r in blobs)  # key stays home


async def test_resubmitting_with_the_same_idempotency_key_replays_the_ack(fake: HedraFake) -> None:
    async with _client(fake) as client:
        url = await client.upload(png_bytes(generated_face(64, 64, "t")), "p.png", "image/png")
        audio = await client.upload(wav_bytes(tone(0.6, 0.5), 24000), "a.wav", "audio/wav")
        a = await client.submit(
            url, audio, aspect_ratio="1:1", resolution="540p", idempotency_key="same"
        )
        b = await client.submit(
            url, audio, aspect_ratio="1:1", resolution="540p", idempotency_key="same"
        )
    assert a == b and len(fake.jobs) == 1


@pytest.mark.parametrize(
    ("route", "status", "reason"),
    [("files", 401, "auth"), ("submit", 402, "balance"), ("submit", 400, "bad_request")],
)
async def test_client_errors_fail_at_once(
    fake: HedraFake, route: str, status: int, reason: str
) -> None:
    fake.fail(route, status, times=5)
    async with _client(fake) as client:
        with pytest.raises(HedraError) as err:
            await _character3(client)
    assert err.value.reason == reason and err.value.status == status
    assert fake.counts[route] == 1  # not retried


async def test_wrong_key_is_auth_error(fake: HedraFake) -> None:
    async with _client(fake, key="wrong:key") as client:
        with pytest.raises(HedraError, match="auth"):
            await _character3(client)


@pytest.mark.parametrize(("status", "reason"), [(429, "rate_limit"), (500, "server")])
async def test_transient_errors_are_retried_then_succeed_or_give_up(
    fake: HedraFake, status: int, reason: str
) -> None:
    fake.fail("submit", status, times=2, retry_after=0 if status == 429 else None)
    async with _client(fake) as client:
        await _character3(client)
    assert fake.counts["submit"] == 3
    fake.fail("status", status, times=10, retry_after=0 if status == 429 else None)
    async with _client(fake) as client:
        with pytest.raises(HedraError) as err:
            await _character3(client)
    assert err.value.reason == reason


async def test_retry_after_header_is_honoured(fake: HedraFake) -> None:
    fake.fail("files", 429, times=1, retry_after=7)
    seen: list[float | None] = []
    policy = RetryPolicy(attempts=2, base_s=0.01, max_s=0.02)
    original = policy.delay
    object.__setattr__(
        policy, "delay", lambda attempt, ra: (seen.append(ra), original(attempt, ra))[1]
    )
    async with _client(fake, retry=policy) as client:
        await _character3(client)
    assert seen == [7.0]


async def test_job_that_never_finishes_times_out(fake: HedraFake) -> None:
    fake.stall = True
    async with _client(fake, poll_timeout_s=0.4) as client:
        with pytest.raises(HedraError) as err:
            await _character3(client)
    assert err.value.reason == "timeout"


async def test_failed_job_is_reported(fake: HedraFake) -> None:
    fake.job_fails = True
    async with _client(fake) as client:
        with pytest.raises(HedraError, match="face not detected") as err:
            await _character3(client)
    assert err.value.reason == "failed"


# --- clip rendering and playback ------------------------------------------------------------
def _hedra_maya(library: PersonaLibrary) -> Persona:
    return with_renderer(library.load("maya"), AvatarRenderer.HEDRA, width=256, height=256)


async def test_render_caches_clips_and_a_second_render_uploads_nothing(
    fake: HedraFake, settings: Settings, library: PersonaLibrary
) -> None:
    persona = _hedra_maya(library)
    async with _client(fake) as client:
        first = await render_persona_clips(settings, persona, None, client=client)
        uploads = fake.counts["files"]
        second = await render_persona_clips(settings, persona, None, client=client)
    texts = [r.text for r in first]
    assert "This is a short conversation about the Product Designer position." in texts
    assert not any("Bluebird" in t and "Hello" in t for t in texts)  # names the candidate: skipped
    assert {r.status for r in first} == {"rendered"} and {r.status for r in second} == {"cached"}
    assert uploads == len(first) + 1  # one audio per clip, the portrait once
    assert fake.counts["files"] == uploads and fake.counts["submit"] == len(first)

    # Play the opening the way the conductor says it (one TTSSpeakFrame, real Piper TTS): the
    # greeting is lip-synced locally, the cached sentence plays its clip, in that order.
    svc = HedraVideoService(persona=persona, portrait=None, settings=settings)
    collector = Collector()
    opening = persona.render(persona.opening, "Sam")
    tts = build_piper_tts(settings, persona)
    await run_test(
        Pipeline([tts, svc, collector]), frames_to_send=[TTSSpeakFrame(opening), SleepFrame(7.5)]
    )
    sources = [f.metadata["avatar"]["source"] for _, f in collector.images()]
    assert "speech" in sources and "clip" in sources
    assert sources.index("speech") < sources.index("clip")
    assert len(collector.audio()) == 2


async def test_render_failures_are_counted_and_never_cached(
    fake: HedraFake, settings: Settings, library: PersonaLibrary
) -> None:
    persona = _hedra_maya(library)
    before = HEDRA_FAILURES.labels(reason="balance")._value.get()
    fake.fail("submit", 402, times=100)
    async with _client(fake) as client:
        results = await render_persona_clips(settings, persona, None, client=client)
    assert {r.status for r in results} <= {"failed", "skipped"}
    assert HEDRA_FAILURES.labels(reason="balance")._value.get() > before
    assert fake.counts["submit"] <= 3  # stops submitting once the wallet is known to be empty
    cache = ClipCache(settings.resolved_clip_cache_dir())
    assert not list(cache.directory.rglob("clip.mp4"))


def test_render_command_exit_codes_and_output(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render_command(settings, "nobody") == 2
    assert render_command(settings, "maya") == 2  # renderer is local: refuses to spend money
    assert "set it to 'hedra'" in capsys.readouterr().err

    personas = tmp_path / "personas"
    personas.mkdir()
    text = (
        (settings.personas_dir / "maya.yaml")
        .read_text()
        .replace("renderer: local", "renderer: hedra")
    )
    (personas / "maya.yaml").write_text(
        text.replace("width: 512", "width: 256").replace("height: 512", "height: 256")
    )
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = HedraFake(api_key=KEY, job_delay_s=0.05)
    try:
        base = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        local = settings.model_copy(update={"personas_dir": personas, "hedra_base_url": base})
        assert render_command(local, "maya") == 0
        out = capsys.readouterr().out
        assert out.count("rendered ") == 5 and "names the candidate" in out
        assert render_command(local, "maya") == 0
        assert capsys.readouterr().out.count("cached ") == 5
        no_key = local.model_copy(update={"hedra_api_key": None})
        assert render_command(no_key, "maya") == 2
        assert "HEDRA_API_KEY" in capsys.readouterr().err
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
