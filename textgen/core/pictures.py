"""Pictures of image batches: a plain grid, and one row per caption with the caption written under it.

Pillow only: torchvision does not install beside the CPU torch build we use.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from textgen.core.files import atomic_open

__all__ = ["make_image_grid", "save_image_grid", "save_picture", "captioned_grid"]


def make_image_grid(images: torch.Tensor | np.ndarray, nrow: int = 8, padding: int = 2,
                    value_range: tuple[float, float] = (-1.0, 1.0), pad_value: int = 255):
    """Tile a batch ``(N, C, H, W)`` (floats in ``value_range``) or ``(N, H, W, C)`` uint8 into a PIL image."""
    from PIL import Image

    if isinstance(images, torch.Tensor):
        x = images.detach().float().cpu()
        if x.ndim != 4:
            raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(x.shape)}")
        lo, hi = value_range
        x = ((x - lo) / (hi - lo)).clamp(0, 1).mul(255).round().to(torch.uint8)
        arr = x.permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
    else:
        arr = np.asarray(images)
        if arr.ndim != 4 or arr.dtype != np.uint8:
            raise ValueError("numpy images must be uint8 of shape (N, H, W, C)")
    n, h, w, c = arr.shape
    if c not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {c}")
    if n == 0:
        raise ValueError("cannot make a grid of zero images")
    ncol = min(nrow, n)
    nrows = math.ceil(n / ncol)
    grid = np.full((nrows * (h + padding) + padding, ncol * (w + padding) + padding, c), pad_value, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncol)
        y0, x0 = padding + r * (h + padding), padding + col * (w + padding)
        grid[y0:y0 + h, x0:x0 + w] = arr[i]
    mode = "L" if c == 1 else "RGB"
    return Image.fromarray(grid[..., 0] if c == 1 else grid, mode=mode)


def save_image_grid(images, path: str | os.PathLike, **kwargs: Any) -> Path:
    """Save a grid of images (see :func:`make_image_grid`) as PNG/JPEG, atomically."""
    return save_picture(make_image_grid(images, **kwargs), path)


def save_picture(image, path: str | os.PathLike) -> Path:
    """Save a PIL image atomically, in the format its suffix names (.png, .jpg)."""
    path = Path(path)
    with atomic_open(path) as f:
        image.save(f, format=(path.suffix.lstrip(".").upper().replace("JPG", "JPEG") or "PNG"))
    return path


def captioned_grid(images: torch.Tensor, captions: Sequence[str], per_row: int, pad: int = 2):
    """A PIL grid: one row per caption (``per_row`` images each, in [-1, 1]), the caption written under it."""
    from PIL import Image, ImageDraw, ImageFont

    rows = []
    font = ImageFont.load_default()
    for r, caption in enumerate(captions):
        chunk = images[r * per_row:(r + 1) * per_row]
        row = make_image_grid(chunk, nrow=per_row, padding=pad).convert("RGB")        # images in [-1, 1]
        text_h = 14
        canvas = Image.new("RGB", (row.width, row.height + text_h), "white")
        canvas.paste(row, (0, 0))
        draw = ImageDraw.Draw(canvas)
        text, base = caption, caption[:max(4, row.width // 3)]       # no glyph is under 3 px: never more fits
        while draw.textlength(text, font=font) > row.width - 4 and len(base) > 1:
            base = base[:-1]
            text = base.rstrip() + "..."
        draw.text((2, row.height + 1), text, fill="black", font=font)
        rows.append(canvas)
    width = max(r.width for r in rows)
    out = Image.new("RGB", (width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    return out
