"""Synthetic birds written to disk as an HF ``imagefolder`` (``images/XXXXXX.png`` + ``metadata.jsonl``), with
grammar captions or real CUB captions."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from textgen.birds.attributes import sample_attributes
from textgen.birds.captions import make_captions, parse_caption
from textgen.birds.render import render_bird
from textgen.core.runtime import atomic_write_text, progress

__all__ = ["make_birds_dataset", "real_captions"]


def make_birds_dataset(out_dir, n: int = 20000, size: int = 64, seed: int = 0, captions_per_image: int = 10,
                       captions_from=None, show_progress: bool = True) -> dict:
    """Write an HF ``imagefolder``: ``images/XXXXXX.png`` and ``metadata.jsonl`` with, per image, its file
    name, captions and attributes. Returns a summary dict.

    ``captions_from`` (a CUB caption JSONL(.gz), as in ``../shared/data``) switches to *real* captions: each
    caption the parser understands gets its own image, drawn with the attributes it states (the others
    random), up to ``n`` images. Image ``i`` is drawn from ``np.random.default_rng([seed, i])`` alone, so any
    image can be reproduced on its own.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    real = real_captions(captions_from) if captions_from else None
    rows, skipped = [], 0
    for i in progress(range(n), enabled=show_progress, desc="birds", total=n):
        rng = np.random.default_rng([seed, i])
        if real is not None:
            if i >= len(real):
                break
            caption, stated = real[i]
            attrs = sample_attributes(rng, **stated)
            captions = [caption]
        else:
            attrs = sample_attributes(rng)
            captions = make_captions(attrs, rng, n=captions_per_image)
        img, layout = render_bird(attrs, size=size, rng=rng)
        name = f"images/{i:06d}.png"
        img.save(out / name)
        rows.append({"file_name": name, "captions": captions, "attributes": attrs.to_dict(),
                     "background": layout.background, "facing": layout.facing})
    atomic_write_text(out / "metadata.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    return {"images": len(rows), "size": size, "seed": seed, "out": str(out),
            "captions": "real CUB" if real is not None else "grammar", "skipped": skipped}


def real_captions(path) -> list[tuple[str, dict]]:
    """(caption, parsed attributes) for every caption of a CUB caption file that states at least one attribute."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption file {path} does not exist; pass a CUB caption JSONL such as "
                                "../shared/data/cub_captions_train.jsonl.gz")
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            for caption in json.loads(line).get("captions", []):
                stated = parse_caption(caption)
                if stated:
                    out.append((caption, stated))
    if not out:
        raise ValueError(f"no caption in {path} states an attribute the parser understands")
    return out
