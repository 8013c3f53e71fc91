"""The local renderer on real photos: the photo's own mouth opens with the voice, its lids
blink, nothing is drawn where there is no face, and Hedra clips of the same photo cross-fade
without a jump.

Frames for a person to look at are written to ``out/avatar-frames/`` (git-ignored): per
portrait, a contact sheet of the lower face through a spoken phrase, and full frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pipecat.frames.frames import (
    AggregatedTextFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.tests.utils import SleepFrame, run_test

from interview_pipeline.avatar import HedraVideoService
from interview_pipeline.avatar.face import cover_resize
from interview_pipeline.avatar.local import MOUTH_LEVELS, LocalFaceRenderer
from interview_pipeline.avatar.timeline import ENVELOPE_HZ, mouth_envelope
from interview_pipeline.config import Settings
from interview_pipeline.personas.loader import PersonaLibrary
from interview_pipeline.personas.schema import AvatarRenderer

from .conftest import SR, Collector, audio_frame, store_clip, tone, with_renderer
from .test_portrait import PORTRAITS, USABLE

ROOT = Path(__file__).resolve().parents[2]
FRAMES_DIR = ROOT / "out" / "avatar-frames"


def syllables(seconds: float, rate: int = SR) -> np.ndarray:
    """A voiced tone whose loudness swings at a syllable rate (~3.5 Hz), with pauses."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in (1, 2, 3, 4))
    env = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, 1) ** 0.8 * (
        0.55 + 0.45 * np.sin(2 * np.pi * 0.7 * t)
    )
    return (voice / 2.1 * env * 0.7 * 32767).astype(np.int16)


def _mouth_region(r: LocalFaceRenderer, arr: np.ndarray) -> np.ndarray:
    assert r.face is not None
    x, y = r.face.mouth
    mw = r.face.mouth_width
    return arr[int(y - 0.4 * mw) : int(y + 0.6 * mw), int(x - 0.7 * mw) : int(x + 0.7 * mw)]


def _openness(r: LocalFaceRenderer, arr: np.ndarray, closed: np.ndarray) -> float:
    """Share of the mouth region that changed from the closed photo."""
    now = _mouth_region(r, arr).astype(np.int16)
    return float((np.abs(now - _mouth_region(r, closed)).sum(axis=2) > 40).mean())


@pytest.fixture(scope="module", params=USABLE)
def photo(request: pytest.FixtureRequest) -> tuple[str, LocalFaceRenderer]:
    return request.param, LocalFaceRenderer(512, 512, portrait=PORTRAITS / request.param)


def test_a_photo_is_animated_from_its_own_pixels(photo: tuple[str, LocalFaceRenderer]) -> None:
    _, r = photo
    assert r.face is not None  # the photo path, not the illustrated sprites
    x0, y0, x1, y1 = r.face.box
    mx0, my0, mx1, my1 = r._mouth_box
    # The warped region is the lower face: it starts below the eyes and is centred on the
    # mouth found inside the face box.
    assert x0 <= r.face.mouth[0] <= x1 and y0 <= r.face.mouth[1] <= y1
    assert my0 > max(r.face.left_eye[1], r.face.right_eye[1])
    assert abs((mx0 + mx1) / 2 - r.face.mouth[0]) < 0.1 * (x1 - x0)
    # Closed mouth, eyes open, no head motion: exactly the framed photo, nothing drawn on it.
    still = LocalFaceRenderer(512, 512, image=Image.fromarray(r.base), face=r.face, motion=0)
    t_open = next(i / 100 for i in range(1000) if still.blink_state(i / 100) == 0)
    assert np.array_equal(still.frame_array(0.0, t_open), r.base)
    # Each level opens further, round and wide alike, and the change stays near the mouth.
    closed = r.base
    for wide in (0.0, 1.0):
        opened = [
            _openness(still, still.frame_array(lv / (MOUTH_LEVELS - 1), t_open, wide=wide), closed)
            for lv in range(MOUTH_LEVELS)
        ]
        assert opened[0] == 0.0
        assert all(b >= a for a, b in zip(opened, opened[1:], strict=False)), opened
        assert opened[-1] > 0.08
    full = still.frame_array(1.0, t_open).astype(np.int16)
    changed = np.abs(full - closed).sum(axis=2) > 30
    ys, xs = np.nonzero(changed)
    assert ys.min() > r.face.nose[1] - 2 and ys.max() < r.face.chin + 0.5 * (
        r.face.chin - r.face.mouth[1]
    )


def test_blinks_close_the_photos_own_eyes(photo: tuple[str, LocalFaceRenderer]) -> None:
    _, r = photo
    assert r.face is not None
    still = LocalFaceRenderer(512, 512, image=Image.fromarray(r.base), face=r.face, motion=0)
    t_closed = next(i / 100 for i in range(1000) if still.blink_state(i / 100) == 2)
    shut = still.frame_array(0.0, t_closed).astype(np.int16)
    ew = r.face.eye_width
    for ex, ey in (r.face.left_eye, r.face.right_eye):
        box = (
            slice(int(ey - 0.15 * ew), int(ey + 0.12 * ew)),
            slice(int(ex - 0.2 * ew), int(ex + 0.2 * ew)),
        )
        eye_open, eye_shut = r.base[box].astype(np.float32), shut[box].astype(np.float32)
        # The iris and white are covered by lid skin: the eye's middle gets uniform.
        assert eye_shut.std(axis=(0, 1)).mean() < 0.8 * eye_open.std(axis=(0, 1)).mean()
    # Nothing else moves in a blink.
    outside = np.abs(shut - r.base).sum(axis=2) > 0
    ys, _ = np.nonzero(outside)
    assert ys.max() < max(r.face.left_eye[1], r.face.right_eye[1]) + 0.6 * ew


def test_mouth_openness_follows_voice_energy_on_the_photo(
    photo: tuple[str, LocalFaceRenderer],
) -> None:
    name, r = photo
    assert r.face is not None
    audio = syllables(3.0)
    opening, width = mouth_envelope(audio, SR)
    fps = 25
    step = ENVELOPE_HZ // fps
    still = LocalFaceRenderer(512, 512, image=Image.fromarray(r.base), face=r.face, motion=0)
    t_open = next(i / 100 for i in range(1000) if still.blink_state(i / 100) == 0)
    shown, energy = [], []
    out = FRAMES_DIR / Path(name).stem
    out.mkdir(parents=True, exist_ok=True)
    crops = []
    for i in range(len(opening) // step):
        o, w = float(opening[i * step]), float(width[i * step])
        frame = still.frame_array(o, t_open, wide=w)
        shown.append(_openness(still, frame, r.base))
        chunk = audio[i * step * SR // ENVELOPE_HZ : (i * step + 1) * SR // ENVELOPE_HZ]
        energy.append(float(np.sqrt(np.mean(chunk.astype(np.float64) ** 2))))
        if i % 2 == 0 and len(crops) < 24:
            crops.append(Image.fromarray(_mouth_region(still, frame).copy()).resize((140, 100)))
        if i in (0, 10, 20, 30):
            Image.fromarray(r.frame_array(o, 4.0 + i / fps, wide=w)).save(
                out / f"frame_{i:03d}.png"
            )
    sheet = Image.new("RGB", (140 * 8, 100 * 3))
    for k, c in enumerate(crops):
        sheet.paste(c, (140 * (k % 8), 100 * (k // 8)))
    sheet.save(out / "mouth_sheet.png")
    # Rank correlation: openness rises with loudness (on a log scale, as hearing does).
    ranks = [np.argsort(np.argsort(v)) for v in (shown, energy)]
    corr = float(np.corrcoef(*ranks)[0, 1])
    assert corr > 0.8, corr
    loud = [s for s, e in zip(shown, energy, strict=True) if e > 0.5 * max(energy)]
    silent = [s for s, e in zip(shown, energy, strict=True) if e < 0.02 * max(energy)]
    assert silent and max(silent) < 0.02 and min(loud) > 0.05


def test_without_a_portrait_the_illustrated_face_stays() -> None:
    r = LocalFaceRenderer(256, 256, seed="maya")
    assert r.face is None


async def test_a_photo_persona_talks_through_the_service(
    settings: Settings, library: PersonaLibrary
) -> None:
    persona = with_renderer(library.load("maya"), AvatarRenderer.LOCAL, width=256, height=256)
    svc = HedraVideoService(
        persona=persona, portrait=PORTRAITS / "grace_hopper.jpg", settings=settings
    )
    renderer = svc._renderer
    assert isinstance(renderer, LocalFaceRenderer) and renderer.face is not None
    col = Collector()
    await run_test(
        Pipeline([svc, col]),
        frames_to_send=[
            SleepFrame(0.3),
            TTSStartedFrame(),
            audio_frame(np.concatenate([tone(0.5, 0.6), tone(0.5, 0.0)])),
            TTSStoppedFrame(),
            SleepFrame(1.4),
        ],
    )
    images = col.images()
    talking = [f for _, f in images if f.metadata["avatar"]["mouth"] > 0.5]
    assert talking
    frame = np.frombuffer(talking[len(talking) // 2].image, np.uint8).reshape(256, 256, 3)
    assert _openness(renderer, frame, renderer.base) > 0.05


async def test_hedra_clip_and_local_face_share_the_crop_at_the_switch(
    settings: Settings, library: PersonaLibrary
) -> None:
    portrait = PORTRAITS / "astronaut.jpg"  # off centre: a centred crop would differ a lot
    persona = with_renderer(library.load("maya"), AvatarRenderer.HEDRA, width=256, height=256)
    text = "Walk me through how you start a new design project."
    store_clip(settings, persona, text, tone(1.0, 0.5, sr=16000), portrait=portrait)
    svc = HedraVideoService(persona=persona, portrait=portrait, settings=settings)
    agg = AggregatedTextFrame(text, text_type="sentence")
    agg.will_be_spoken = True
    col = Collector()
    await run_test(
        Pipeline([svc, col]),
        frames_to_send=[
            SleepFrame(0.5),
            agg,
            TTSStartedFrame(),
            audio_frame(tone(1.0, 0.3)),
            TTSTextFrame(text, text_type="sentence"),
            TTSStoppedFrame(),
            SleepFrame(1.6),
        ],
    )
    images = [f for _, f in col.images()]
    sources = [f.metadata["avatar"]["source"] for f in images]
    first = sources.index("clip")
    last = len(sources) - 1 - sources[::-1].index("clip")

    def arr(i: int) -> np.ndarray:
        return np.frombuffer(images[i].image, np.uint8).reshape(256, 256, 3).astype(np.float32)

    face = svc._renderer.face  # type: ignore[union-attr]
    assert face is not None
    keep = np.ones((256, 256), bool)  # all but the lower face, which moves on purpose
    keep[int(face.nose[1]) : int(face.chin + 0.5 * (face.chin - face.mouth[1])), 64:192] = False

    def lum_diff(a: np.ndarray, b: np.ndarray, m: int = 3) -> float:
        """Mean luminance difference at the best shift within ``m`` px (the head moves a
        pixel or two in both renderers, not in step); a change of crop survives any shift."""
        la, lb = a.mean(axis=2), b.mean(axis=2)
        core, k = lb[m:-m, m:-m], keep[m:-m, m:-m]
        return min(
            float(np.abs(la[m + dy : 256 - m + dy, m + dx : 256 - m + dx] - core)[k].mean())
            for dy in range(-m, m + 1)
            for dx in range(-m, m + 1)
        )

    Image.fromarray(np.hstack([arr(first - 1), arr(first + 3)]).astype(np.uint8)).save(
        FRAMES_DIR / "hedra_switch.png"
    )
    at_switch_in = lum_diff(arr(first - 1), arr(first + 3))  # local, then full clip
    at_switch_out = lum_diff(arr(last - 3), arr(last + 1))  # full clip, then local
    # What a crop mismatch would look like: the same photo centre-cropped instead.
    misframed = np.asarray(cover_resize(Image.open(portrait), 256, 256), np.float32)
    jump = lum_diff(arr(first - 1), misframed)
    assert at_switch_in < 4 and at_switch_out < 4, (at_switch_in, at_switch_out)
    assert jump > 3 * max(at_switch_in, at_switch_out), (jump, at_switch_in, at_switch_out)
    print(f"switch in {at_switch_in:.2f}, out {at_switch_out:.2f}, centred crop {jump:.2f}")
