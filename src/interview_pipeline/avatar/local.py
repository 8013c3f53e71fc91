"""The local renderer: a portrait that talks, blinks and moves a little, for almost no CPU.

Everything costly happens once, in ``__init__``: the portrait is padded for head motion, and
``MOUTH_LEVELS`` × 2 mouth sprites (round and wide) and two eyelid sprites per eye are
pre-rendered as small RGB patches. A frame is then a window slice of the padded canvas
(head motion), three patch pastes and one ``tobytes`` — well under a millisecond at 512×512,
so one core can animate dozens of sessions.

The mouth opens by a jaw-drop warp (the chin slides down, taper to zero at the chin line)
with a drawn mouth cavity and upper teeth: on a photograph this reads far better than a
cartoon mouth pasted over the lips, and on the generated face it is exact.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from interview_pipeline.avatar.face import (
    DEFAULT_LAYOUT,
    FaceLayout,
    prepare_face,
    refine_layout,
)
from interview_pipeline.avatar.photo_warp import eye_sprites, mouth_sprites
from interview_pipeline.avatar.portrait import PhotoFace

#: Distinct mouth openings pre-rendered (0 = closed, the portrait's own mouth).
MOUTH_LEVELS = 8
#: Blink: frames of (left/right eyelid state) — 0 open, 1 half, 2 closed.
_BLINK = (1, 2, 2, 1)
#: A full listening nod dips the head this many times the idle motion's amplitude.
_NOD_SCALE = 4


@runtime_checkable
class FaceRenderer(Protocol):
    """What the avatar stage needs from a renderer: a frame for a mouth state at a time.

    ``t`` (seconds, any monotonic origin) drives idle motion and blinks, so a renderer is
    stateless in time and two calls with the same arguments give the same frame.
    """

    width: int
    height: int

    def frame(self, mouth_open: float, t: float, *, wide: float = 0.0, nod: float = 0.0) -> bytes:
        """RGB24 bytes (width×height×3) for openness 0..1, mouth width (0 round, 1 wide)
        and a listening nod (0..1, how far the head is dipped)."""
        ...


Box = tuple[float, float, float, float]


def _mask(size: tuple[int, int], shape: str, box: Box, scale: int = 4, **kw: int) -> np.ndarray:
    """An anti-aliased 0..1 float mask of one PIL shape drawn at ``scale``× then box-filtered.

    ``shape`` is ``ellipse``, ``rectangle`` or ``arc`` (``start``, ``end``, ``width`` in kw).
    """
    w, h = size
    big = Image.new("L", (w * scale, h * scale), 0)
    d = ImageDraw.Draw(big)
    xy = (box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale)
    if shape == "arc":
        d.arc(xy, kw["start"], kw["end"], fill=255, width=kw["width"] * scale)
    else:
        getattr(d, shape)(xy, fill=255)
    small = big.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _inpaint(region: np.ndarray, zone: np.ndarray) -> np.ndarray:
    """Replace ``zone`` (0..1 mask) column by column, interpolating between its edges.

    Vertical interpolation keeps the face's shading and, unlike a wide blur, never pulls in
    background from beside the jaw.
    """
    out = region.copy()
    inside = zone > 0.02
    for x in np.flatnonzero(inside.any(axis=0)):
        ys = np.flatnonzero(inside[:, x])
        top, bottom = max(0, ys[0] - 1), min(region.shape[0] - 1, ys[-1] + 1)
        f = ((np.arange(top, bottom + 1) - top) / max(1, bottom - top))[:, None]
        out[top : bottom + 1, x] = region[top, x] * (1 - f) + region[bottom, x] * f
    z = np.clip(zone * 1.3, 0, 1)[..., None]
    return region * (1 - z) + out * z


def _lip_colour(region: np.ndarray, zone: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """The lips' colour: the zone's pixels furthest from the skin tone, toned toward red."""
    pixels = region[zone > 0.5]
    if len(pixels) < 8:
        return skin * np.array([0.72, 0.5, 0.52])
    dist = np.linalg.norm(pixels - skin, axis=1)
    lips = pixels[dist >= np.quantile(dist, 0.8)]
    colour = np.median(lips, axis=0)
    return 0.6 * colour + 0.4 * skin * np.array([0.8, 0.55, 0.56])


class LocalFaceRenderer:
    """Real-time talking head from one image; see the module docstring for the approach."""

    def __init__(
        self,
        width: int,
        height: int,
        *,
        portrait: Path | None = None,
        image: Image.Image | None = None,
        seed: str = "interviewer",
        layout: FaceLayout | None = None,
        face: PhotoFace | None = None,
        motion: float = 1.0,
    ) -> None:
        self.width, self.height = width, height
        generated = image is None and portrait is None
        if image is None:
            image, found = prepare_face(portrait, width, height, seed)
            face = face or found
        base = image
        if base.size != (width, height):
            raise ValueError(f"image is {base.size}, expected {(width, height)}")
        if layout is None:
            layout = DEFAULT_LAYOUT if generated else refine_layout(base)
        self.layout = layout
        self.base = np.ascontiguousarray(np.asarray(base.convert("RGB"), dtype=np.uint8))
        self._motion_px = max(1, round(0.005 * min(width, height) * motion)) if motion else 0
        pad = self._motion_px * (1 + _NOD_SCALE) + 1
        self._pad = pad
        self._canvas = np.pad(self.base, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        self._out = np.empty_like(self.base)
        #: Set for a photo: its own lips and lids are warped instead of drawing new ones.
        self.face = face
        if face is not None:
            margin = self._motion_px
            self._mouth_box, self._mouths = mouth_sprites(self.base, face, MOUTH_LEVELS, margin)
            self._eye_boxes, self._eyes = eye_sprites(self.base, face, margin)
        else:
            self._mouth_box, self._mouths = self._build_mouths()
            self._eye_boxes, self._eyes = self._build_eyes()

    # --- per frame -------------------------------------------------------------------------
    def offset(self, t: float, mouth_open: float = 0.0, nod: float = 0.0) -> tuple[int, int]:
        """Head motion in pixels: two slow incommensurate sines, a small nod on speech, and
        the listening nod (a dip of the whole head, the only motion beyond the idle range)."""
        a = self._motion_px
        if not a:
            return 0, 0
        dx = a * (
            0.65 * math.sin(2 * math.pi * 0.09 * t) + 0.35 * math.sin(2 * math.pi * 0.23 * t + 1.3)
        )
        dy = a * (
            0.6 * math.sin(2 * math.pi * 0.13 * t + 0.4) + 0.4 * math.sin(2 * math.pi * 0.31 * t)
        )
        dy += 0.6 * a * mouth_open
        dip = round(_NOD_SCALE * a * max(0.0, min(1.0, nod)))
        return max(-a, min(a, round(dx))), max(-a, min(a, round(dy))) - dip

    @staticmethod
    def blink_state(t: float) -> int:
        """Eyelid state at ``t``: a blink (4 frames at 25 fps) every 2.6–5.4 s, pseudo-random."""
        period_index = math.floor(t / 4.0)
        start = period_index * 4.0 + (math.sin(period_index * 12.9898) * 43758.5453 % 1.0) * 2.6
        k = int((t - start) / 0.04)
        return _BLINK[k] if 0 <= k < len(_BLINK) else 0

    def level_of(self, mouth_open: float) -> int:
        return max(0, min(MOUTH_LEVELS - 1, round(mouth_open * (MOUTH_LEVELS - 1))))

    def state(
        self, mouth_open: float, t: float, *, wide: float = 0.0, nod: float = 0.0
    ) -> tuple[int, ...]:
        """What the frame for these arguments shows; equal states are identical frames."""
        level = self.level_of(mouth_open)
        return (*self.offset(t, mouth_open, nod), level, int(wide >= 0.5) if level else 0,
                self.blink_state(t))  # fmt: skip

    def frame_array(
        self, mouth_open: float, t: float, *, wide: float = 0.0, nod: float = 0.0
    ) -> np.ndarray:
        """The frame as an (H, W, 3) uint8 array, valid until the next call (reused buffer)."""
        dx, dy = self.offset(t, mouth_open, nod)
        p = self._pad
        out = self._out
        out[:] = self._canvas[p + dy : p + dy + self.height, p + dx : p + dx + self.width]
        level = self.level_of(mouth_open)
        if level:
            x0, y0, x1, y1 = self._mouth_box
            out[y0 - dy : y1 - dy, x0 - dx : x1 - dx] = self._mouths[1 if wide >= 0.5 else 0][level]
        state = self.blink_state(t)
        if state:
            for (x0, y0, x1, y1), sprites in zip(self._eye_boxes, self._eyes, strict=True):
                out[y0 - dy : y1 - dy, x0 - dx : x1 - dx] = sprites[state - 1]
        return out

    def frame(self, mouth_open: float, t: float, *, wide: float = 0.0, nod: float = 0.0) -> bytes:
        return self.frame_array(mouth_open, t, wide=wide, nod=nod).tobytes()

    # --- precomputation --------------------------------------------------------------------
    def _px(self, fx: float, fy: float) -> tuple[float, float]:
        return fx * self.width, fy * self.height

    def _clamp_box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        m = self._motion_px
        return (
            int(max(m, math.floor(x0))),
            int(max(m, math.floor(y0))),
            int(min(self.width - m, math.ceil(x1))),
            int(min(self.height - m, math.ceil(y1))),
        )

    def _build_mouths(self) -> tuple[tuple[int, int, int, int], list[list[np.ndarray]]]:
        lay = self.layout
        cx, cy = self._px(*lay.mouth)
        mw = lay.mouth_width * self.width
        chin = max(cy + 0.5 * mw, lay.chin * self.height)
        box = self._clamp_box(cx - 0.85 * mw, cy - 0.35 * mw, cx + 0.85 * mw, chin + 0.1 * mw)
        x0, y0, x1, y1 = box
        region = self.base[y0:y1, x0:x1].astype(np.float32)
        h, w = region.shape[:2]
        lcx, lcy = cx - x0, cy - y0
        lchin = chin - y0
        skin = np.median(region[: max(2, int(0.15 * mw))].reshape(-1, 3), axis=0)
        # Erase the closed mouth (its corners would show beside the open one): fill the lip
        # zone from the surrounding skin by normalised convolution, a cheap inpainting.
        zone = _mask(
            (w, h), "ellipse", (lcx - 0.62 * mw, lcy - 0.16 * mw, lcx + 0.62 * mw, lcy + 0.24 * mw)
        )
        lip = _lip_colour(region, zone, skin)
        region = _inpaint(region, zone)
        rows = np.arange(h, dtype=np.float32)
        # Feathered blend mask: the warp only shows inside a soft ellipse around mouth and jaw.
        feather = _mask(
            (w, h), "ellipse", (lcx - 0.78 * mw, lcy - 0.3 * mw, lcx + 0.78 * mw, lchin + 0.05 * mw)
        )
        feather = (
            np.asarray(
                Image.fromarray((feather * 255).astype(np.uint8)).filter(
                    ImageFilter.GaussianBlur(max(1.0, 0.08 * mw))
                ),
                dtype=np.float32,
            )[..., None]
            / 255.0
        )
        variants: list[list[np.ndarray]] = []
        for wide in (False, True):
            sprites = [self.base[y0:y1, x0:x1].copy()]
            for level in range(1, MOUTH_LEVELS):
                o = level / (MOUTH_LEVELS - 1)
                gap = o * 0.27 * mw
                # jaw drop: rows below the lip line sample from higher up, fading to 0 at chin
                disp = np.where(rows > lcy, gap * np.clip((lchin - rows) / (lchin - lcy), 0, 1), 0)
                src = np.clip(rows - disp, 0, h - 1)
                lo = np.floor(src).astype(int)
                hi = np.minimum(lo + 1, h - 1)
                fr = (src - lo)[:, None, None]
                warped = region[lo] * (1 - fr) + region[hi] * fr
                half_w = mw * (0.5 if wide else 0.36) * (0.92 + 0.08 * o)
                mid = lcy + gap / 2
                half_h = gap / 2 + 0.8

                g = max(1.2, 0.05 * mw)
                top, bot = mid - half_h, mid + half_h
                lips = _mask(
                    (w, h), "ellipse", (lcx - half_w - g, top - g, lcx + half_w + g, bot + g)
                )
                hole = _mask((w, h), "ellipse", (lcx - half_w, top, lcx + half_w, bot))
                teeth_h = min(gap * 0.3, 0.08 * mw) if o > 0.2 else 0.0
                teeth = _mask((w, h), "rectangle", (0, top, w, top + teeth_h)) * hole
                tongue_box = (
                    lcx - 0.6 * half_w,
                    mid + 0.2 * half_h,
                    lcx + 0.6 * half_w,
                    mid + 1.4 * half_h,
                )
                tongue = _mask((w, h), "ellipse", tongue_box) * hole
                grad = np.clip((rows - (mid - half_h)) / max(1.0, 2 * half_h), 0, 1)[:, None, None]
                cavity_rgb = (
                    np.array([52, 22, 26]) * (1 - 0.3 * grad) + np.array([20, 8, 10]) * 0.3 * grad
                )
                img = warped
                img = img * (1 - lips[..., None]) + lip * lips[..., None]
                img = img * (1 - hole[..., None]) + cavity_rgb * hole[..., None]
                img = (
                    img * (1 - tongue[..., None] * 0.8)
                    + np.array([150, 62, 70]) * tongue[..., None] * 0.8
                )
                img = img * (1 - teeth[..., None]) + np.array([236, 232, 224]) * teeth[..., None]
                out = region * (1 - feather) + img * feather
                sprites.append(np.ascontiguousarray(np.clip(out + 0.5, 0, 255).astype(np.uint8)))
            variants.append(sprites)
        return box, variants

    def _build_eyes(self) -> tuple[list[tuple[int, int, int, int]], list[list[np.ndarray]]]:
        lay = self.layout
        ew = lay.eye_width * self.width
        boxes: list[tuple[int, int, int, int]] = []
        sprites: list[list[np.ndarray]] = []
        for ex, ey in (lay.left_eye, lay.right_eye):
            cx, cy = self._px(ex, ey)
            box = self._clamp_box(cx - 0.75 * ew, cy - 0.55 * ew, cx + 0.75 * ew, cy + 0.5 * ew)
            x0, y0, x1, y1 = box
            region = self.base[y0:y1, x0:x1].astype(np.float32)
            h, w = region.shape[:2]
            lcx, lcy = cx - x0, cy - y0
            # Lid colour: skin between eye and brow (median resists stray lashes and brows).
            band = region[max(0, int(lcy - 0.5 * ew)) : max(1, int(lcy - 0.33 * ew))]
            skin = np.median(band.reshape(-1, 3), axis=0) if band.size else region.mean(axis=(0, 1))
            lash = skin * 0.35
            states = []
            for closed in (0.55, 1.0):
                lid_bottom = lcy - 0.28 * ew + closed * 0.56 * ew

                eye = (lcx - 0.62 * ew, lcy - 0.42 * ew, lcx + 0.62 * ew, lcy + 0.36 * ew)
                below = _mask((w, h), "rectangle", (0, lid_bottom, w, h))
                lm = (_mask((w, h), "ellipse", eye) * (1 - below))[..., None]
                arc = (
                    lcx - 0.55 * ew,
                    lid_bottom - 0.16 * ew,
                    lcx + 0.55 * ew,
                    lid_bottom + 0.1 * ew,
                )
                width = max(1, round(0.06 * ew))
                ln = _mask((w, h), "arc", arc, start=15, end=165, width=width)[..., None]
                img = region * (1 - lm) + skin * lm
                img = img * (1 - ln) + lash * ln
                states.append(np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)))
            boxes.append(box)
            sprites.append(states)
        return boxes, sprites
