"""What no caption states: the share of each background and facing among generated images, read by the scene
classifier, against real renders of the same captions (a class drawn under half as often as real is dropped)."""
from __future__ import annotations

from typing import Optional

import torch

from textgen.gan.eval.common import one_render_each

__all__ = ["SCENE_CAPTIONS", "scene_shares", "scene_coverage"]


SCENE_CAPTIONS = 500         # one image each for the background/facing shares: +-2 points of standard error


def scene_shares(classifier, labels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The share of each class per head, from the scene classifier's predicted labels (head -> (N,))."""
    return {head: torch.bincount(labels[head], minlength=len(names)).float() / len(labels[head])
            for head, names in classifier.classes.items()}


def scene_coverage(generate, captions: list[tuple[str, dict[str, str]]], classifier, image_size: int,
                   generator: Optional[torch.Generator] = None) -> dict:
    """What captions never state: the share of each background (sky, foliage, branch) and facing among one
    image for each caption, generated vs one real render of each caption, read by the scene classifier.

    A generator can state every attribute right and still draw every bird on foliage; that is mode collapse
    on an unstated factor, which none of the caption metrics sees. Reported per class, with the total
    variation distance 0.5 * sum |p_gen - p_real| per label and the *dropped* classes: those generated less
    than half as often as real renders show them.
    """
    gen = scene_shares(classifier, classifier.predict(generate([c for c, _ in captions], 1, generator)))
    real = scene_shares(classifier, classifier.predict(one_render_each(captions, image_size)))
    out: dict = {"captions": len(captions), "labels": {}}
    for head, names in classifier.classes.items():
        p_gen, p_real = gen[head], real[head]
        out["labels"][head] = {
            "generated": dict(zip(names, p_gen.tolist())), "real": dict(zip(names, p_real.tolist())),
            "tv_distance": 0.5 * float((p_gen - p_real).abs().sum()),
            "dropped": [n for n, g, r in zip(names, p_gen.tolist(), p_real.tolist()) if g < 0.5 * r]}
    return out
