"""``textgen eval-gan``: how faithfully does a text-to-image GAN draw what its captions say?

This module measures **attribute accuracy** on synthetic birds (see :mod:`textgen.gan.eval.judge`):

1. the judge: an attribute classifier trained on real renders of the data folder at the model's resolution,
   cached in ``<data>/.textgen_eval/attribute_classifier_<S>px/`` with its held-out accuracy -- the ceiling,
   what the judge finds in *real* images;
2. grammar captions: fresh birds (a seed the training set never used) described by the caption grammar,
   which records exactly what each caption states;
3. real CUB captions (``--cub-captions``, e.g. ``../shared/data/cub_captions_train.jsonl.gz``): the captions
   the caption parser understands, with the attributes it reads from them;
4. for each set: images are generated per caption, the judge reads them, and the fraction of stated
   attributes it finds is reported overall and per attribute, beside uniform chance.

5. mode collapse, read by the same judge: the distinct large-part colour combinations among one image for
   each of 200 random captions, generated vs real renders; and for ``diversity_captions`` captions,
   ``diversity_images`` images each, the number of distinct colour combinations of the six large parts (crown, back, wing, tail, breast,
   belly) among the images of one caption -- for generated images and for real renders of the same caption
   (unstated attributes drawn at random, as the renderer does), so "at least half of real" can be checked.
   Beyond the caption: the share of each background and facing among one image for each of 500 captions,
   read by a second classifier trained on the renders' scene labels (``scene_classifier_<S>px/``), against
   real renders of the same captions; a class drawn under half as often as real is reported as dropped.

6. FID and KID (:mod:`textgen.gan.eval.fid`): ``num_images`` generated images, one per caption of a random real set
   B, against a disjoint real set A of the same size; the floor is B against A. Real features are cached
   in ``<data>/.textgen_eval/inception_<hash>.npz`` under a hash of the whole protocol (features, data,
   resolution, N, seed), so another resolution or data set recomputes them instead of mixing.
7. R-precision: top-1 of 100 captions, read by a *separate* image-text encoder (bi-GRU + 48-channel CNN, seed 1,
   cached in ``<data>/.textgen_eval/rprecision_encoder_<S>px/``) that the generator never saw; the same for
   the real images of B gives the ceiling.
8. Inception diversity: mean pairwise distance of Inception features among images of one caption,
   generated vs real renders.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from textgen.birds.attributes import ATTRIBUTES, sample_attributes
from textgen.birds.captions import make_caption, parse_caption
from textgen.birds.dataset import real_captions
from textgen.birds.render import render_bird
from textgen.core.checkpoint import load_tree
from textgen.core.files import file_digest
from textgen.data.images import ImageCaptionData
from textgen.gan.eval.fid import (InceptionFeatures, cached_features, fid_from_features, kernel_inception_distance,
                                  mean_pairwise_distance, real_split, warn_if_few)
from textgen.gan.eval.judge import AttributeClassifier, JUDGE_RECIPE, attribute_accuracy, train_attribute_classifier
from textgen.gan.eval.plots import real_vs_generated_grid
from textgen.gan.pipeline import TextToImagePipeline
from textgen.gan.text_encoder_training import (IMAGE_ENCODER_DIR, REPORT_FILE, save_caption_encoder,
                                               train_caption_encoder)
from textgen.gan.text_encoders import CaptionEncoder, ImageEncoder, knows_a_word, strip_punctuation
from textgen.gan.trainer import CHECKPOINTS_DIR

__all__ = ["CLASSIFIER_CACHE", "LARGE_PARTS", "distinct_combinations", "render_for_caption", "caption_diversity",
           "random_caption_combinations", "scene_coverage", "scene_shares", "load_or_train_scene_classifier",
           "load_or_train_classifier", "grammar_captions", "cub_captions", "evaluate_attributes",
           "format_attribute_report", "format_gan_report", "evaluate_gan", "evaluate_fid", "r_precision",
           "evaluate_r_precision", "judge_log_probs", "judge_scores", "judge_r_precision", "evaluate_judge_r_precision",
           "load_or_train_rprecision_encoder", "inception_diversity", "real_split",
           "real_set_features"]

CLASSIFIER_CACHE = ".textgen_eval"
RELIABLE_JUDGE = 0.97        # a judge head at least this accurate on held-out real renders is "reliable"
SCENE_CAPTIONS = 500         # one image each for the background/facing shares: +-2 points of standard error
LARGE_PARTS = ("crown", "back", "wing", "tail", "breast", "belly")     # colours a judge reads reliably at 32 px


def distinct_combinations(pred: dict[str, torch.Tensor], keys: tuple[str, ...] = LARGE_PARTS) -> int:
    """How many distinct tuples of predicted classes (over ``keys``) the images show."""
    return len(set(zip(*(pred[k].tolist() for k in keys))))


def render_for_caption(stated: dict[str, str], n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` real renders of what a caption states (the rest random): (n, 3, S, S) in [-1, 1]."""

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


def _one_render_each(captions: list[tuple[str, dict[str, str]]], image_size: int) -> torch.Tensor:
    """One real render of what each caption states (caption k drawn with seed k): (N, 3, S, S) in [-1, 1]."""
    return torch.cat([render_for_caption(stated, 1, max(image_size, 32), seed=k)
                      for k, (_, stated) in enumerate(captions)])


def random_caption_combinations(generate, captions: list[tuple[str, dict[str, str]]], classifier, image_size: int,
                                generator: Optional[torch.Generator] = None) -> dict:
    """Distinct large-part colour combinations among one image for each of many random captions, generated
    vs one real render of each caption: a generator that collapses onto a few birds scores far below real."""
    gen = classifier.predict(generate([c for c, _ in captions], 1, generator))
    real = classifier.predict(_one_render_each(captions, image_size))
    g, r = distinct_combinations(gen), distinct_combinations(real)
    return {"captions": len(captions), "generated": g, "real": r, "ratio": g / max(r, 1)}


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
    real = scene_shares(classifier, classifier.predict(_one_render_each(captions, image_size)))
    out: dict = {"captions": len(captions), "labels": {}}
    for head, names in classifier.classes.items():
        p_gen, p_real = gen[head], real[head]
        out["labels"][head] = {
            "generated": dict(zip(names, p_gen.tolist())), "real": dict(zip(names, p_real.tolist())),
            "tv_distance": 0.5 * float((p_gen - p_real).abs().sum()),
            "dropped": [n for n, g, r in zip(names, p_gen.tolist(), p_real.tolist()) if g < 0.5 * r]}
    return out


def _classifier_folder(data_dir: str | Path, image_size: int | str, label_space: str) -> Path:
    name = "attribute_classifier" if label_space == "attributes" else f"{label_space}_classifier"
    return Path(data_dir) / CLASSIFIER_CACHE / f"{name}_{image_size}px"


JUDGE_STEPS = 6000                 # the judge's training steps (batch 64) when it is not cached
JUDGE_RENDERS_PER_STEP = 20        # fresh renders the judge trains on besides the folder's, per training step


def load_or_train_classifier(data_dir: str | Path, image_size: int, *, steps: int = JUDGE_STEPS, seed: int = 0,
                             device: str | torch.device = "cpu", show_progress: bool = True, retrain: bool = False,
                             label_space: str = "attributes", data=None):
    """The cached judge for ``data_dir`` at ``image_size`` px, trained on its renders first if missing
    (``label_space="scene"``: the background/facing classifier of :func:`scene_coverage`; ``data``: the folder
    already loaded at ``image_size``, to save reading it again)."""

    folder = _classifier_folder(data_dir, image_size, label_space)
    report_file = folder / "classifier_report.json"
    if folder.is_dir() and report_file.is_file() and not retrain:
        clf = AttributeClassifier.from_pretrained(folder, device=device)
        cached = json.loads(report_file.read_text())
        if (clf.config.image_size == image_size and clf.config.label_space == label_space
                and cached.get("recipe") == JUDGE_RECIPE):             # an older recipe's judge is retrained
            return clf, cached
    data = data if data is not None else ImageCaptionData.load(data_dir, image_size=image_size)
    clf, report = train_attribute_classifier(data, image_size=image_size, steps=steps, seed=seed, device=device,
                                             show_progress=show_progress, label_space=label_space,
                                             extra_renders=JUDGE_RENDERS_PER_STEP * steps)
    clf.save_pretrained(folder)
    report = dataclasses.asdict(report)
    report_file.write_text(json.dumps(report, indent=2) + "\n")
    return clf, report


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


def evaluate_attributes(model: str | Path, data_dir: str | Path, *, num_captions: int = 1000,
                        images_per_caption: int = 2, cub_captions_file: Optional[str | Path] = None,
                        cub_classes: str = "heldout",
                        classifier_steps: int = JUDGE_STEPS, truncation: float = 1.0, seed: int = 0,
                        diversity_captions: int = 20, diversity_images: int = 10,
                        device: str = "cpu", show_progress: bool = True) -> dict:

    pipe = model if isinstance(model, TextToImagePipeline) else TextToImagePipeline.from_pretrained(model, device=device)
    clf, clf_report = load_or_train_classifier(data_dir, pipe.image_size, steps=classifier_steps, seed=seed,
                                               device=pipe.device, show_progress=show_progress)

    def generate(captions, n, generator):
        return pipe(captions, num_images_per_caption=n, generator=generator, truncation=truncation).tensors

    sets = {"grammar": grammar_captions(num_captions)}
    if cub_captions_file:
        sets["cub"] = cub_captions(cub_captions_file, num_captions, seed, classes=cub_classes)
    report = {"model": str(model), "data": str(data_dir), "image_size": pipe.image_size,
              "images_per_caption": images_per_caption, "truncation": truncation, "classifier": clf_report,
              **({"cub_classes": cub_classes} if cub_captions_file else {})}
    for name, caps in sets.items():
        tok = pipe.text_encoder.tokenizer
        known = [(c, s) for c, s in caps if tok is None or knows_a_word(tok, strip_punctuation(c))]
        r = attribute_accuracy(generate, known, clf, images_per_caption=images_per_caption,
                               generator=torch.Generator().manual_seed(seed))
        report[name] = dataclasses.asdict(r)
        # the statements the judge itself reads reliably on real renders (>= 97%, the bar for the judge)
        report[name]["reliable"] = r.subset([k for k, a in clf_report["accuracy"].items() if a >= RELIABLE_JUDGE])
    if diversity_captions > 0:
        report["diversity"] = caption_diversity(generate, sets["grammar"][:diversity_captions], clf, pipe.image_size,
                                                n=diversity_images, generator=torch.Generator().manual_seed(seed + 1))
        report["random_caption_combinations"] = random_caption_combinations(
            generate, sets["grammar"][:200], clf, pipe.image_size, generator=torch.Generator().manual_seed(seed + 2))
        scene_clf, scene_report = load_or_train_scene_classifier(   # two easy heads: a sixth of the judge's steps
            data_dir, pipe.image_size, steps=max(1, classifier_steps // 6), seed=seed, device=pipe.device,
            show_progress=show_progress)
        if scene_clf is not None:
            report["scene"] = scene_coverage(generate, grammar_captions(SCENE_CAPTIONS), scene_clf, pipe.image_size,
                                             generator=torch.Generator().manual_seed(seed + 3))
            report["scene"]["classifier"] = scene_report
    return report


def load_or_train_scene_classifier(data_dir: str | Path, image_size: int, *, steps: int = 1000, seed: int = 0,
                                   device: str | torch.device = "cpu", show_progress: bool = True):
    """The cached background/facing classifier, or ``(None, None)`` for a folder whose metadata predates them."""

    data = None
    if not (_classifier_folder(data_dir, image_size, "scene") / "classifier_report.json").is_file():
        data = ImageCaptionData.load(data_dir, image_size=image_size)
        if not data.has_scene:
            return None, None
    return load_or_train_classifier(data_dir, image_size, steps=steps, seed=seed, device=device,
                                    show_progress=show_progress, label_space="scene", data=data)


def _shares(p: dict[str, float]) -> str:
    return " / ".join(f"{name} {share:.0%}" for name, share in p.items())


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
    if all("reliable" in report[s] for s in sets):
        heads = report[sets[0]]["reliable"]["attributes"]
        lines.append(f"| **judge-reliable heads** (>= {RELIABLE_JUDGE:.0%} on real renders: {len(heads)}) | "
                     f"{np.mean([clf['accuracy'][k] for k in heads]) if heads else float('nan'):.1%} (mean) | "
                     + " | ".join(f"**{report[s]['reliable']['accuracy']:.1%}** of {report[s]['reliable']['stated']:,} "
                                  f"(chance {report[s]['reliable']['chance']:.1%})" for s in sets) + " |")
    if "diversity" in report:
        d = report["diversity"]
        lines.append(f"\ndiversity: {d['generated']:.2f} distinct large-part colour combinations among "
                     f"{d['images_per_caption']} images per caption (real renders of the same captions: {d['real']:.2f}; "
                     f"ratio {d['ratio']:.2f}), over {d['captions']} captions")
    if "random_caption_combinations" in report:
        d = report["random_caption_combinations"]
        lines.append(f"distinct large-part colour combinations among {d['captions']} images for {d['captions']} random "
                     f"captions: generated {d['generated']}, real renders {d['real']} (ratio {d['ratio']:.2f})")
    if "scene" in report:
        d = report["scene"]
        acc = d["classifier"]["accuracy"]
        lines += ["", f"unstated scene, one image for each of {d['captions']} captions (scene classifier on held-out "
                      f"real renders: " + ", ".join(f"{k} {a:.1%}" for k, a in acc.items()) + ")",
                  "| label | generated | real renders | TV distance | dropped (< half of real) |", "|---|---|---|---|---|"]
        for head, r in d["labels"].items():
            lines.append(f"| {head} | {_shares(r['generated'])} | {_shares(r['real'])} | {r['tv_distance']:.2f} | "
                         f"{', '.join(r['dropped']) or 'none'} |")
    return "\n".join(lines)


def format_gan_report(report: dict) -> str:
    """The whole eval-gan report as markdown: attributes (when measured), then FID/KID, R-precision, diversity."""
    lines = [format_attribute_report(report)] if "classifier" in report else [f"evaluation of {report['model']}"]
    if "fid" in report:
        f = report["fid"]
        lines += ["", f"| image quality ({f['num_images']:,} images) | generated | real vs real (floor) | ratio |",
                  "|---|---|---|---|",
                  f"| FID (TF-Inception pool3) | {f['fid']:.2f} | {f['fid_floor']:.2f} | {f['fid_over_floor']:.1f}x |",
                  f"| KID x 1000 | {1000 * f['kid']:.2f} +- {1000 * f['kid_std']:.2f} | "
                  f"{1000 * f['kid_floor']:.2f} +- {1000 * f['kid_floor_std']:.2f} | |"]
    if "r_precision" in report:
        r = report["r_precision"]
        lines += ["", f"R-precision (top-1 of {r['candidates']}, separate bi-GRU evaluation encoder, {r['num_images']:,} "
                      f"captions): generated **{r['generated']:.1%}**, real images (ceiling) {r['real']:.1%}, ratio "
                      f"{r['ratio']:.2f}, chance {r['chance']:.0%}. G was trained to please an encoder of the same "
                      "kind, so this rewards caption-typical colours: read the judge's figure below for faithfulness"]
    if "judge_r_precision" in report:
        r = report["judge_r_precision"]
        lines += ["", f"Judge R-precision (top-1 of {r['candidates']}, captions ranked by the attribute judge's "
                      f"log-likelihood of what each states, {r['num_images']:,} captions): generated "
                      f"**{r['generated']:.1%}**, real renders (ceiling) {r['real']:.1%}, ratio {r['ratio']:.2f}, "
                      f"chance {r['chance']:.0%}"]
    if "inception_diversity" in report:
        d = report["inception_diversity"]
        lines += ["", f"Inception diversity: mean pairwise feature distance among {d['images_per_caption']} images per "
                      f"caption: generated {d['generated']:.2f}, real renders {d['real']:.2f}, ratio {d['ratio']:.2f} "
                      f"(over {d['captions']} captions)"]
    return "\n".join(lines)


def evaluate_gan(model, data_dir: str | Path, *, metrics: tuple[str, ...] = ("attributes", "fid", "rprecision"),
                 num_images: int = 30_000, num_captions: int = 1000, images_per_caption: int = 2,
                 cub_captions_file: Optional[str | Path] = None, cub_classes: str = "heldout",
                 classifier_steps: int = JUDGE_STEPS,
                 encoder_steps: int = 2000, truncation: float = 1.0, seed: int = 0, diversity_captions: int = 20,
                 diversity_images: int = 10, device: str = "cpu", show_progress: bool = True,
                 grid_out: Optional[str | Path] = None) -> dict:
    """Everything ``textgen eval-gan`` measures, as one JSON-able dict (see the module docstring); with
    ``grid_out``, also the real-vs-generated picture of :func:`textgen.gan.eval.plots.real_vs_generated_grid`."""

    unknown = set(metrics) - {"attributes", "fid", "rprecision"}
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; choose from attributes, fid, rprecision")
    pipe = TextToImagePipeline.from_pretrained(model, device=device)
    data_dir = Path(data_dir)
    data = ImageCaptionData.load(data_dir, image_size=pipe.image_size)
    synthetic = bool(data.attributes) and all(a is not None for a in data.attributes)
    if "attributes" in metrics and not synthetic:
        raise ValueError(f"attribute accuracy needs synthetic birds with attributes in {data_dir / 'metadata.jsonl'} "
                         "(textgen make-birds); for other data use --metrics fid,rprecision")
    if "attributes" in metrics:
        report = evaluate_attributes(pipe, data_dir, num_captions=num_captions, images_per_caption=images_per_caption,
                                     cub_captions_file=cub_captions_file, cub_classes=cub_classes,
                                     classifier_steps=classifier_steps,
                                     truncation=truncation, seed=seed, diversity_captions=diversity_captions,
                                     diversity_images=diversity_images, device=device, show_progress=show_progress)
    else:
        report = {"data": str(data_dir), "image_size": pipe.image_size, "truncation": truncation}
    report["model"] = str(model)                                      # the name given, not the loaded pipeline
    if "fid" in metrics:
        features = InceptionFeatures(pipe.device)                        # raises with the install command if missing
        report["fid"] = evaluate_fid(pipe, data, data_dir, features, min(num_images, len(data) // 2), seed=seed,
                                     truncation=truncation)
        if diversity_captions > 0 and synthetic:
            def generate(captions, n, generator):
                return pipe(captions, num_images_per_caption=n, generator=generator, truncation=truncation).tensors

            report["inception_diversity"] = inception_diversity(
                generate, grammar_captions(diversity_captions), features, pipe.image_size, n=diversity_images,
                generator=torch.Generator().manual_seed(seed + 1))
    if "rprecision" in metrics:
        report["r_precision"] = evaluate_r_precision(pipe, data, data_dir, min(num_images, len(data) // 2), seed=seed,
                                                     truncation=truncation, encoder_steps=encoder_steps,
                                                     show_progress=show_progress)
        if synthetic:                                     # the judge reads attributes: synthetic birds only
            report["judge_r_precision"] = evaluate_judge_r_precision(
                pipe, data, data_dir, min(num_images, len(data) // 2), seed=seed, truncation=truncation,
                classifier_steps=classifier_steps, show_progress=show_progress)
    if grid_out is not None:
        report["grid"] = str(real_vs_generated_grid(pipe, data, grid_out, seed=seed))
    return report


# ----------------------------------------------------------------------------- FID / KID, R-precision, Inception diversity

RPRECISION_ENCODER = "rprecision_encoder_{size}px"


def _fingerprint(data_dir: Path) -> str:
    """A hash of the data folder's metadata.jsonl: cached statistics of another data set are never reused."""
    return file_digest(Path(data_dir) / "metadata.jsonl")[:16]


def _generate_batched(pipe, captions: list[str], generator: torch.Generator, truncation: float,
                      chunk: int = 256) -> torch.Tensor:
    return torch.cat([pipe(captions[k:k + chunk], num_images_per_caption=1, generator=generator,
                           truncation=truncation).tensors for k in range(0, len(captions), chunk)])


def real_set_features(data, data_dir: str | Path, features, idx: np.ndarray, name: str, image_size: int,
                      seed: int = 0) -> np.ndarray:
    """Inception features of real set ``name`` ("A" or "B" of :func:`real_split`), cached on disk under a hash of
    the whole protocol (features, data, resolution, N, seed, set)."""

    protocol = {**features.protocol, "data": _fingerprint(Path(data_dir)), "image_size": image_size, "n": len(idx),
                "seed": seed, "set": name}
    return cached_features(Path(data_dir) / CLASSIFIER_CACHE, protocol, lambda: features(data.float_images(idx)))


def evaluate_fid(pipe, data, data_dir: Path, features, n: int, *, seed: int = 0, truncation: float = 1.0) -> dict:
    """FID and KID of ``n`` generated images (one per caption of real set B) against real set A, and the
    floor: real set B against A (same N, so directly comparable)."""

    a_idx, b_idx = real_split(len(data), n, seed)
    n = len(a_idx)
    warn_if_few(n, "generated")
    feats_a = real_set_features(data, data_dir, features, a_idx, "A", pipe.image_size, seed)
    feats_b = real_set_features(data, data_dir, features, b_idx, "B", pipe.image_size, seed)
    rng = np.random.default_rng(seed)
    captions = data.one_caption_each(b_idx, rng)
    fake = _generate_batched(pipe, captions, torch.Generator().manual_seed(seed), truncation)
    feats_g = features(fake)
    fid, floor = fid_from_features(feats_g, feats_a), fid_from_features(feats_b, feats_a)
    kid, kid_std = kernel_inception_distance(feats_g, feats_a, seed=seed)
    kid_floor, kid_floor_std = kernel_inception_distance(feats_b, feats_a, seed=seed)
    return {"num_images": n, "fid": fid, "fid_floor": floor, "fid_over_floor": fid / max(floor, 1e-9),
            "kid": kid, "kid_std": kid_std, "kid_floor": kid_floor, "kid_floor_std": kid_floor_std,
            "protocol": {**features.protocol, "reference": f"{n} real images (set A)",
                         "floor": f"{n} other real images (set B) vs A",
                         "generated": f"one image per caption of set B, truncation {truncation}"}}


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
    fake = _generate_batched(pipe, captions, torch.Generator().manual_seed(seed + 11), truncation)
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
    fake = _generate_batched(pipe, captions, torch.Generator().manual_seed(seed + 7), truncation)
    real = data.float_images(b_idx)

    def embed(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([image(x[k:k + 256].to(pipe.device)).float().cpu() for k in range(0, len(x), 256)])

    with torch.no_grad():
        gen_r, real_r = r_precision(embed(fake), t, seed=seed), r_precision(embed(real), t, seed=seed)
    return {"num_images": len(b_idx), "candidates": 100, "generated": gen_r, "real": real_r,
            "ratio": gen_r / max(real_r, 1e-9), "chance": 0.01,
            "encoder": {"rnn": "gru", "image_channels": 48, "seed": 1, "held_out_r_at_1": enc_report.get("r_at_1")}}


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


def run_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of a train-gan run's kept checkpoints (``train.keep_every``), oldest first, then last/."""

    run_dir = Path(run_dir)
    out = [(int(p.name.split("_")[-1]), p) for p in sorted((run_dir / CHECKPOINTS_DIR).glob("step_*")) if p.is_dir()]
    last = run_dir / "last"
    state = last / "training_state"
    if last.is_dir():
        step = int(load_tree(state)["step"]) if state.is_dir() else (out[-1][0] + 1 if out else 0)
        if not out or step > out[-1][0]:
            out.append((step, last))
    return out


def evaluate_checkpoints(run_dir: str | Path, data_dir: str | Path, *, num_captions: int = 200,
                         num_images: int = 2048, with_fid: bool = True, classifier_steps: int = JUDGE_STEPS,
                         truncation: float = 1.0, seed: int = 0, device: str = "cpu",
                         show_progress: bool = True) -> list[dict]:
    """Attribute accuracy (grammar captions), the background shares (one image for each of 500 grammar captions,
    read by the scene classifier, with their total variation distance from real renders) and FID of every kept
    checkpoint of a run: the training curves."""

    rows, data, features, scene_clf = [], None, None, None
    for step, folder in run_checkpoints(run_dir):
        pipe = TextToImagePipeline.from_pretrained(folder, device=device)
        att = evaluate_attributes(pipe, data_dir, num_captions=num_captions, images_per_caption=1, truncation=truncation,
                                  classifier_steps=classifier_steps, seed=seed, diversity_captions=0, device=device,
                                  show_progress=show_progress)
        row = {"step": step, "checkpoint": str(folder), "attribute_accuracy": att["grammar"]["accuracy"],
               "chance": att["grammar"]["chance"]}
        if scene_clf is None:
            scene_clf, _ = load_or_train_scene_classifier(data_dir, pipe.image_size, steps=max(1, classifier_steps // 6),
                                                          seed=seed, device=pipe.device, show_progress=show_progress)
        if scene_clf is not None:
            def generate(captions, n, generator):
                return pipe(captions, num_images_per_caption=n, generator=generator, truncation=truncation).tensors

            bg = scene_coverage(generate, grammar_captions(SCENE_CAPTIONS), scene_clf, pipe.image_size,
                                generator=torch.Generator().manual_seed(seed + 3))["labels"]["background"]
            row.update(background=bg["generated"], background_real=bg["real"], background_tv=bg["tv_distance"])
        if with_fid:
            if features is None:
                features = InceptionFeatures(pipe.device)
                data = ImageCaptionData.load(data_dir, image_size=pipe.image_size)
            f = evaluate_fid(pipe, data, Path(data_dir), features, min(num_images, len(data) // 2), seed=seed,
                             truncation=truncation)
            row.update(fid=f["fid"], fid_floor=f["fid_floor"], fid_images=f["num_images"])
        rows.append(row)
    return rows
