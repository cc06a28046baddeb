"""R-precision (Xu et al. 2018, AttnGAN): top-1 of 100 captions, read by a separate image-text encoder the
generator never saw (cached beside the data), and the judge-based variant that ranks captions by what the
attribute judge reads in each image."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import torch

from textgen.birds.attributes import ATTRIBUTES
from textgen.birds.captions import parse_caption
from textgen.data.images import ImageCaptionData
from textgen.gan.eval.common import CLASSIFIER_CACHE, generate_batched
from textgen.gan.eval.fid import real_split
from textgen.gan.eval.judge import AttributeClassifier, JUDGE_STEPS, load_or_train_classifier
from textgen.gan.text_encoder_training import (IMAGE_ENCODER_DIR, REPORT_FILE, save_caption_encoder,
                                               train_caption_encoder)
from textgen.gan.text_encoders import CaptionEncoder, ImageEncoder

__all__ = ["RPRECISION_ENCODER", "load_or_train_rprecision_encoder", "r_precision", "judge_log_probs",
           "judge_scores", "judge_r_precision", "evaluate_judge_r_precision", "evaluate_r_precision"]


RPRECISION_ENCODER = "rprecision_encoder_{size}px"


def load_or_train_rprecision_encoder(data_dir: str | Path, image_size: int, *, steps: int = 2000, seed: int = 1,
                                     device: str | torch.device = "cpu", show_progress: bool = True):
    """The evaluation image-text encoder, cached in ``<data>/.textgen_eval/rprecision_encoder_<S>px/``.

    The cache holds the encoder of one ``steps``: asked for another number, it is trained again and replaced.
    It is *not* the generator's text encoder: another seed (1, the GAN's default is 0), another architecture
    (a bi-GRU caption encoder, a wider 48-channel image CNN) and its own training run, so a generator cannot
    score by exploiting the embedding it was trained against (the flaw of R-precision as AttnGAN reported it).
    """

    folder = Path(data_dir) / CLASSIFIER_CACHE / RPRECISION_ENCODER.format(size=image_size)
    if (folder / IMAGE_ENCODER_DIR).is_dir() and (folder / REPORT_FILE).is_file():
        report = json.loads((folder / REPORT_FILE).read_text())
        if report.get("steps") == steps:          # an encoder trained for another number of steps is trained again
            text = CaptionEncoder.from_pretrained(folder, device=device)
            image = ImageEncoder.from_pretrained(folder / IMAGE_ENCODER_DIR, device=device)
            return text, image, report
    data = ImageCaptionData.load(data_dir, image_size=image_size)
    text, image, report = train_caption_encoder(data, image_size=image_size, steps=steps, seed=seed, rnn="gru",
                                                image_channels=48, device=device, show_progress=show_progress)
    save_caption_encoder(text, report, folder, image_encoder=image)
    return text, image, dataclasses.asdict(report)


@torch.no_grad()
def r_precision(image_emb: torch.Tensor, text_emb: torch.Tensor, candidates: int = 100, seed: int = 0) -> float:
    """R-precision as in AttnGAN (Xu et al. 2018): for image i, rank its own caption (row i of ``text_emb``)
    against ``candidates - 1`` captions of other images by cosine similarity; the fraction ranked first.
    With one relevant caption among R = 100 candidates this is top-1 accuracy (chance 1%)."""
    n = image_emb.size(0)
    if n < candidates:
        raise ValueError(f"R-precision with {candidates} candidates needs at least {candidates} images, got {n}")
    g = torch.Generator().manual_seed(seed)
    others = torch.stack([torch.randperm(n - 1, generator=g)[:candidates - 1] for _ in range(n)])   # (N, R-1)
    others = others + (others >= torch.arange(n)[:, None]).long()                  # skip image i itself
    own = (image_emb * text_emb).sum(1)                                             # (N,)
    rivals = torch.einsum("nd,nrd->nr", image_emb, text_emb[others])                # (N, R-1)
    return float((own[:, None] > rivals).all(1).float().mean())


@torch.no_grad()
def judge_log_probs(classifier: AttributeClassifier, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """The attribute judge's log-probabilities ``{attribute: (N, classes)}`` for images (N, 3, S, S) in [-1, 1]."""
    classifier.eval()
    dev = next(classifier.parameters()).device
    out: dict[str, list[torch.Tensor]] = {k: [] for k in classifier.classes}
    for i in range(0, images.size(0), batch_size):
        for k, logits in classifier(images[i:i + batch_size].to(dev).float()).items():
            out[k].append(torch.log_softmax(logits.float(), -1).cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def judge_scores(log_probs: dict[str, torch.Tensor], stated: list[dict[str, str]]) -> torch.Tensor:
    """(N images, M captions) scores: for caption j, the sum over the attributes it states of
    log p_judge(value | image) - log(1 / classes), the log-likelihood ratio of the judge against chance, so
    that a caption stating more attributes is not penalised for being longer."""
    n = next(iter(log_probs.values())).size(0)
    scores = torch.zeros(n, len(stated))
    for j, attrs in enumerate(stated):
        for key, value in attrs.items():
            classes = ATTRIBUTES.get(key)
            if classes is None or value not in classes:
                continue
            scores[:, j] += log_probs[key][:, classes.index(value)] + math.log(len(classes))
    return scores


def judge_r_precision(log_probs: dict[str, torch.Tensor], stated: list[dict[str, str]], candidates: int = 100,
                      seed: int = 0) -> float:
    """Judge-based R-precision: image i is drawn for caption i; its caption is ranked against ``candidates - 1``
    captions of other images by :func:`judge_scores`; the fraction ranked strictly first (chance 1%).

    The ranking of R-precision (Xu et al. 2018, AttnGAN), read by the attribute judge instead of a learned
    image-text encoder. The judge is trained on real renders only, to read what is drawn, so generated images
    can score above the real-render ceiling only by drawing the stated attributes more reliably than the
    renderer does: unlike an encoder's similarity, it cannot be raised by caption-typical colours."""
    n = len(stated)
    if n < candidates:
        raise ValueError(f"R-precision with {candidates} candidates needs at least {candidates} images, got {n}")
    g = torch.Generator().manual_seed(seed)
    others = torch.stack([torch.randperm(n - 1, generator=g)[:candidates - 1] for _ in range(n)])   # (N, R-1)
    others = others + (others >= torch.arange(n)[:, None]).long()                  # skip caption i itself
    hits = 0
    for start in range(0, n, 512):                                                  # (b, N) scores at a time
        rows = torch.arange(start, min(start + 512, n))
        s = judge_scores({k: v[rows] for k, v in log_probs.items()}, stated)        # (b, N)
        own = s[torch.arange(len(rows)), rows]                                      # (b,)
        rivals = torch.gather(s, 1, others[rows])                                   # (b, R-1)
        hits += int((own[:, None] > rivals).all(1).sum())
    return hits / n


def evaluate_judge_r_precision(pipe, data, data_dir: Path, n: int, *, seed: int = 0, truncation: float = 1.0,
                               classifier_steps: int = JUDGE_STEPS, show_progress: bool = True) -> dict:
    """Judge-based R-precision (:func:`judge_r_precision`) of generated images and of the real renders (the
    ceiling) for captions of real set B that state at least one attribute the parser reads."""
    clf, _ = load_or_train_classifier(data_dir, pipe.image_size, steps=classifier_steps, seed=0, device=pipe.device,
                                      show_progress=show_progress)
    _, b_idx = real_split(len(data), n, seed)
    rng = np.random.default_rng(seed + 11)
    rows = [(i, c, parse_caption(c)) for i, c in zip(b_idx, data.one_caption_each(b_idx, rng))]
    rows = [r for r in rows if r[2]]
    idx = np.array([i for i, _, _ in rows])
    captions, stated = [c for _, c, _ in rows], [s for _, _, s in rows]
    fake = generate_batched(pipe, captions, torch.Generator().manual_seed(seed + 11), truncation)
    gen_r = judge_r_precision(judge_log_probs(clf, fake), stated, seed=seed)
    real_r = judge_r_precision(judge_log_probs(clf, data.float_images(idx)), stated, seed=seed)
    return {"num_images": len(rows), "candidates": 100, "generated": gen_r, "real": real_r,
            "ratio": gen_r / max(real_r, 1e-9), "chance": 0.01,
            "score": "sum over stated attributes of log p_judge(value | image) + log(classes)"}


def evaluate_r_precision(pipe, data, data_dir: Path, n: int, *, seed: int = 0, truncation: float = 1.0,
                         encoder_steps: int = 2000, show_progress: bool = True) -> dict:
    """R-precision of generated images and (the ceiling) of the real images, for captions of real set B."""
    text, image, enc_report = load_or_train_rprecision_encoder(data_dir, pipe.image_size, steps=encoder_steps,
                                                               device=pipe.device, show_progress=show_progress)
    _, b_idx = real_split(len(data), n, seed)
    rng = np.random.default_rng(seed + 7)
    captions = data.one_caption_each(b_idx, rng)
    t = torch.cat([text.encode(captions[k:k + 256]).float().cpu() for k in range(0, len(captions), 256)])
    fake = generate_batched(pipe, captions, torch.Generator().manual_seed(seed + 7), truncation)
    real = data.float_images(b_idx)

    def embed(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([image(x[k:k + 256].to(pipe.device)).float().cpu() for k in range(0, len(x), 256)])

    with torch.no_grad():
        gen_r, real_r = r_precision(embed(fake), t, seed=seed), r_precision(embed(real), t, seed=seed)
    return {"num_images": len(b_idx), "candidates": 100, "generated": gen_r, "real": real_r,
            "ratio": gen_r / max(real_r, 1e-9), "chance": 0.01,
            "encoder": {"rnn": "gru", "image_channels": 48, "seed": 1, "held_out_r_at_1": enc_report.get("r_at_1")}}
