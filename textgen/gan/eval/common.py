"""What every GAN metric shares: the cache folder beside the data, the caption sets (grammar captions of
fresh birds, real CUB captions of held-out classes), batched generation and the data folder's fingerprint."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from textgen.birds.attributes import sample_attributes
from textgen.birds.captions import make_caption
from textgen.birds.dataset import real_captions
from textgen.birds.render import render_bird
from textgen.core.files import file_digest

__all__ = ["CLASSIFIER_CACHE", "grammar_captions", "cub_captions", "generate_batched", "data_fingerprint",
           "render_for_caption", "one_render_each"]


CLASSIFIER_CACHE = ".textgen_eval"


def grammar_captions(n: int, seed: int = 10_000) -> list[tuple[str, dict[str, str]]]:
    """``n`` grammar captions of fresh random birds, each with exactly what it states."""

    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        out.append(make_caption(sample_attributes(rng), rng))
    return out


def cub_captions(path: str | Path, n: int, seed: int = 0, classes: str = "heldout") -> list[tuple[str, dict[str, str]]]:
    """``n`` real CUB captions (a random subset of those the parser understands) of ``classes`` (by default the
    30 held-out classes that no shipped recipe trains on, :data:`~textgen.birds.CUB_HELDOUT_CLASSES`), with
    what they state."""
    pairs = real_captions(path, classes=classes)
    idx = np.random.default_rng(seed).choice(len(pairs), min(n, len(pairs)), replace=False)
    return [pairs[i] for i in sorted(idx)]


def generate_batched(pipe, captions: list[str], generator: torch.Generator, truncation: float,
                      chunk: int = 256) -> torch.Tensor:
    return torch.cat([pipe(captions[k:k + chunk], num_images_per_prompt=1, generator=generator,
                           truncation=truncation).tensors for k in range(0, len(captions), chunk)])


def data_fingerprint(data_dir: Path) -> str:
    """A hash of the data folder's metadata.jsonl: cached statistics of another data set are never reused."""
    return file_digest(Path(data_dir) / "metadata.jsonl")[:16]


def render_for_caption(stated: dict[str, str], n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` real renders of what a caption states (the rest random): (n, 3, S, S) in [-1, 1]."""

    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img, _ = render_bird(sample_attributes(rng, **stated), size=size, rng=rng)
        out.append(torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1))
    return torch.stack(out).float() / 127.5 - 1.0

def one_render_each(captions: list[tuple[str, dict[str, str]]], image_size: int) -> torch.Tensor:
    """One real render of what each caption states (caption k drawn with seed k): (N, 3, S, S) in [-1, 1]."""
    return torch.cat([render_for_caption(stated, 1, max(image_size, 32), seed=k)
                      for k, (_, stated) in enumerate(captions)])
