"""Procedural synthetic birds: controlled images whose every attribute is known, offline and deterministic.

A bird is a set of named attributes (:class:`BirdAttributes`): a colour for each part (crown, back,
wing, tail, breast, belly, bill, legs, eye) from :data:`PALETTE`, a size, a bill length and shape, and a
wing pattern. :func:`render_bird` draws it side-on with anti-aliasing (4x supersampling) at any
resolution from 32 to 256 px, with nuisance variation that is not an attribute: facing left or right,
pose jitter, position, colour jitter and a background (sky, foliage or a branch to perch on).

    rng = np.random.default_rng(0)
    attrs = sample_attributes(rng)
    image, layout = render_bird(attrs, size=64, rng=rng)   # PIL image + where each part was drawn

Everything is a pure function of the seed: the same ``rng`` state gives the same pixels.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from textgen.birds.attributes import BACKGROUNDS, PALETTE, PARTS, BirdAttributes, sample_attributes
from textgen.core.runtime import progress

__all__ = ["BirdLayout", "render_bird", "render_birds"]

# ----------------------------------------------------------------------------- layout

@dataclass
class BirdLayout:
    """Where the parts were drawn, in pixels of the output image (for tests and attribute probes)."""

    size: int
    facing: str                                  # "left" | "right"
    background: str                              # "sky" | "foliage" | "branch"
    centers: dict[str, tuple[int, int]] = field(default_factory=dict)   # part -> (x, y) inside that part
    bill_tip: tuple[int, int] = (0, 0)           # (x, y) of the bill's tip (always inside the image)


_SCALE = {"small": 0.62, "medium": 0.76, "large": 0.9}
_BILL_LEN = {"short": 0.09, "medium": 0.15, "long": 0.25}
FRAME_MARGIN = 0.03                   # the bill's tip and the tail's middle stay this far (of the image) inside
_TAIL_MID = 1.2                       # the tail fan runs from 0.8 to 1.85 body half-lengths behind the centre
_BODY_RX, _BODY_RY = 0.30, 0.20       # the body ellipse's half-axes, in units of the bird's scale s
_HEAD_AT = (0.95, 0.75)               # the head's centre: forward and up, in body half-axes
_HEAD_R = 0.13                        # the head's radius, in units of s
_BILL_BASE = 0.85                     # the bill starts this far (in head radii) in front of the head's centre
SUPERSAMPLE = 4


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, amount: float = 14) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.normal(0, amount / 2), 0, 255)) for c in rgb)  # type: ignore[return-value]


def _ellipse(cx: float, cy: float, rx: float, ry: float, angle: float, n: int = 48) -> list[tuple[float, float]]:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    x, y = rx * np.cos(t), ry * np.sin(t)
    ca, sa = math.cos(angle), math.sin(angle)
    return [(cx + xi * ca - yi * sa, cy + xi * sa + yi * ca) for xi, yi in zip(x, y)]


def _rot(px: float, py: float, cx: float, cy: float, angle: float) -> tuple[float, float]:
    ca, sa = math.cos(angle), math.sin(angle)
    dx, dy = px - cx, py - cy
    return cx + dx * ca - dy * sa, cy + dx * sa + dy * ca


# ----------------------------------------------------------------------------- rendering

def render_bird(attrs: BirdAttributes, size: int = 64, rng: Optional[np.random.Generator] = None,
                background: Optional[str] = None, facing: Optional[str] = None):
    """Draw ``attrs`` as a ``size`` x ``size`` RGB PIL image; returns ``(image, layout)``."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    if not 32 <= size <= 256:
        raise ValueError(f"size must be between 32 and 256 pixels, got {size}")
    rng = rng if rng is not None else np.random.default_rng(0)
    S = size * SUPERSAMPLE
    background = background or BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    facing = facing or ("right" if rng.random() < 0.5 else "left")
    col = {p: _jitter(PALETTE[getattr(attrs, p)], rng) for p in PARTS}
    pattern_rgb = _jitter(PALETTE[attrs.wing_pattern_color], rng)

    # --- background
    img = Image.new("RGB", (S, S))
    d = ImageDraw.Draw(img)
    if background == "sky":
        top, bottom = np.array(_jitter((110, 170, 230), rng, 30)), np.array(_jitter((200, 225, 245), rng, 20))
        for yy in range(S):
            c = top + (bottom - top) * yy / (S - 1)
            d.line([(0, yy), (S, yy)], fill=tuple(int(v) for v in c))
    else:
        base = _jitter((95, 140, 80) if background == "foliage" else (150, 190, 225), rng, 25)
        d.rectangle([0, 0, S, S], fill=base)
        if background == "foliage":
            for _ in range(40):
                x, y, r = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0.04, 0.12) * S
                shade = _jitter((70, 120, 60) if rng.random() < 0.5 else (120, 165, 95), rng, 20)
                d.ellipse([x - r, y - r * 0.6, x + r, y + r * 0.6], fill=shade)
            img = img.filter(ImageFilter.GaussianBlur(S / 80))
            d = ImageDraw.Draw(img)

    # --- geometry (bird facing right; mirrored at the end for "left")
    s = _SCALE[attrs.size] * S * rng.uniform(0.95, 1.05)
    cx = S * 0.5 + rng.uniform(-0.05, 0.05) * S
    cy = S * 0.5 + rng.uniform(-0.05, 0.05) * S
    tilt = rng.uniform(-0.15, 0.15)                                  # radians; positive = nose down
    # Frame the bird: its bill's tip and the middle of its tail stay FRAME_MARGIN inside the picture. Drawn at
    # the centre at full size, 36% of birds lost the bill's tip past the frame (every large one with a long
    # bill), and with it the length and shape their captions state. Such a bird moves back, and where even
    # that cannot fit both ends (a large bird with a long bill) it is drawn smaller, still larger than any
    # medium bird. Both reaches are in units of s, measured from (cx, cy) along the tilted body.
    bill_len = _BILL_LEN[attrs.bill_length] / _SCALE["medium"]      # in units of s: bills scale with the bird
    front = (_rot(_BODY_RX * _HEAD_AT[0], -_BODY_RY * _HEAD_AT[1], 0, 0, tilt)[0]    # the head's centre ...
             + _HEAD_R * _BILL_BASE + bill_len)                                     # ... to the bill's tip
    back = _BODY_RX * _TAIL_MID * math.cos(tilt)
    s = min(s, (1 - 2 * FRAME_MARGIN) * S / (front + back))
    cx = min(max(cx, FRAME_MARGIN * S + back * s), (1 - FRAME_MARGIN) * S - front * s)
    body_rx, body_ry = _BODY_RX * s, _BODY_RY * s
    P = lambda x, y: _rot(x, y, cx, cy, tilt)                      # noqa: E731 - rotate about the body centre
    hr = _HEAD_R * s                                                 # head radius
    L = bill_len * s                                                 # bill length, in proportion to the bird

    feet_y = cy + body_ry + 0.14 * s
    if background == "branch":
        bc = _jitter((95, 60, 30), rng, 20)
        d.polygon([(0, feet_y - 0.02 * S), (S, feet_y - 0.05 * S), (S, feet_y + 0.03 * S), (0, feet_y + 0.05 * S)], fill=bc)

    # legs (behind the body)
    leg_w = max(2, int(0.035 * s))
    for lx in (cx - 0.06 * s, cx + 0.06 * s):
        d.line([P(lx, cy + body_ry * 0.6), (lx, feet_y)], fill=col["leg"], width=leg_w)
        d.line([(lx - 0.05 * s, feet_y), (lx + 0.06 * s, feet_y)], fill=col["leg"], width=leg_w)

    # tail: a fan behind the body
    tail = [P(cx - body_rx * 0.8, cy - body_ry * 0.25), P(cx - body_rx * 1.75, cy - body_ry * 0.55),
            P(cx - body_rx * 1.85, cy + body_ry * 0.15), P(cx - body_rx * 0.8, cy + body_ry * 0.35)]
    d.polygon(tail, fill=col["tail"])

    # body in the back colour, then breast and belly inside it (clipped to the body)
    body = _ellipse(cx, cy, body_rx, body_ry, tilt)
    d.polygon(body, fill=col["back"])
    mask = Image.new("L", (S, S), 0)
    ImageDraw.Draw(mask).polygon(body, fill=255)
    under = Image.new("RGB", (S, S))
    du = ImageDraw.Draw(under)
    belly_c = P(cx - 0.1 * s, cy + body_ry * 0.55)
    breast_c = P(cx + 0.14 * s, cy + body_ry * 0.35)
    du.polygon(_ellipse(*belly_c, 0.22 * s, 0.13 * s, tilt), fill=col["belly"])
    du.polygon(_ellipse(*breast_c, 0.17 * s, 0.15 * s, tilt), fill=col["breast"])
    under_mask = Image.new("L", (S, S), 0)
    dm = ImageDraw.Draw(under_mask)
    dm.polygon(_ellipse(*belly_c, 0.22 * s, 0.13 * s, tilt), fill=255)
    dm.polygon(_ellipse(*breast_c, 0.17 * s, 0.15 * s, tilt), fill=255)
    img.paste(under, (0, 0), ImageChops.multiply(mask, under_mask))
    d = ImageDraw.Draw(img)

    # wing on the body's side, with its pattern
    wing_c = P(cx - 0.06 * s, cy - body_ry * 0.02)
    wing = _ellipse(*wing_c, 0.23 * s, 0.09 * s, tilt - 0.12)
    d.polygon(wing, fill=col["wing"])
    wmask = Image.new("L", (S, S), 0)
    ImageDraw.Draw(wmask).polygon(wing, fill=255)
    pat = Image.new("RGB", (S, S), pattern_rgb)
    pmask = Image.new("L", (S, S), 0)
    dp = ImageDraw.Draw(pmask)
    if attrs.wing_pattern == "bars":
        for k in (-0.1, 0.0, 0.1):
            x0 = wing_c[0] + k * s
            dp.polygon([(x0 - 0.02 * s, wing_c[1] - 0.15 * s), (x0 + 0.02 * s, wing_c[1] - 0.15 * s),
                        (x0 + 0.02 * s, wing_c[1] + 0.15 * s), (x0 - 0.02 * s, wing_c[1] + 0.15 * s)], fill=255)
    elif attrs.wing_pattern == "tipped":
        x0 = wing_c[0] - 0.1 * s
        dp.rectangle([0, 0, x0, S], fill=255)
    elif attrs.wing_pattern == "spotted":
        for _ in range(9):
            px, py = wing_c[0] + rng.uniform(-0.18, 0.14) * s, wing_c[1] + rng.uniform(-0.06, 0.06) * s
            r = 0.022 * s
            dp.ellipse([px - r, py - r, px + r, py + r], fill=255)
    img.paste(pat, (0, 0), ImageChops.multiply(wmask, pmask))
    d = ImageDraw.Draw(img)

    # head: crown on top, face and throat in the breast colour
    head_c = P(cx + body_rx * _HEAD_AT[0], cy - body_ry * _HEAD_AT[1])
    d.ellipse([head_c[0] - hr, head_c[1] - hr, head_c[0] + hr, head_c[1] + hr], fill=col["breast"])
    d.chord([head_c[0] - hr, head_c[1] - hr, head_c[0] + hr, head_c[1] + hr], 180, 360, fill=col["crown"])
    d.chord([head_c[0] - hr, head_c[1] - hr, head_c[0] + hr, head_c[1] + hr], 150, 210, fill=col["crown"])

    # bill from the front of the head
    bx, by = head_c[0] + hr * _BILL_BASE, head_c[1] + hr * 0.1
    half = {"pointed": 0.035, "cone": 0.07, "hooked": 0.045, "curved": 0.03}[attrs.bill_shape] * s
    if attrs.bill_shape == "curved":                                 # decurved: the tip bends down
        bill = [(bx, by - half), (bx + L * 0.55, by - half * 0.2), (bx + L, by + L * 0.35),
                (bx + L * 0.5, by + half * 0.9), (bx, by + half)]
    elif attrs.bill_shape == "hooked":                               # the upper mandible hooks over the tip
        bill = [(bx, by - half), (bx + L * 0.85, by - half * 0.5), (bx + L, by + half * 0.3),
                (bx + L * 0.85, by + half * 0.9), (bx + L * 0.8, by + half * 0.2), (bx, by + half)]
    else:                                                            # pointed / cone: a straight wedge
        bill = [(bx, by - half), (bx + L, by + half * 0.1), (bx, by + half)]
    d.polygon(bill, fill=col["bill"])

    # eye, with a thin ring so that a black eye shows on a black head
    ex, ey, er = head_c[0] + hr * 0.35, head_c[1] - hr * 0.15, max(1.5 * SUPERSAMPLE, 0.035 * s)
    ring = (235, 235, 235) if sum(col["eye"]) < 200 else (20, 20, 20)
    d.ellipse([ex - er * 1.4, ey - er * 1.4, ex + er * 1.4, ey + er * 1.4], fill=ring)
    d.ellipse([ex - er, ey - er, ex + er, ey + er], fill=col["eye"])

    centers = {
        "crown": (head_c[0] - hr * 0.4, head_c[1] - hr * 0.5), "back": P(cx - 0.02 * s, cy - body_ry * 0.8),
        "wing": (wing_c[0] + 0.08 * s, wing_c[1]),
        "tail": P(cx - body_rx * _TAIL_MID, cy - body_ry * 0.05), "breast": (breast_c[0] + 0.04 * s, breast_c[1] - 0.02 * s),
        "belly": (belly_c[0] - 0.04 * s, belly_c[1] + 0.03 * s), "bill": (bx + L * 0.3, by + half * 0.1),
        "eye": (ex, ey), "leg": (cx - 0.06 * s, feet_y),
    }
    tip_xy = max(bill, key=lambda p: p[0])                           # the bill's foremost point
    if facing == "left":
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        centers = {k: (S - 1 - x, y) for k, (x, y) in centers.items()}
        tip_xy = (S - 1 - tip_xy[0], tip_xy[1])
    img = img.resize((size, size), Image.Resampling.LANCZOS)
    layout = BirdLayout(size=size, facing=facing, background=background,
                        centers={k: (int(round(x / SUPERSAMPLE)), int(round(y / SUPERSAMPLE))) for k, (x, y) in centers.items()},
                        bill_tip=(int(tip_xy[0] // SUPERSAMPLE), int(tip_xy[1] // SUPERSAMPLE)))
    return img, layout


def render_birds(n: int, size: int, seed: int, show_progress: bool = False, workers: int = 1):
    """``n`` random birds drawn in memory, bird ``i`` from ``np.random.default_rng([seed, i])`` as in
    :func:`make_birds_dataset`: ``(images (n, 3, size, size) uint8, attributes, scenes)`` where each scene is
    ``{"background", "facing"}``. The attribute judge of ``eval-gan`` trains on these besides a folder's own
    renders (a seed the folder did not use gives birds it does not hold).

    ``workers > 1`` draws chunks of birds in that many processes (0: one per CPU core); every bird has its
    own seed, so the pixels do not depend on ``workers``."""
    workers = (os.cpu_count() or 1) if workers == 0 else max(1, workers)
    chunk = _RENDER_CHUNK
    spans = [(start, min(start + chunk, n)) for start in range(0, n, chunk)]
    images, attributes, scenes = np.empty((n, 3, size, size), np.uint8), [], []
    bar = progress(total=n, enabled=show_progress, desc="rendering birds")
    jobs = [(size, seed, a, b) for a, b in spans]
    pool = None
    if workers > 1 and len(spans) > 1:
        pool = ProcessPoolExecutor(min(workers, len(spans)))
    try:
        for (a, b), (imgs, attrs, scns) in zip(spans, (pool.map if pool else map)(_render_span, jobs)):   # in order
            images[a:b] = imgs
            attributes += attrs
            scenes += scns
            bar.update(b - a)
    finally:
        if pool is not None:
            pool.shutdown()
    bar.close()
    return images, attributes, scenes


_RENDER_CHUNK = 500


def _render_span(job: tuple[int, int, int, int]):
    """Birds ``start`` to ``stop`` of :func:`render_birds` (a process pool's unit of work)."""
    size, seed, start, stop = job
    images, attributes, scenes = np.empty((stop - start, 3, size, size), np.uint8), [], []
    for j, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([seed, i])
        attrs = sample_attributes(rng)
        img, layout = render_bird(attrs, size=size, rng=rng)
        images[j] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)           # (3, S, S)
        attributes.append(attrs.to_dict())
        scenes.append({"background": layout.background, "facing": layout.facing})
    return images, attributes, scenes
