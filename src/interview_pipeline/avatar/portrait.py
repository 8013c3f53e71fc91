"""Find the face on a persona's portrait photo, say why a photo is unusable, and frame it.

Models: dlib's HOG frontal face detector (built into dlib, Boost licence) for the face box and
dlib's 5-point landmark predictor (``shape_predictor_5_face_landmarks.dat`` from the
face-recognition-models package, CC0: trained on dlib's own 5-point data set) for the eye
corners and the base of the nose. dlib's 68-point predictor, in the same package, would give
lips and jaw, but it is trained on iBUG 300-W, whose licence excludes commercial use, so it is
not used: the mouth is placed from the 5 points and then found in the pixels (the lip line is
the darkest row of the lower face, the corners where that dark line fades into skin).

The framed image is what both the local renderer and Hedra start from, so clips and local
animation share one crop (see face.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Detection runs on a copy whose longest side is this (a 12 MP photo would take seconds).
_DETECT_SIDE = 640
#: A face box narrower than this in the original photo is too blurry once scaled up.
MIN_FACE_PX = 64
#: The face box's width as a fraction of the frame's smaller side after framing.
FACE_FRACTION = 0.4
#: Where the face box's centre lands, as a fraction of the frame height (a little above half:
#: headroom over the hair, shoulders below).
FACE_CENTRE_Y = 0.47
#: The nose this far from the eyes' midpoint, in eye distances, is a face turned sideways.
_MAX_YAW = 0.28
#: A second face counts only if it is this sure and at least this big relative to the first.
_SECOND_SCORE, _SECOND_SIZE = 0.5, 0.5
#: How sure the detector must be; a drawn portrait scores just above 0.
_MIN_SCORE = 0.0

_CROP_HINT = (
    "crop it to one person's head and shoulders, facing the camera, with the face at least "
    f"{MIN_FACE_PX} pixels wide"
)


class PortraitError(ValueError):
    """A photo the avatar cannot animate; the message says why and how to crop it."""


@dataclass(frozen=True)
class PhotoFace:
    """Face geometry in pixels of one image (x right, y down; left/right as seen)."""

    box: tuple[float, float, float, float]
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    eye_width: float
    nose: tuple[float, float]
    mouth: tuple[float, float]
    mouth_width: float
    chin: float
    #: The photo shows upper teeth (a smile): the mouth opens at their lower edge and needs
    #: no drawn hint of teeth.
    teeth: bool = False

    @property
    def eye_distance(self) -> float:
        return math.dist(self.left_eye, self.right_eye)

    def mapped(self, scale: float, dx: float, dy: float) -> PhotoFace:
        """The same face after the image is scaled by ``scale`` then shifted by (dx, dy)."""

        def p(pt: tuple[float, float]) -> tuple[float, float]:
            return pt[0] * scale + dx, pt[1] * scale + dy

        x0, y0, x1, y1 = self.box
        return PhotoFace(
            box=(*p((x0, y0)), *p((x1, y1))),
            left_eye=p(self.left_eye),
            right_eye=p(self.right_eye),
            eye_width=self.eye_width * scale,
            nose=p(self.nose),
            mouth=p(self.mouth),
            mouth_width=self.mouth_width * scale,
            chin=self.chin * scale + dy,
            teeth=self.teeth,
        )


@lru_cache(maxsize=1)
def _models() -> tuple[object, object]:
    try:
        import dlib
        import face_recognition_models
    except ImportError as exc:  # pragma: no cover - setup.sh installs both
        raise PortraitError(
            f"finding the face needs {exc.name}: install the project's 'face' extra "
            "(scripts/setup.sh does)"
        ) from None
    predictor = dlib.shape_predictor(
        face_recognition_models.pose_predictor_five_point_model_location()
    )
    return dlib.get_frontal_face_detector(), predictor


def detect_face(image: Image.Image) -> PhotoFace:
    """The one usable face on ``image``, or PortraitError saying what is wrong with it."""
    detector, predictor = _models()
    rgb = image.convert("RGB")
    scale = min(1.0, _DETECT_SIDE / max(rgb.size))
    small = rgb.resize((round(rgb.width * scale), round(rgb.height * scale))) if scale < 1 else rgb
    pixels = np.asarray(small)
    # Upsampling once finds faces down to ~40 px on the detection copy.
    rects, scores, kinds = detector.run(pixels, 1, -0.5)  # type: ignore[attr-defined]
    found = sorted(zip(scores, rects, kinds, strict=True), key=lambda f: -f[0])
    frontal = [f for f in found if f[0] >= _MIN_SCORE]
    if not frontal:
        if any(kind in (1, 2) for _, _, kind in found):
            raise PortraitError(f"the face is in profile (turned sideways); {_CROP_HINT}")
        raise PortraitError(f"no face found; {_CROP_HINT}")
    _, best, _ = frontal[0]
    others = [
        r
        for s, r, _ in frontal[1:]
        if s >= _SECOND_SCORE and r.width() >= _SECOND_SIZE * best.width()
    ]
    if others:
        raise PortraitError(f"{len(others) + 1} faces found; {_CROP_HINT}")
    width = best.width() / scale
    if width < MIN_FACE_PX:
        raise PortraitError(f"the face is only {width:.0f} pixels wide; {_CROP_HINT}")
    shape = predictor(pixels, best)  # type: ignore[operator]
    pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(5)], float) / scale
    # Points 0-1 and 2-3 are the corners of one eye each, 4 the base of the nose.
    eye_a, eye_b = (pts[0] + pts[1]) / 2, (pts[2] + pts[3]) / 2
    left, right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    eye_width = float((np.linalg.norm(pts[0] - pts[1]) + np.linalg.norm(pts[2] - pts[3])) / 2)
    nose = pts[4]
    mid = (left + right) / 2
    iod = float(np.linalg.norm(right - left))
    # Yaw: the nose drifts off the line between the eyes' midpoint and the chin.
    axis = np.array([-(right - left)[1], (right - left)[0]]) / max(iod, 1e-6)
    side = float(np.dot(nose - mid, (right - left) / max(iod, 1e-6)))
    if abs(side) > _MAX_YAW * iod or np.dot(nose - mid, axis) < 0.3 * iod:
        raise PortraitError(f"the face is turned away from the camera; {_CROP_HINT}")
    box = (best.left() / scale, best.top() / scale, best.right() / scale, best.bottom() / scale)
    mouth_x, mouth_y, mouth_w = _find_mouth(rgb, nose, iod, mid)
    teeth_edge = _teeth_edge(rgb, nose, iod, left, right, mouth_y)
    if teeth_edge is not None:
        mouth_y = min(mouth_y, teeth_edge)
    chin = max(box[3], mouth_y + 0.55 * iod)
    return PhotoFace(
        box=box,
        left_eye=(float(left[0]), float(left[1])),
        right_eye=(float(right[0]), float(right[1])),
        eye_width=eye_width,
        nose=(float(nose[0]), float(nose[1])),
        mouth=(mouth_x, mouth_y),
        mouth_width=mouth_w,
        chin=float(chin),
        teeth=teeth_edge is not None,
    )


def _teeth_edge(
    image: Image.Image,
    nose: np.ndarray,
    iod: float,
    left: np.ndarray,
    right: np.ndarray,
    line: float,
) -> float | None:
    """The lower edge of upper teeth a smile shows, or None: bright, greyer-than-skin rows
    between the nose and the lip line. The skin to compare with is under the eyes."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    r = max(2, int(0.08 * iod))
    cheeks = []
    for eye in (left, right):
        y = int(eye[1] + 0.65 * (nose[1] - eye[1]))
        x = int(eye[0])
        cheeks.append(rgb[max(0, y - r) : y + r, max(0, x - r) : x + r].reshape(-1, 3))
    skin = np.concatenate(cheeks)
    if len(skin) < 4:
        return None
    skin_lum = float(np.median(skin.mean(axis=1)))
    skin_chroma = float(np.median(skin.max(axis=1) - skin.min(axis=1)))
    y0, y1 = max(0, int(nose[1] + 0.05 * iod)), min(h, int(line + 0.1 * iod))
    x0, x1 = max(0, int(nose[0] - 0.25 * iod)), min(w, int(nose[0] + 0.25 * iod))
    band = rgb[y0:y1, x0:x1]
    if band.size == 0:
        return None
    chroma = band.max(axis=2) - band.min(axis=2)
    bright = (band.mean(axis=2) > skin_lum + 15) & (chroma < 0.7 * skin_chroma)
    rows = np.flatnonzero(bright.mean(axis=1) > 0.3)
    if len(rows) < 2 or skin_chroma < 12:  # a grey photo cannot tell teeth from skin
        return None
    return float(y0 + rows[-1] + 1)


def _find_mouth(
    image: Image.Image, nose: np.ndarray, iod: float, mid: np.ndarray
) -> tuple[float, float, float]:
    """(x, y, width) of the mouth, searched below the nose in the pixels.

    Lips differ from the skin above them in brightness and in redness (teeth and the dark
    mouth line of a smile too), so the mouth is the band of rows that differ most, 0.2–0.8
    eye distances under the nose base; its centre is where the jaw opens. The corners are
    where that difference fades along the centre row. x comes from the nose and eyes, which
    a lopsided smile does not move.
    """
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    h, w = rgb.shape[:2]
    cx = float(nose[0] * 0.6 + mid[0] * 0.4)
    fallback = cx, float(nose[1] + 0.45 * iod), 0.85 * iod
    y0, y1 = max(0, int(nose[1] + 0.2 * iod)), min(h, int(nose[1] + 0.8 * iod))
    x0, x1 = max(0, int(cx - 0.75 * iod)), min(w, int(cx + 0.75 * iod))
    region = rgb[y0:y1, x0:x1]
    if region.shape[0] < 6 or region.shape[1] < 6:
        return fallback
    gray = region.mean(axis=2)
    red = region[..., 0] - region[..., 1]
    top = max(1, int(0.12 * iod))  # skin: the rows just under the nose
    skin_g, skin_r = float(np.median(gray[:top])), float(np.median(red[:top]))
    diff = np.abs(gray - skin_g) + 1.5 * np.abs(red - skin_r)
    c0, c1 = int(cx - 0.3 * iod) - x0, int(cx + 0.3 * iod) - x0
    rows = np.convolve(diff[:, max(0, c0) : max(c0 + 1, c1)].mean(axis=1), np.ones(3) / 3, "same")
    rows[:top] = 0
    peak = float(rows.max())
    if peak < 8:  # nothing stands out: a beard, or a very low-contrast photo
        return fallback
    strong = rows >= 0.5 * peak
    ys = np.flatnonzero(strong)
    centre = int(np.argmax(rows))
    a = b = centre
    while a > ys[0] and strong[a - 1]:
        a -= 1
    while b < ys[-1] and strong[b + 1]:
        b += 1
    weights = rows[a : b + 1]
    line = float(np.dot(np.arange(a, b + 1), weights) / weights.sum())
    cols = diff[max(0, int(line) - 1) : int(line) + 2].mean(axis=0)
    cols = np.convolve(cols, np.ones(5) / 5, "same")
    mc = min(max(int(cx) - x0, 0), len(cols) - 1)
    inside = cols > 0.35 * float(cols[max(0, mc - 3) : mc + 4].mean())
    left = right = mc
    while left > 0 and inside[left - 1]:
        left -= 1
    while right < len(inside) - 1 and inside[right + 1]:
        right += 1
    width = float(np.clip(2 * max(mc - left, right - mc), 0.6 * iod, 1.1 * iod))
    return cx, float(y0 + line), width


def frame_face(
    image: Image.Image, face: PhotoFace, width: int, height: int
) -> tuple[Image.Image, PhotoFace]:
    """Crop and scale so the face box is ``FACE_FRACTION`` of the frame, centred.

    The crop window stays inside the photo: near an edge the face sits off centre, and a
    photo too tight to give the face its share makes the face larger, never padded.
    """
    rgb = image.convert("RGB")
    x0, y0, x1, y1 = face.box
    fw = x1 - x0
    # Crop size in source pixels for an output of width × height.
    s = fw / (FACE_FRACTION * min(width, height))  # source px per output px
    s = min(s, rgb.width / width, rgb.height / height)
    cw, ch = width * s, height * s
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = min(max(0.0, cx - cw / 2), rgb.width - cw)
    top = min(max(0.0, cy - FACE_CENTRE_Y * ch), rgb.height - ch)
    framed = rgb.resize(
        (width, height), Image.Resampling.LANCZOS, box=(left, top, left + cw, top + ch)
    )
    return framed, face.mapped(1 / s, -left / s, -top / s)


def check_portrait(path: Path, cache_dir: Path | None = None) -> str | None:
    """Why the portrait at ``path`` cannot be animated, or None when it can."""
    try:
        with Image.open(path) as im:
            _cached_face(path, im, cache_dir)
    except PortraitError as exc:
        return str(exc)
    return None


#: Bump when detection or the mouth search changes: cached faces from before are stale.
_FACE_VERSION = "dlib-hog-5pt-2"


def _cached_face(path: Path, im: Image.Image, cache_dir: Path | None) -> PhotoFace:
    """``detect_face`` on the photo, remembered on disk by the file's digest.

    Loading dlib's model and detecting take a second or more of CPU, in every bot process:
    the landmarks of a file never change, so only the first session of a persona pays.
    """
    if cache_dir is None:
        return detect_face(im)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    entry = cache_dir / f"{digest}-{_FACE_VERSION}.json"
    try:
        data = json.loads(entry.read_text())
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return PhotoFace(**fields)
    except (OSError, ValueError, TypeError):
        pass
    face = detect_face(im)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(face)))
        tmp.replace(entry)
    except OSError:
        pass  # a read-only data dir only costs the detection next time
    return face


@lru_cache(maxsize=8)
def _framed(
    path: Path, mtime_ns: int, width: int, height: int, cache_dir: Path | None
) -> tuple[Image.Image, PhotoFace]:
    with Image.open(path) as im:
        im.load()
        return frame_face(im, _cached_face(path, im, cache_dir), width, height)


def framed_portrait(
    path: Path, width: int, height: int, cache_dir: Path | None = None
) -> tuple[Image.Image, PhotoFace]:
    """The portrait framed at the persona's size and its face; landmarks cached per file
    version in memory and, with ``cache_dir``, on disk."""
    framed, face = _framed(path, path.stat().st_mtime_ns, width, height, cache_dir)
    return framed.copy(), face
