"""The local renderer: right size, mouth levels look different, blinks, cheap per frame."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from interview_pipeline.avatar.face import DEFAULT_LAYOUT, generated_face, prepare_portrait
from interview_pipeline.avatar.local import MOUTH_LEVELS, LocalFaceRenderer


@pytest.fixture(scope="module")
def renderer() -> LocalFaceRenderer:
    return LocalFaceRenderer(512, 512, seed="maya")


def _mouth_crop(r: LocalFaceRenderer, arr: np.ndarray) -> np.ndarray:
    x, y = DEFAULT_LAYOUT.mouth
    return arr[int(y * 512) - 20 : int(y * 512) + 40, int(x * 512) - 50 : int(x * 512) + 50]


def test_frame_is_rgb_at_persona_size(renderer: LocalFaceRenderer) -> None:
    assert len(renderer.frame(0.0, 1.0)) == 512 * 512 * 3
    small = LocalFaceRenderer(320, 240, seed="x")
    assert len(small.frame(0.5, 1.0)) == 320 * 240 * 3


def test_more_open_mouth_shows_more_dark_cavity(renderer: LocalFaceRenderer) -> None:
    dark = []
    for level in range(MOUTH_LEVELS):
        crop = _mouth_crop(renderer, renderer.frame_array(level / (MOUTH_LEVELS - 1), 8.0).copy())
        dark.append(int((crop.mean(axis=2) < 70).sum()))
    assert dark[0] < dark[1] < dark[3] < dark[-1]


def test_same_inputs_same_frame_and_idle_motion_is_small(renderer: LocalFaceRenderer) -> None:
    assert renderer.frame(0.3, 5.0) == renderer.frame(0.3, 5.0)
    offsets = {renderer.offset(t / 25) for t in range(0, 25 * 20)}
    assert len(offsets) > 3  # it moves
    assert max(max(abs(dx), abs(dy)) for dx, dy in offsets) <= 3  # but only a little


def test_blinks_every_few_seconds(renderer: LocalFaceRenderer) -> None:
    states = [renderer.blink_state(i / 25) for i in range(25 * 30)]
    starts = [i for i in range(1, len(states)) if states[i] and not states[i - 1]]
    assert 5 <= len(starts) <= 12  # one every 2.6-5.4 s
    assert max(states) == 2  # fully closed at the bottom of a blink


def test_portrait_is_cropped_to_persona_aspect(tmp_path: Path) -> None:
    wide = generated_face(800, 400, "w")
    path = tmp_path / "wide.png"
    wide.save(path)
    image = prepare_portrait(path, 256, 256, "unused")
    assert image.size == (256, 256)
    r = LocalFaceRenderer(256, 256, portrait=path)
    assert len(r.frame(1.0, 0.0)) == 256 * 256 * 3


def test_frame_costs_well_under_a_millisecond(renderer: LocalFaceRenderer) -> None:
    start = time.process_time()
    for i in range(250):
        renderer.frame((i % 8) / 7, i / 25)
    per_frame = (time.process_time() - start) / 250
    assert per_frame < 0.002  # 25 fps → < 5 % of a core even on a noisy machine


def test_listening_nod_dips_the_whole_head_beyond_the_idle_motion(
    renderer: LocalFaceRenderer,
) -> None:
    still = renderer.frame_array(0.0, 5.0).copy()
    nodding = renderer.frame_array(0.0, 5.0, nod=1.0).copy()
    _, dy_still = renderer.offset(5.0)
    _, dy_nod = renderer.offset(5.0, nod=1.0)
    assert dy_still - dy_nod >= 8  # a visible dip at 512 px, not a sprite
    shift = dy_still - dy_nod
    # The face moved down as a whole: rows of the nodding frame are the still frame's, lower.
    assert np.array_equal(nodding[100 + shift : 400 + shift], still[100:400])


def test_listening_nod_envelope_goes_down_and_back_then_repeats() -> None:
    from interview_pipeline.avatar.pacing import listening_nod

    assert listening_nod(0.0) == 0.0
    assert listening_nod(0.45) > 0.95  # the bottom of the nod
    assert listening_nod(1.5) == 0.0  # head back up, still listening
    assert listening_nod(2.6 + 0.45) > 0.95  # the next nod


def test_idle_pacing_sends_every_nth_tick_and_drops_repeats() -> None:
    from interview_pipeline.avatar.pacing import KEEPALIVE_S, FramePacer

    pacer = FramePacer(25, 12)
    assert pacer.every == 2
    assert pacer.skip(1, 0.0, (0, 0)) and not pacer.skip(2, 0.0, (0, 0))
    pacer.shown = (0, 0)
    pacer.sent(0.0)
    assert pacer.skip(4, 0.5, (0, 0))  # the same frame again: not sent
    assert not pacer.skip(4, 0.5, (1, 0))  # the head moved: sent
    assert not pacer.skip(4, KEEPALIVE_S, (0, 0))  # a second on: sent anyway


def test_renderer_state_tells_identical_frames() -> None:
    r = LocalFaceRenderer(128, 128, seed="maya")
    for t in (0.0, 0.04, 1.0, 3.3, 7.9):
        for t2 in (t + 0.04, t + 0.4):
            same = r.state(0.0, t) == r.state(0.0, t2)
            assert same == (r.frame(0.0, t) == r.frame(0.0, t2))
