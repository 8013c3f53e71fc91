"""Portrait preparation and the generated illustrated face.

The local renderer and Hedra must start from the *same* pixels, or a line that switches from
a Hedra clip to local lip-sync jumps visibly. So every portrait goes through
``prepare_portrait``: framed around its face (portrait.py) at the persona's size, RGB. That image is what Hedra gets and what the local renderer animates,
and its pixel digest is part of the clip-cache key.

The generated face's geometry is a ``FaceLayout`` (exact: we drew it). A photo's comes from
face detection (``PhotoFace``); the layout heuristic is only the fallback for a photo the
detector cannot use.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from loguru import logger
from PIL import Image, ImageDraw, ImageFilter

from interview_pipeline.avatar.portrait import PhotoFace, PortraitError, framed_portrait


@dataclass(frozen=True)
class FaceLayout:
    """Where the face parts are, as fractions of the frame (x of width, y of height)."""

    left_eye: tuple[float, float] = (0.405, 0.44)
    right_eye: tuple[float, float] = (0.595, 0.44)
    eye_width: float = 0.075
    mouth: tuple[float, float] = (0.5, 0.645)
    mouth_width: float = 0.15
    #: Lowest point of the chin: the jaw-drop warp fades out there.
    chin: float = 0.735


#: The generated face is drawn to this layout, and a centred portrait is assumed to match it.
DEFAULT_LAYOUT = FaceLayout()


def cover_resize(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to fill ``width``×``height`` and crop the overflow, centred (CSS ``cover``)."""
    image = image.convert("RGB")
    scale = max(width / image.width, height / image.height)
    w, h = max(width, round(image.width * scale)), max(height, round(image.height * scale))
    resized = image.resize((w, h), Image.Resampling.LANCZOS)
    left, top = (w - width) // 2, (h - height) // 2
    return resized.crop((left, top, left + width, top + height))


def prepare_face(
    portrait: Path | None,
    width: int,
    height: int,
    seed: str,
    cache_dir: Path | None = None,
    *,
    photo: bool = True,
) -> tuple[Image.Image, PhotoFace | None]:
    """The persona's face at its video size and, for a photo, where its features are.

    A photo is auto-framed around its face (portrait.py; ``cache_dir`` keeps its landmarks
    across processes). One the detector cannot use (which ``personas validate`` reports)
    falls back to a centred crop and the layout heuristic.
    """
    if portrait is None:
        return generated_face(width, height, seed), None
    if not photo:  # a drawn face: centred, its features found by the layout heuristic
        with Image.open(portrait) as im:
            return cover_resize(im, width, height), None
    try:
        return framed_portrait(portrait, width, height, cache_dir)
    except PortraitError as exc:
        logger.warning(f"{portrait.name}: {exc}; using a centred crop")
    with Image.open(portrait) as im:
        return cover_resize(im, width, height), None


def prepare_portrait(
    portrait: Path | None,
    width: int,
    height: int,
    seed: str,
    cache_dir: Path | None = None,
    *,
    photo: bool = True,
) -> Image.Image:
    """The persona's face at its video size: the framed portrait, or a generated face."""
    return prepare_face(portrait, width, height, seed, cache_dir, photo=photo)[0]


def pixel_digest(image: Image.Image) -> str:
    """Digest of the pixels (not of an encoding, which varies across Pillow versions)."""
    rgb = image.convert("RGB")
    h = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def refine_layout(image: Image.Image, layout: FaceLayout = DEFAULT_LAYOUT) -> FaceLayout:
    """Nudge the mouth height to the darkest row near where the heuristic puts it.

    The lip line is the darkest horizontal feature of the lower face; looking only within a
    few percent of the expected height keeps nostrils, chin and collar out of it.
    """
    gray = np.asarray(image.convert("L"), dtype=np.float32)
    h, w = gray.shape

    def darkest_row(cx: float, cy: float, half_w: float, search: float) -> float:
        x0, x1 = int((cx - half_w) * w), int((cx + half_w) * w)
        y0, y1 = int((cy - search) * h), int((cy + search) * h)
        band = gray[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
        if band.size == 0:
            return cy
        rows = np.convolve(band.mean(axis=1), np.ones(3) / 3, mode="same")
        # Prefer rows near the expectation: a mild penalty for distance.
        penalty = np.abs(np.arange(len(rows)) + y0 - cy * h) * 0.15
        return float(np.argmin(rows + penalty) + max(0, y0)) / h

    # Only the mouth: around the eyes the lash line and brows compete with the pupils.
    mouth_y = darkest_row(layout.mouth[0], layout.mouth[1], layout.mouth_width / 3, 0.04)
    return replace(layout, mouth=(layout.mouth[0], mouth_y))


# --- the generated illustrated face ----------------------------------------------------

_SKIN = [(241, 204, 178), (226, 185, 150), (198, 145, 107), (160, 109, 75), (111, 74, 52)]
_HAIR = [(52, 38, 30), (94, 62, 38), (160, 112, 60), (30, 28, 30), (120, 120, 125)]
_SHIRT = [(58, 84, 122), (92, 60, 110), (40, 110, 100), (150, 70, 60), (70, 70, 80)]
_BACKDROP = [((214, 226, 240), (176, 196, 222)), ((236, 226, 214), (210, 190, 170))]


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def generated_face(
    width: int, height: int, seed: str, *, hair_style: str | None = None
) -> Image.Image:
    """A friendly illustrated head-and-shoulders portrait, deterministic for a seed.

    Drawn at 3× and downsampled for anti-aliasing, on ``DEFAULT_LAYOUT`` so the renderer
    knows exactly where eyes and mouth are. The mouth is drawn closed: the renderer opens it.
    """
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    skin, hair, shirt = rng.choice(_SKIN), rng.choice(_HAIR), rng.choice(_SHIRT)
    top_bg, bottom_bg = rng.choice(_BACKDROP)
    style = hair_style or rng.choice(["short", "long", "bun"])
    s = 3
    W, H = width * s, height * s
    size = min(W, H)
    ox, oy = (W - size) / 2, (H - size) / 2

    def P(x: float, y: float) -> tuple[float, float]:
        return ox + x * size, oy + y * size

    def box(cx: float, cy: float, rx: float, ry: float) -> tuple[float, float, float, float]:
        (x0, y0), (x1, y1) = P(cx - rx, cy - ry), P(cx + rx, cy + ry)
        return (x0, y0, x1, y1)

    grad = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    bg = np.asarray(top_bg, np.float32) * (1 - grad) + np.asarray(bottom_bg, np.float32) * grad
    img = Image.fromarray(np.broadcast_to(bg, (H, W, 3)).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    shade = _mix(skin, (90, 50, 40), 0.18)
    dark_hair = _mix(hair, (0, 0, 0), 0.25)

    if style == "long":  # hair behind the shoulders
        d.rounded_rectangle(box(0.5, 0.62, 0.245, 0.3), radius=int(0.12 * size), fill=dark_hair)
    # shoulders, shirt and collar
    d.ellipse(box(0.5, 1.08, 0.42, 0.3), fill=shirt)
    d.rectangle(box(0.5, 0.79, 0.075, 0.1), fill=shade)
    d.polygon([P(0.42, 0.8), P(0.5, 0.9), P(0.58, 0.8)], fill=_mix(shirt, (255, 255, 255), 0.2))
    d.polygon([P(0.445, 0.8), P(0.5, 0.87), P(0.555, 0.8)], fill=shade)
    # ears
    for ex in (0.29, 0.71):
        d.ellipse(box(ex, 0.47, 0.035, 0.055), fill=shade)
    # hair cap behind the head, then the head, then a side-swept fringe over the forehead
    d.ellipse(box(0.5, 0.43, 0.222, 0.25), fill=hair)
    if style == "bun":
        d.ellipse(box(0.5, 0.17, 0.075, 0.06), fill=hair)
    d.ellipse(box(0.5, 0.47, 0.2, 0.265), fill=skin)
    d.ellipse(box(0.5, 0.655, 0.13, 0.08), fill=skin)  # fuller jaw
    arc = [
        P(0.5 + 0.212 * np.cos(a), 0.445 - 0.245 * np.sin(a))
        for a in np.linspace(0.12, np.pi - 0.05, 24)
    ]
    fringe = [
        P(0.3, 0.42),
        P(0.35, 0.335),
        P(0.44, 0.305),
        P(0.56, 0.315),
        P(0.66, 0.3),
        P(0.7, 0.4),
    ]
    d.polygon(arc + fringe, fill=hair)
    if style == "long":
        d.rounded_rectangle(box(0.305, 0.52, 0.028, 0.17), radius=int(0.028 * size), fill=hair)
        d.rounded_rectangle(box(0.695, 0.52, 0.028, 0.17), radius=int(0.028 * size), fill=hair)
    # cheeks
    blush = _mix(skin, (230, 120, 120), 0.25)
    for cx in (0.385, 0.615):
        d.ellipse(box(cx, 0.575, 0.04, 0.022), fill=blush)
    # eyebrows
    lay = DEFAULT_LAYOUT
    for (ex, ey), side in ((lay.left_eye, -1), (lay.right_eye, 1)):
        pts = [
            P(ex - 0.045, ey - 0.048 + 0.004 * side),
            P(ex, ey - 0.062),
            P(ex + 0.045, ey - 0.05),
        ]
        d.line(pts, fill=dark_hair, width=max(2, int(0.012 * size)), joint="curve")
        # eye: white, iris, pupil, highlight, upper lash line
        d.ellipse(box(ex, ey, lay.eye_width / 2, 0.02), fill=(248, 246, 242))
        d.ellipse(box(ex, ey + 0.002, 0.016, 0.016), fill=_mix(hair, (60, 90, 120), 0.5))
        d.ellipse(box(ex, ey + 0.002, 0.008, 0.008), fill=(20, 16, 16))
        d.ellipse(box(ex + 0.006, ey - 0.005, 0.004, 0.004), fill=(255, 255, 255))
        d.arc(
            box(ex, ey, lay.eye_width / 2, 0.02), 190, 350, fill=(40, 30, 30), width=max(2, s * 2)
        )
    # nose
    d.line([P(0.505, 0.47), P(0.515, 0.545), P(0.495, 0.56)], fill=shade, width=max(2, s * 2))
    d.ellipse(box(0.485, 0.557, 0.008, 0.005), fill=_mix(shade, (60, 30, 30), 0.3))
    d.ellipse(box(0.517, 0.557, 0.008, 0.005), fill=_mix(shade, (60, 30, 30), 0.3))
    # closed mouth: soft smile and a lower-lip hint
    mx, my = lay.mouth
    half = lay.mouth_width / 2
    lip = _mix(skin, (170, 60, 70), 0.55)
    d.line(
        [P(mx - half, my - 0.006), P(mx - half / 2, my + 0.003), P(mx, my + 0.005),
         P(mx + half / 2, my + 0.003), P(mx + half, my - 0.006)],
        fill=_mix(lip, (60, 20, 25), 0.4), width=max(2, int(0.008 * size)), joint="curve",
    )  # fmt: skip
    d.chord(box(mx, my + 0.008, half * 0.62, 0.016), 0, 180, fill=lip)
    img = img.filter(ImageFilter.GaussianBlur(radius=s * 0.35))
    return img.resize((width, height), Image.Resampling.LANCZOS)
