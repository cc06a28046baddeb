"""The attribute space of the synthetic birds: a colour for each part, a size, a bill length and shape, a wing
pattern (:class:`BirdAttributes`), and the nuisance factors no caption states (background, facing); the label
space the attribute judge and the caption encoder's auxiliary heads predict (:data:`ATTRIBUTES`, :data:`SCENE`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["PALETTE", "COLOR_NAMES", "PARTS", "SIZES", "BILL_LENGTHS", "BILL_SHAPES", "WING_PATTERNS", "EYE_COLORS",
           "LEG_COLORS", "BACKGROUNDS", "FACINGS", "ATTRIBUTES", "SCENE", "HIDDEN_WHEN", "IGNORE", "encode_labels",
           "judge_labels", "BirdAttributes", "sample_attributes"]


# ----------------------------------------------------------------------------- the attribute space

# 12 named colours (sRGB), chosen to be distinct to a person and to a classifier.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 35),
    "orange": (240, 130, 20),
    "yellow": (245, 215, 40),
    "green": (60, 150, 50),
    "blue": (40, 90, 205),
    "purple": (120, 50, 160),
    "pink": (240, 140, 180),
    "brown": (120, 75, 35),
    "buff": (215, 185, 135),
    "grey": (128, 128, 128),
    "black": (25, 25, 25),
    "white": (245, 245, 245),
}
COLOR_NAMES = tuple(PALETTE)
PARTS = ("crown", "back", "wing", "tail", "breast", "belly", "bill", "leg", "eye")   # parts with a colour
EYE_COLORS = ("black", "red", "yellow", "white")
SIZES = ("small", "medium", "large")
BILL_LENGTHS = ("short", "medium", "long")
BILL_SHAPES = ("pointed", "cone", "hooked", "curved")
WING_PATTERNS = ("solid", "bars", "tipped", "spotted")
LEG_COLORS = ("black", "grey", "brown", "orange", "pink", "yellow")


@dataclass(frozen=True)
class BirdAttributes:
    """Everything a caption can state about a bird (colours are names from :data:`PALETTE`)."""

    crown: str
    back: str
    wing: str
    tail: str
    breast: str
    belly: str
    bill: str
    leg: str
    eye: str
    size: str
    bill_length: str
    bill_shape: str
    wing_pattern: str
    wing_pattern_color: str

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            allowed = ATTRIBUTES[f.name]
            if value not in allowed:
                raise ValueError(f"{f.name}={value!r} is not allowed; choose one of {', '.join(allowed)}")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# ----------------------------------------------------------------------------- the label space

ATTRIBUTES: dict[str, tuple[str, ...]] = {p: COLOR_NAMES for p in PARTS}   # attribute -> its classes
ATTRIBUTES.update(eye=EYE_COLORS, leg=LEG_COLORS, size=SIZES, bill_length=BILL_LENGTHS, bill_shape=BILL_SHAPES,
                  wing_pattern=WING_PATTERNS, wing_pattern_color=COLOR_NAMES)
BACKGROUNDS = ("sky", "foliage", "branch")     # what no caption states (eval-gan's scene classifier reads it)
FACINGS = ("left", "right")
SCENE: dict[str, tuple[str, ...]] = {"background": BACKGROUNDS, "facing": FACINGS}   # unstated: background, facing

# An attribute the renderer does not draw when another one has a given value: a solid wing has no pattern, so
# the colour of its (absent) bars or spots is not in the image. Captions never state it then (the grammar
# names the pattern colour only with the pattern), and the judge neither learns it from nor is scored on it.
HIDDEN_WHEN = {"wing_pattern_color": ("wing_pattern", "solid")}
IGNORE = -100                                                    # F.cross_entropy's default ignore_index


def encode_labels(attributes: Sequence[dict], classes: dict[str, tuple[str, ...]] = ATTRIBUTES) -> dict[str, Tensor]:
    """Label dicts (attributes, or scenes) -> ``{head: (N,) class indices}``."""
    return {k: torch.tensor([values.index(a[k]) for a in attributes]) for k, values in classes.items()}


def judge_labels(rows: Sequence[dict], classes: dict[str, tuple[str, ...]]) -> dict[str, Tensor]:
    """:func:`encode_labels` with :data:`IGNORE` where the attribute is not drawn (see ``HIDDEN_WHEN``)."""
    labels = encode_labels(rows, classes)
    for head, (other, value) in HIDDEN_WHEN.items():
        if head in labels:
            hidden = torch.tensor([r[other] == value for r in rows])
            labels[head] = labels[head].masked_fill(hidden, IGNORE)
    return labels


def sample_attributes(rng: np.random.Generator, **fixed: str) -> BirdAttributes:
    """Random attributes with bird-like correlations (a belly often matches the breast, a tail the back);
    ``fixed`` pins some of them (e.g. what a caption states)."""
    def pick(options) -> str:
        return str(options[int(rng.integers(len(options)))])

    back = pick(COLOR_NAMES)
    breast = pick(COLOR_NAMES)
    a = {
        "back": back,
        "crown": back if rng.random() < 0.3 else pick(COLOR_NAMES),
        "wing": back if rng.random() < 0.4 else pick(COLOR_NAMES),
        "tail": back if rng.random() < 0.5 else pick(COLOR_NAMES),
        "breast": breast,
        "belly": breast if rng.random() < 0.5 else pick(COLOR_NAMES),
        "bill": pick(COLOR_NAMES),
        "leg": pick(LEG_COLORS),
        "eye": "black" if rng.random() < 0.7 else pick(EYE_COLORS),
        "size": pick(SIZES),
        "bill_length": pick(BILL_LENGTHS),
        "bill_shape": pick(BILL_SHAPES),
        "wing_pattern": pick(WING_PATTERNS),
        "wing_pattern_color": pick(COLOR_NAMES),
    }
    unknown = set(fixed) - set(a)
    if unknown:
        raise ValueError(f"unknown attribute(s) {sorted(unknown)}; known: {', '.join(a)}")
    a.update(fixed)
    if a["wing_pattern_color"] == a["wing"]:  # a pattern in the wing's own colour would be invisible
        a["wing_pattern_color"] = "white" if a["wing"] != "white" else "black"
    return BirdAttributes(**a)
