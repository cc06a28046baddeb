"""Mode collapse, read by the attribute judge and by Inception features: distinct large-part colour
combinations among the images of one caption and across random captions, generated vs real renders, and
the mean pairwise Inception distance among the images of one caption."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from textgen.gan.eval.common import one_render_each, render_for_caption
from textgen.gan.eval.fid import mean_pairwise_distance

__all__ = ["LARGE_PARTS", "distinct_combinations", "caption_diversity",
           "random_caption_combinations", "inception_diversity"]


LARGE_PARTS = ("crown", "back", "wing", "tail", "breast", "belly")     # colours a judge reads reliably at 32 px


def distinct_combinations(pred: dict[str, torch.Tensor], keys: tuple[str, ...] = LARGE_PARTS) -> int:
    """How many distinct tuples of predicted classes (over ``keys``) the images show."""
    return len(set(zip(*(pred[k].tolist() for k in keys))))




def caption_diversity(generate, captions: list[tuple[str, dict[str, str]]], classifier, image_size: int,
                      n: int = 10, generator: Optional[torch.Generator] = None) -> dict:
    """Mean number of distinct large-part colour combinations among ``n`` images per caption, generated vs real."""
    gen, real = [], []
    for k, (caption, stated) in enumerate(captions):
        gen.append(distinct_combinations(classifier.predict(generate([caption], n, generator))))
        real.append(distinct_combinations(classifier.predict(render_for_caption(stated, n, max(image_size, 32), seed=k))))
    return {"captions": len(captions), "images_per_caption": n, "generated": float(np.mean(gen)),
            "real": float(np.mean(real)), "ratio": float(np.mean(gen) / max(np.mean(real), 1e-9))}




def random_caption_combinations(generate, captions: list[tuple[str, dict[str, str]]], classifier, image_size: int,
                                generator: Optional[torch.Generator] = None) -> dict:
    """Distinct large-part colour combinations among one image for each of many random captions, generated
    vs one real render of each caption: a generator that collapses onto a few birds scores far below real."""
    gen = classifier.predict(generate([c for c, _ in captions], 1, generator))
    real = classifier.predict(one_render_each(captions, image_size))
    g, r = distinct_combinations(gen), distinct_combinations(real)
    return {"captions": len(captions), "generated": g, "real": r, "ratio": g / max(r, 1)}


def inception_diversity(generate, captions: list[tuple[str, dict[str, str]]], features, image_size: int,
                        n: int = 10, generator: Optional[torch.Generator] = None) -> dict:
    """Mean pairwise distance of Inception features among ``n`` images of one caption, generated vs real renders."""

    gen, real = [], []
    for k, (caption, stated) in enumerate(captions):
        gen.append(mean_pairwise_distance(features(generate([caption], n, generator))))
        renders = render_for_caption(stated, n, max(image_size, 32), seed=k)
        if renders.size(-1) != image_size:
            renders = torch.nn.functional.interpolate(renders, size=(image_size, image_size), mode="bilinear",
                                                      antialias=True, align_corners=False)
        real.append(mean_pairwise_distance(features(renders)))
    return {"captions": len(captions), "images_per_caption": n, "generated": float(np.mean(gen)),
            "real": float(np.mean(real)), "ratio": float(np.mean(gen) / max(np.mean(real), 1e-9))}
