"""``textgen eval-gan``: how faithfully does a text-to-image GAN draw what its captions say?

This module measures **attribute accuracy** on synthetic birds (see :mod:`textgen.gan.attributes`):

1. the judge: an attribute classifier trained on real renders of the data folder at the model's resolution,
   cached in ``<data>/.textgen_eval/attribute_classifier_<S>px/`` with its held-out accuracy -- the ceiling,
   what the judge finds in *real* images;
2. grammar captions: fresh birds (a seed the training set never used) described by the caption grammar,
   which records exactly what each caption states;
3. real CUB captions (``--cub-captions``, e.g. ``../shared/data/cub_captions_train.jsonl.gz``): the captions
   the caption parser understands, with the attributes it reads from them;
4. for each set: images are generated per caption, the judge reads them, and the fraction of stated
   attributes it finds is reported overall and per attribute, beside uniform chance.

5. mode collapse, read by the same judge: for ``diversity_captions`` captions, ``diversity_images`` images
   each, the number of distinct colour combinations of the six large parts (crown, back, wing, tail, breast,
   belly) among the images of one caption -- for generated images and for real renders of the same caption
   (unstated attributes drawn at random, as the renderer does), so "at least half of real" can be checked.

FID/KID and R-precision with a separate encoder are the rest of the evaluation issue.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch

__all__ = ["CLASSIFIER_CACHE", "LARGE_PARTS", "distinct_combinations", "render_for_caption", "caption_diversity",
           "load_or_train_classifier", "grammar_captions", "cub_captions", "evaluate_attributes",
           "format_attribute_report"]

CLASSIFIER_CACHE = ".textgen_eval"
LARGE_PARTS = ("crown", "back", "wing", "tail", "breast", "belly")     # colours a judge reads reliably at 32 px


def distinct_combinations(pred: dict[str, torch.Tensor], keys: tuple[str, ...] = LARGE_PARTS) -> int:
    """How many distinct tuples of predicted classes (over ``keys``) the images show."""
    return len(set(zip(*(pred[k].tolist() for k in keys))))


def render_for_caption(stated: dict[str, str], n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` real renders of what a caption states (the rest random): (n, 3, S, S) in [-1, 1]."""
    from textgen.data.birds import render_bird, sample_attributes

    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        img, _ = render_bird(sample_attributes(rng, **stated), size=size, rng=rng)
        out.append(torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1))
    return torch.stack(out).float() / 127.5 - 1.0


def caption_diversity(generate, captions: list[tuple[str, dict[str, str]]], classifier, image_size: int,
                      n: int = 10, generator: Optional[torch.Generator] = None) -> dict:
    """Mean number of distinct large-part colour combinations among ``n`` images per caption, generated vs real."""
    gen, real = [], []
    for k, (caption, stated) in enumerate(captions):
        gen.append(distinct_combinations(classifier.predict(generate([caption], n, generator))))
        real.append(distinct_combinations(classifier.predict(render_for_caption(stated, n, max(image_size, 32), seed=k))))
    return {"captions": len(captions), "images_per_caption": n, "generated": float(np.mean(gen)),
            "real": float(np.mean(real)), "ratio": float(np.mean(gen) / max(np.mean(real), 1e-9))}


def load_or_train_classifier(data_dir: str | Path, image_size: int, *, steps: int = 3000, seed: int = 0,
                             device: str | torch.device = "cpu", show_progress: bool = True, retrain: bool = False):
    """The cached judge for ``data_dir`` at ``image_size`` px, trained on its renders first if missing."""
    from textgen.data.images import ImageCaptionData
    from textgen.gan.attributes import AttributeClassifier, train_attribute_classifier

    folder = Path(data_dir) / CLASSIFIER_CACHE / f"attribute_classifier_{image_size}px"
    report_file = folder / "classifier_report.json"
    if folder.is_dir() and report_file.is_file() and not retrain:
        clf = AttributeClassifier.from_pretrained(folder, device=device)
        if clf.config.image_size == image_size:
            return clf, json.loads(report_file.read_text())
    data = ImageCaptionData.load(data_dir, image_size=image_size)
    clf, report = train_attribute_classifier(data, image_size=image_size, steps=steps, seed=seed, device=device,
                                             show_progress=show_progress)
    clf.save_pretrained(folder)
    report = dataclasses.asdict(report)
    report_file.write_text(json.dumps(report, indent=2) + "\n")
    return clf, report


def grammar_captions(n: int, seed: int = 10_000) -> list[tuple[str, dict[str, str]]]:
    """``n`` grammar captions of fresh random birds, each with exactly what it states."""
    from textgen.data.bird_captions import make_caption
    from textgen.data.birds import sample_attributes

    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        out.append(make_caption(sample_attributes(rng), rng))
    return out


def cub_captions(path: str | Path, n: int, seed: int = 0) -> list[tuple[str, dict[str, str]]]:
    """``n`` real CUB captions (a random subset of those the parser understands), with what they state."""
    from textgen.data.bird_captions import parse_caption
    from textgen.data.birds import _real_captions

    pairs = _real_captions(path, parse_caption)
    idx = np.random.default_rng(seed).choice(len(pairs), min(n, len(pairs)), replace=False)
    return [pairs[i] for i in sorted(idx)]


def evaluate_attributes(model: str | Path, data_dir: str | Path, *, num_captions: int = 1000,
                        images_per_caption: int = 2, cub_captions_file: Optional[str | Path] = None,
                        classifier_steps: int = 3000, truncation: float = 1.0, seed: int = 0,
                        diversity_captions: int = 20, diversity_images: int = 10,
                        device: str = "cpu", show_progress: bool = True) -> dict:
    from textgen.gan.attributes import attribute_accuracy
    from textgen.models.text_encoder import knows_a_word
    from textgen.pipelines import TextToImagePipeline

    pipe = TextToImagePipeline.from_pretrained(model, device=device)
    clf, clf_report = load_or_train_classifier(data_dir, pipe.image_size, steps=classifier_steps, seed=seed,
                                               device=pipe.device, show_progress=show_progress)

    def generate(captions, n, generator):
        return pipe(captions, num_images_per_caption=n, generator=generator, truncation=truncation).tensors

    sets = {"grammar": grammar_captions(num_captions)}
    if cub_captions_file:
        sets["cub"] = cub_captions(cub_captions_file, num_captions, seed)
    report = {"model": str(model), "data": str(data_dir), "image_size": pipe.image_size,
              "images_per_caption": images_per_caption, "truncation": truncation, "classifier": clf_report}
    for name, caps in sets.items():
        tok = pipe.text_encoder.tokenizer
        known = [(c, s) for c, s in caps if tok is None or knows_a_word(tok, c)]
        r = attribute_accuracy(generate, known, clf, images_per_caption=images_per_caption,
                               generator=torch.Generator().manual_seed(seed))
        report[name] = dataclasses.asdict(r)
    if diversity_captions > 0:
        report["diversity"] = caption_diversity(generate, sets["grammar"][:diversity_captions], clf, pipe.image_size,
                                                n=diversity_images, generator=torch.Generator().manual_seed(seed + 1))
    return report


def format_attribute_report(report: dict) -> str:
    clf = report["classifier"]
    sets = [k for k in ("grammar", "cub") if k in report]
    keys = sorted(set(clf["accuracy"]) | {k for s in sets for k in report[s]["per_attribute"]})
    lines = [f"attribute accuracy of {report['model']} ({report['image_size']} px, {report['images_per_caption']} "
             f"images per caption, truncation {report['truncation']})",
             "| attribute | real renders (judge ceiling) | " + " | ".join(f"generated, {s} captions" for s in sets) + " |",
             "|---|---|" + "---|" * len(sets)]
    for k in keys:
        cells = [f"{report[s]['per_attribute'][k]:.1%}" if k in report[s]["per_attribute"] else "-" for s in sets]
        lines.append(f"| {k} | {clf['accuracy'].get(k, float('nan')):.1%} | " + " | ".join(cells) + " |")
    lines.append(f"| **all stated** | {clf['mean_accuracy']:.1%} (mean) | "
                 + " | ".join(f"**{report[s]['accuracy']:.1%}** of {report[s]['stated']:,} (chance {report[s]['chance']:.1%})"
                              for s in sets) + " |")
    if "diversity" in report:
        d = report["diversity"]
        lines.append(f"\ndiversity: {d['generated']:.2f} distinct large-part colour combinations among "
                     f"{d['images_per_caption']} images per caption (real renders of the same captions: {d['real']:.2f}; "
                     f"ratio {d['ratio']:.2f}), over {d['captions']} captions")
    return "\n".join(lines)
