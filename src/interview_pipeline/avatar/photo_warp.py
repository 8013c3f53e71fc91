"""Mouth and eyelid sprites for a real photo, made by warping the photo's own pixels.

Nothing is drawn over the face except what a warp cannot show: the dark inside of the mouth
and a hint of upper teeth. The mouth opens by splitting the face at the lip line: each
column of the upper lip slides up a little and the lower lip and jaw slide down, by a
profile that is largest at the centre and zero at the corners, tapering linearly to nothing
at the nose and below the chin (a mesh warp on a column grid, driven by the landmarks). A
blink stretches the skin of the upper lid down over the eye, as a real lid does.

All of it runs once, at start-up, into the same (box, sprite) shape as the illustrated
face's sprites, so a frame costs the same slice-and-paste as before.
"""

from __future__ import annotations

import numpy as np

from interview_pipeline.avatar.portrait import PhotoFace

Box = tuple[int, int, int, int]

#: Total lip gap at full openness, as a fraction of mouth width (round, wide).
_GAP = {False: 0.30, True: 0.24}
#: Half-width of the opening, as a fraction of mouth width (round, wide).
_HALF = {False: 0.40, True: 0.52}
#: Share of the gap taken by the upper lip moving up (the jaw does the rest).
_UPPER = 0.25


def _clamp(base: np.ndarray, margin: int, x0: float, y0: float, x1: float, y1: float) -> Box:
    h, w = base.shape[:2]
    return (
        int(max(margin, np.floor(x0))),
        int(max(margin, np.floor(y0))),
        int(min(w - margin, np.ceil(x1))),
        int(min(h - margin, np.ceil(y1))),
    )


def _sample_rows(region: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Bilinear resampling along y: ``out[y, x] = region[src[y, x], x]``."""
    h = region.shape[0]
    src = np.clip(src, 0, h - 1)
    lo = np.floor(src).astype(np.intp)
    hi = np.minimum(lo + 1, h - 1)
    f = (src - lo)[..., None]
    cols = np.arange(region.shape[1])[None, :]
    return region[lo, cols] * (1 - f) + region[hi, cols] * f


def _split_rows(
    rows: np.ndarray, top: float, line: float, bottom: float, up: np.ndarray, down: np.ndarray
) -> np.ndarray:
    """Source row of every output row when the lip line opens by ``up`` / ``down`` (per column).

    Above the line, [top, line] maps onto [top, line - up]; below it, [line, bottom] maps
    onto [line + down, bottom]; rows in between (the opening) get NaN.
    """
    y = rows[:, None]
    upper = top + (y - top) * (line - top) / np.maximum(line - up - top, 1e-3)
    lower = bottom - (bottom - y) * (bottom - line) / np.maximum(bottom - line - down, 1e-3)
    src = np.where(y <= line - up, upper, np.where(y >= line + down, lower, np.nan))
    return np.where((y < top) | (y > bottom), y, src)


def mouth_sprites(
    base: np.ndarray, face: PhotoFace, levels: int, margin: int
) -> tuple[Box, list[list[np.ndarray]]]:
    """(box, [round sprites, wide sprites]); sprite 0 of each is the photo's closed mouth."""
    cx, line_y = face.mouth
    mw = face.mouth_width
    top_y = face.nose[1] + 0.15 * (line_y - face.nose[1])
    bottom_y = face.chin + 0.45 * (face.chin - line_y)
    box = _clamp(base, margin, cx - 0.7 * mw, top_y - 2, cx + 0.7 * mw, bottom_y + 2)
    x0, y0, x1, y1 = box
    region = base[y0:y1, x0:x1].astype(np.float32)
    h, w = region.shape[:2]
    rows = np.arange(h, dtype=np.float32)
    xs = np.arange(w, dtype=np.float32) - (cx - x0)
    line, top, bottom = line_y - y0, max(0.0, top_y - y0), min(h - 1.0, bottom_y - y0)
    colours = _mouth_colours(region, line, mw, cx - x0)
    variants: list[list[np.ndarray]] = []
    for wide in (False, True):
        half = _HALF[wide] * mw
        profile = np.clip(1 - (xs / half) ** 2, 0, 1) ** 0.6
        sprites = [base[y0:y1, x0:x1].copy()]
        for level in range(1, levels):
            gap = (level / (levels - 1)) * _GAP[wide] * mw * profile
            up, down = _UPPER * gap, (1 - _UPPER) * gap
            src = _split_rows(rows, top, line, bottom, up, down)
            inside = np.isnan(src)
            img = _sample_rows(region, np.where(inside, line, src))
            img = _fill_mouth(
                img, rows, xs, line - up, line + down, half, gap, colours, not face.teeth
            )
            sprites.append(np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)))
        variants.append(sprites)
    return box, variants


def _mouth_colours(
    region: np.ndarray, line: float, mw: float, cx: float
) -> tuple[np.ndarray, np.ndarray]:
    """(the inside of the mouth, teeth) in this photo's own light and colour balance.

    The inside is the darkest colour along the lip line, darker still; teeth are a near-grey
    at the face's highlight level, tinted a little by the skin (a grey photo gets grey teeth).
    """
    r = max(2, int(0.05 * mw))
    band = region[
        max(0, int(line) - r) : int(line) + r + 1, max(0, int(cx - 0.3 * mw)) : int(cx + 0.3 * mw)
    ]
    px = band.reshape(-1, 3) if band.size else region.reshape(-1, 3)
    lum = px.mean(axis=1)
    dark = np.median(px[lum <= np.quantile(lum, 0.15)], axis=0)
    inside = dark * 0.3 + np.array([5.0, 0.0, 0.0])
    skin = np.median(region.reshape(-1, 3), axis=0)
    high = float(np.quantile(region.mean(axis=2), 0.97))
    tint = skin / max(1.0, float(skin.mean()))
    teeth = np.clip(high * 0.82 * (0.85 + 0.15 * tint), 0, 255)
    return inside, teeth


def _fill_mouth(
    img: np.ndarray,
    rows: np.ndarray,
    xs: np.ndarray,
    top: np.ndarray,
    bottom: np.ndarray,
    half: float,
    gap: np.ndarray,
    colours: tuple[np.ndarray, np.ndarray],
    teeth: bool,
) -> np.ndarray:
    """Blend the mouth's inside (soft at the lips) and, unless the photo shows its own, a
    hint of upper teeth into ``img``."""
    inside_rgb, teeth_rgb = colours
    y = rows[:, None]
    # Over two pixels: a one-pixel edge reads as a hole cut in the photo.
    cover = np.clip((np.minimum(y - top, bottom - y) + 1.0) / 2.0, 0, 1) * np.clip(gap / 2, 0, 1)
    depth = np.clip((y - top) / np.maximum(gap, 1.0), 0, 1)  # 0 at the upper lip, 1 at the lower
    # Darker toward the back and the corners; a little warmer at the bottom (tongue).
    shade = (1.0 - 0.35 * np.abs(xs / half)[None, :] ** 2)[..., None]
    warm = np.array([1.6, 1.0, 1.0]) * (depth[..., None] ** 2)
    cavity = inside_rgb * shade * (1 + 0.6 * warm)
    teeth_h = np.minimum(0.25 * gap, 0.06 * half * 2)
    hint = np.clip((top + teeth_h - y) / 1.5 + 0.5, 0, 1) * np.clip(y - top + 0.5, 0, 1)
    hint = hint * np.clip(1 - (xs / (0.7 * half)) ** 4, 0, 1)[None, :] * (gap > 4) * teeth
    # Teeth in shadow toward the corners.
    teeth_shade = teeth_rgb * (1.0 - 0.3 * np.abs(xs / half)[None, :, None])
    a = 0.6 * hint[..., None]
    inner = cavity * (1 - a) + teeth_shade * a
    c = cover[..., None]
    return img * (1 - c) + inner * c


def eye_sprites(
    base: np.ndarray, face: PhotoFace, margin: int
) -> tuple[list[Box], list[list[np.ndarray]]]:
    """Per eye: its box and the [half closed, closed] lids, the photo's lid skin stretched down."""
    ew = face.eye_width
    boxes: list[Box] = []
    sprites: list[list[np.ndarray]] = []
    for ex, ey in (face.left_eye, face.right_eye):
        box = _clamp(base, margin, ex - 0.8 * ew, ey - 0.7 * ew, ex + 0.8 * ew, ey + 0.5 * ew)
        x0, y0, x1, y1 = box
        region = base[y0:y1, x0:x1].astype(np.float32)
        h, w = region.shape[:2]
        rows = np.arange(h, dtype=np.float32)[:, None]
        xs = np.arange(w, dtype=np.float32) - (ex - x0)
        profile = np.clip(1 - (xs / (0.6 * ew)) ** 2, 0, 1)
        cy = ey - y0
        # The lid is the band of skin between brow and crease, [top, lid]; a blink stretches
        # it down to ``low``, the lower lash line, most at the middle of the eye.
        top, lid = cy - 0.42 * ew, cy - 0.24 * ew
        low = cy + 0.2 * ew * profile  # closed, the lid meets the corners
        reach = np.clip(1 - (xs / (0.62 * ew)) ** 2, 0, 1) ** 0.35
        lash = np.quantile(region.mean(axis=2), 0.05)
        # Stretching a thin band streaks it, so the covering lid is half the stretched skin,
        # half that skin's colour smoothed along the lid, shaded darker toward its edge.
        skin = region[max(0, int(top)) : max(1, int(lid))].mean(axis=0)
        k = max(1, int(0.3 * ew))
        skin = np.stack(
            [np.convolve(np.pad(c, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), "valid")
             for c in skin.T], axis=1
        )  # fmt: skip
        states = []
        for closed in (0.55, 1.0):
            new = lid + closed * (low - lid) * reach
            covered = (rows >= top) & (rows <= new)
            src = np.where(
                covered, top + (rows - top) * (lid - top) / np.maximum(new - top, 1e-3), rows
            )
            img = _sample_rows(region, src)
            along = np.clip((rows - lid) / np.maximum(new - lid, 1.0), 0, 1)
            smooth = skin[None] * (1.0 - 0.12 * along[..., None] ** 2)
            ramp = np.clip((rows - lid) / max(1.0, 0.12 * ew), 0, 1)
            mix = (0.55 * covered * ramp * reach)[..., None]
            img = img * (1 - mix) + smooth * mix
            # The lid's edge is its lashes: a soft dark line where the lid now ends.
            edge = np.exp(-(((rows - new) / max(0.7, 0.03 * ew)) ** 2)) * reach * closed
            img = img * (1 - 0.4 * edge[..., None]) + lash * 0.4 * edge[..., None]
            states.append(np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8)))
        boxes.append(box)
        sprites.append(states)
    return boxes, sprites
