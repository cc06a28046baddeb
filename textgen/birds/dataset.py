"""Synthetic birds written to disk as an HF ``imagefolder`` (``images/XXXXXX.png`` + ``metadata.jsonl``), with
grammar captions or real CUB captions."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Iterator

import numpy as np

from textgen.birds.attributes import sample_attributes
from textgen.birds.captions import make_captions, parse_caption
from textgen.birds.render import render_bird
from textgen.core.files import atomic_write_text
from textgen.core.runtime import progress

__all__ = ["CUB_HELDOUT_CLASSES", "make_birds_dataset", "read_cub_rows", "real_captions"]


# Reed et al.'s caption file holds the 150 training classes of the StackGAN split (the other 50 are not in it).
# For a test set of classes no model saw, every fifth of those 150 (sorted, from the first) is held out:
# their captions, and renders of them, are never used in training (``classes="train"``).
CUB_HELDOUT_CLASSES = (2, 11, 17, 22, 28, 41, 47, 55, 60, 65, 71, 77, 85, 92, 100, 108, 115, 122, 127, 133,
                       140, 145, 151, 157, 162, 170, 175, 181, 190, 195)
CLASS_SETS = ("all", "train", "heldout")


def make_birds_dataset(out_dir, n: int = 20000, size: int = 64, seed: int = 0, captions_per_image: int = 10,
                       captions_from=None, classes: str = "all", grammar_birds: int = 0,
                       show_progress: bool = True) -> dict:
    """Write an HF ``imagefolder``: ``images/XXXXXX.png`` and ``metadata.jsonl`` with, per image, its file
    name, captions and attributes. Returns a summary dict.

    ``captions_from`` (a CUB caption JSONL(.gz), as in ``../shared/data``) switches to *real* captions: each
    caption the parser understands gets its own image, drawn with the attributes it states (the others
    random), up to ``n`` images (a seeded random subset when there are more). ``classes`` keeps the captions
    of ``"train"`` classes (all but :data:`CUB_HELDOUT_CLASSES`), of the ``"heldout"`` ones, or ``"all"``.
    ``grammar_birds`` more images with ``captions_per_image`` grammar captions each follow the real ones.
    Image ``i`` is drawn from ``np.random.default_rng([seed, i])`` alone, so any image can be reproduced on its own.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if grammar_birds < 0:
        raise ValueError(f"grammar_birds must be >= 0, got {grammar_birds}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    real = real_captions(captions_from, classes=classes) if captions_from else None
    if real is not None and len(real) > n:
        keep = np.sort(np.random.default_rng(seed).choice(len(real), n, replace=False))
        real = [real[i] for i in keep]
    total = (len(real) + grammar_birds) if real is not None else n
    rows = []
    for i in progress(range(total), enabled=show_progress, desc="birds", total=total):
        rng = np.random.default_rng([seed, i])
        if real is not None and i < len(real):
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
    n_real = len(real) if real is not None else 0
    return {"images": len(rows), "size": size, "seed": seed, "out": str(out),
            "captions": "real CUB" if real is not None else "grammar", "real_caption_images": n_real,
            "grammar_images": len(rows) - n_real, "classes": classes if real is not None else None}


def read_cub_rows(path) -> Iterator[dict]:
    """The rows of a CUB caption JSONL(.gz) file (``{"image", "class_id", "captions": [...]}`` per line),
    with an error naming the file and the line for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption file {path} does not exist; pass a CUB caption JSONL such as "
                                "../shared/data/cub_captions_train.jsonl.gz")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    raise ValueError(f"{path}, line {lineno}, is not JSON ({line.strip()[:60]!r}); expected a CUB "
                                     'caption JSONL file, one {"image": ..., "class_id": ..., "captions": [...]} '
                                     "per line, such as ../shared/data/cub_captions_train.jsonl.gz") from None
                if not isinstance(row, dict) or not isinstance(row.get("captions", []), list):
                    raise ValueError(f"{path}, line {lineno}: expected an object with a 'captions' list, got "
                                     f"{line.strip()[:60]!r}")
                yield row
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text (byte {e.start} of a line: {e.reason}); expected a CUB caption "
                         "JSONL(.gz) file") from None
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path} cannot be read as {'gzip' if path.suffix == '.gz' else 'text'} ({e}); expected a "
                         "CUB caption JSONL(.gz) file") from None


def real_captions(path, classes: str = "all") -> list[tuple[str, dict]]:
    """(caption, parsed attributes) for every caption of a CUB caption file that states at least one attribute,
    from the classes of ``classes`` (``"all"``, ``"train"`` or ``"heldout"``, see :data:`CUB_HELDOUT_CLASSES`)."""
    if classes not in CLASS_SETS:
        raise ValueError(f"classes must be one of {', '.join(CLASS_SETS)}, got {classes!r}")
    held = set(CUB_HELDOUT_CLASSES)
    out = []
    for row in read_cub_rows(path):
        if classes != "all" and (row.get("class_id") in held) != (classes == "heldout"):
            continue
        for caption in row.get("captions", []):
            stated = parse_caption(caption) if isinstance(caption, str) else {}
            if stated:
                out.append((caption, stated))
    if not out:
        raise ValueError(f"no caption in {path} (classes: {classes}) states an attribute the parser understands")
    return out
