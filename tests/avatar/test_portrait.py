"""Finding the face on real photos: landmarks where a face has them, framing, and the
portraits ``personas validate`` turns away (with file:line on ``avatar.image``).

The photos are public domain (tests/fixtures/portraits/README.md); the unusable ones are
made from them here: two people side by side, a face shrunk to a few pixels, a blank wall.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from interview_pipeline.avatar.portrait import (
    FACE_FRACTION,
    MIN_FACE_PX,
    PhotoFace,
    PortraitError,
    detect_face,
    frame_face,
    framed_portrait,
)
from interview_pipeline.personas.errors import PersonaError
from interview_pipeline.personas.loader import load_persona_file
from tests.personas.test_loader import GOOD

PORTRAITS = Path(__file__).resolve().parents[1] / "fixtures" / "portraits"
#: Three framings: head and shoulders; half body, face high and off centre; a wide photo
#: with the face small near the right edge.
USABLE = ["grace_hopper.jpg", "astronaut.jpg", "hopper_wide_offside.jpg"]


def _inside(pt: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= pt[0] <= box[2] and box[1] <= pt[1] <= box[3]


@pytest.mark.parametrize("name", USABLE)
def test_landmarks_sit_where_a_face_has_them(name: str) -> None:
    with Image.open(PORTRAITS / name) as im:
        face = detect_face(im)
    box = face.box
    assert _inside(face.left_eye, box) and _inside(face.right_eye, box)
    assert face.left_eye[0] < face.nose[0] < face.right_eye[0]
    # The mouth is inside the face box, under the nose, above the chin; about as wide as
    # the eyes are apart (the issue's bug: a layout mouth on the neck, below the chin).
    assert _inside(face.mouth, box)
    assert face.nose[1] < face.mouth[1] < face.chin
    assert face.mouth[1] - face.nose[1] < 0.8 * face.eye_distance
    assert 0.5 * face.eye_distance <= face.mouth_width <= 1.2 * face.eye_distance
    left, right = box[0] + 0.25 * (box[2] - box[0]), box[2] - 0.25 * (box[2] - box[0])
    assert left < face.mouth[0] < right


@pytest.mark.parametrize("name", USABLE)
@pytest.mark.parametrize("size", [(512, 512), (640, 360), (360, 640)])
def test_framing_centres_the_face_at_a_set_size(name: str, size: tuple[int, int]) -> None:
    w, h = size
    framed, face = framed_portrait(PORTRAITS / name, w, h)
    assert framed.size == size
    fx0, fy0, fx1, fy1 = face.box
    # Face at its share of the frame, unless the photo is too tight to allow it (then bigger).
    assert (fx1 - fx0) >= 0.95 * FACE_FRACTION * min(w, h)
    cx = (fx0 + fx1) / 2
    # Centred, except where the photo ends: the crop never pads.
    with Image.open(PORTRAITS / name) as im:
        src = detect_face(im)
        scale = min((src.box[2] - src.box[0]) / (FACE_FRACTION * min(w, h)), im.width / w)
        src_cx = (src.box[0] + src.box[2]) / 2
        near_edge = not (w * scale / 2 <= src_cx <= im.width - w * scale / 2)
    if not near_edge:
        assert abs(cx - w / 2) < 0.06 * w
    assert 0 < fy0 and fy1 < h  # the whole face is in frame
    # The framed face is found again where the framing says it is.
    again = detect_face(framed)
    assert abs(again.nose[0] - face.nose[0]) < 0.03 * w
    assert abs(again.nose[1] - face.nose[1]) < 0.03 * h


def test_framing_maps_landmarks_with_the_pixels() -> None:
    with Image.open(PORTRAITS / "grace_hopper.jpg") as im:
        face = detect_face(im)
        framed, moved = frame_face(im, face, 256, 256)
    assert isinstance(moved, PhotoFace)
    assert moved.eye_distance == pytest.approx(
        face.eye_distance * (moved.box[2] - moved.box[0]) / (face.box[2] - face.box[0])
    )


def _side_by_side() -> Image.Image:
    a = Image.open(PORTRAITS / "grace_hopper.jpg").convert("RGB").resize((400, 470))
    b = Image.open(PORTRAITS / "astronaut.jpg").convert("RGB").crop((120, 20, 330, 270))
    b = b.resize((376, 448))
    out = Image.new("RGB", (800, 480), (90, 90, 90))
    out.paste(a, (0, 5))
    out.paste(b, (420, 16))
    return out


def _tiny() -> Image.Image:
    face = Image.open(PORTRAITS / "grace_hopper.jpg").convert("RGB").resize((110, 128))
    out = Image.new("RGB", (1400, 1000), (200, 205, 210))
    out.paste(face, (600, 400))
    return out


def _blank() -> Image.Image:
    rng = np.random.default_rng(1)
    wall = rng.normal(150, 12, (400, 400, 3)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(wall)


UNUSABLE = {
    "profile": (lambda: Image.open(PORTRAITS / "cameraman_profile.jpg"), "profile"),
    "several": (_side_by_side, "2 faces found"),
    "too small": (_tiny, "pixels wide"),
    "none": (_blank, "no face found"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_portraits_say_why_and_how_to_crop(case: str) -> None:
    make, expected = UNUSABLE[case]
    with pytest.raises(PortraitError) as err:
        detect_face(make())
    assert expected in str(err.value)
    assert "crop it to one person's head and shoulders" in str(err.value)
    assert f"{MIN_FACE_PX} pixels" in str(err.value)


def persona_yaml(renderer: str, image: str) -> str:
    return GOOD.format(id="p") + f"avatar:\n  renderer: {renderer}\n  image: {image}\n"


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_validate_reports_the_portrait_on_its_line(tmp_path: Path, case: str) -> None:
    make, expected = UNUSABLE[case]
    make().convert("RGB").save(tmp_path / "face.png")
    path = tmp_path / "p.yaml"
    path.write_text(persona_yaml("local", "face.png"))
    with pytest.raises(PersonaError) as err:
        load_persona_file(path)
    (issue,) = err.value.issues
    assert str(issue).endswith(f"p.yaml:19 avatar.image: {issue.message}")
    assert expected in issue.message and "crop it" in issue.message


def test_validate_accepts_a_usable_photo_and_ignores_it_without_an_avatar(tmp_path: Path) -> None:
    Image.open(PORTRAITS / "grace_hopper.jpg").save(tmp_path / "face.jpg")
    _blank().save(tmp_path / "wall.png")
    path = tmp_path / "p.yaml"
    path.write_text(persona_yaml("hedra", "face.jpg"))
    assert load_persona_file(path).avatar.image == "face.jpg"
    path.write_text(persona_yaml("none", "wall.png"))
    load_persona_file(path)  # no avatar shown: the photo is not checked


def test_landmarks_are_kept_on_disk_between_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from interview_pipeline.avatar import portrait

    photo = PORTRAITS / "grace_hopper.jpg"
    first = framed_portrait(photo, 256, 256, tmp_path)
    (entry,) = tmp_path.glob("*.json")
    calls: list[Image.Image] = []
    real = portrait.detect_face

    def counted(im: Image.Image) -> PhotoFace:
        calls.append(im)
        return real(im)

    monkeypatch.setattr(portrait, "detect_face", counted)
    portrait._framed.cache_clear()  # as a new bot process would start
    assert framed_portrait(photo, 256, 256, tmp_path)[1] == first[1]
    assert not calls  # read back, not detected again
    entry.write_text("{not json")
    portrait._framed.cache_clear()
    assert framed_portrait(photo, 256, 256, tmp_path)[1] == first[1] and len(calls) == 1


def test_a_smile_opens_under_its_own_teeth() -> None:
    faces = {}
    for name in ("astronaut.jpg", "grace_hopper.jpg"):
        with Image.open(PORTRAITS / name) as im:
            faces[name] = detect_face(im)
    smile, closed = faces["astronaut.jpg"], faces["grace_hopper.jpg"]
    assert smile.teeth and not closed.teeth
    # The split is just under the upper teeth: well above the chin, close under the nose.
    assert smile.mouth[1] - smile.nose[1] < 0.45 * smile.eye_distance
