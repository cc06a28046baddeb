"""Does a trained discriminator read the caption? ``textgen check-discriminator --run DIR --data DIR``.

A matching-aware D (Reed et al. 2016) is the generator's teacher for caption faithfulness: G is pushed
towards whatever makes D(fake, caption) high, so a D that scores a real image about as high with a random
caption as with its own teaches G nothing about the caption. This reads a run's saved D (``last/`` with its
``training_state/``) on real images of a synthetic-birds folder, each scored with

* its own caption (``right``),
* that caption with one attribute word changed (``edited``, :func:`~textgen.birds.captions.edit_caption`),
* a caption of another image (``random``),

and reports the mean scores, how often ``right`` wins, the ``right - edited`` gap per edited attribute, and
the MA-GP gradient norms (w.r.t. the image, the unit-norm embedding and the rescaled one D reads).

It also reports D's mean score of real images with their own caption *per background* (sky, foliage,
branch: nothing a caption states). A D that scores one real background far below the others has learned
that the generator draws it, i.e. that G has collapsed onto it (``eval-gan``'s scene shares).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from textgen.birds.captions import changed_attribute, edit_caption
from textgen.core.checkpoint import CheckpointError, TRAINING_STATE_DIR
from textgen.core.trainer import TrainingState
from textgen.data.images import ImageCaptionData
from textgen.gan.modeling import Discriminator, TextToImageGAN, unit_scale

__all__ = ["discriminator_caption_check"]


def discriminator_caption_check(run, data, *, n: int = 512, seed: int = 1) -> dict:
    last = Path(run) / "last"
    if not (last / TRAINING_STATE_DIR).is_dir():
        raise CheckpointError(f"{last / TRAINING_STATE_DIR} is missing: pass a training run folder (its last/ keeps D)")
    model = TextToImageGAN.from_pretrained(last)
    D = Discriminator(model.config)
    D.load_state_dict(TrainingState.load(last / TRAINING_STATE_DIR).parts["D"])
    D.eval()
    encoder = model.text_encoder
    images = ImageCaptionData.load(data, image_size=model.config.image_size, limit=n)
    n = len(images)
    if n < 2:
        raise ValueError(f"{data} has {n} image(s); the check needs at least 2")
    rng = np.random.default_rng(seed)
    right = [caps[int(rng.integers(len(caps)))] for caps in images.captions]
    edited, changed = [], []
    for caption in right:
        new = edit_caption(caption, rng) or caption
        changed.append(changed_attribute(caption, new))
        edited.append(new)
    shift = rng.integers(1, n, n)
    random = [right[(i + s) % n] for i, s in enumerate(shift)]                 # a caption of another image

    x = torch.from_numpy(images.images).float() / 127.5 - 1                      # (n, 3, S, S)
    emb = {name: encoder.encode(texts).float() for name, texts in (("right", right), ("edited", edited), ("random", random))}
    with torch.no_grad():
        h = D.features(x)                                                        # (n, C, 4, 4)
        scores = {name: D.logit(h, e) for name, e in emb.items()}
    gap = (scores["right"] - scores["edited"]).numpy()
    changed = np.array(changed)

    e = emb["right"]                                                             # unit-norm caption embeddings
    xr, eu, es = x.clone().requires_grad_(True), e.clone().requires_grad_(True), unit_scale(e).requires_grad_(True)
    gx, gu = torch.autograd.grad(D(xr, eu).sum(), (xr, eu))
    gs, = torch.autograd.grad(D.logit(h, es).sum(), (es,))                      # the text path only needs h
    norm = lambda g: float(g.flatten(1).norm(dim=1).mean())                      # noqa: E731
    return {
        "images": n,
        "mean_score": {k: float(v.mean()) for k, v in scores.items()},
        "right_beats_edited": float((gap > 0).mean()),
        "right_beats_random": float((scores["right"] > scores["random"]).float().mean()),
        "right_minus_edited_by_attribute": {k: float(gap[changed == k].mean()) for k in sorted(set(changed))},
        "grad_norm": {"image": norm(gx), "text_unit_norm": norm(gu), "text_rescaled": norm(gs)},
        "right_score_by_background": _by_background(scores["right"], images.scene) if images.has_scene else {},
    }


def _by_background(scores: torch.Tensor, scene: list[dict]) -> dict[str, float]:
    """Mean score per background of the images."""
    bg = np.array([s["background"] for s in scene])
    return {b: float(scores[torch.from_numpy(bg == b)].mean()) for b in sorted(set(bg))}
