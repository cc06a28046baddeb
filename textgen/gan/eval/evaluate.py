"""``textgen eval-gan``: how faithfully does a text-to-image GAN draw what its captions say?

It runs the metrics, one module each (:mod:`~textgen.gan.eval.attributes`, :mod:`~textgen.gan.eval.diversity`,
:mod:`~textgen.gan.eval.scene`, :mod:`~textgen.gan.eval.fid`, :mod:`~textgen.gan.eval.rprecision`), over a model
or over the kept checkpoints of a run; the judge is :mod:`textgen.gan.eval.judge`:

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

from pathlib import Path
from typing import Optional

import torch

from textgen.core.trainer import TrainingState
from textgen.data.images import ImageCaptionData
from textgen.gan.configuration import CHECKPOINTS_DIR
from textgen.gan.eval.attributes import evaluate_attributes
from textgen.gan.eval.common import grammar_captions
from textgen.gan.eval.diversity import inception_diversity
from textgen.gan.eval.fid import InceptionFeatures, evaluate_fid
from textgen.gan.eval.judge import JUDGE_STEPS, load_or_train_scene_classifier
from textgen.gan.eval.plots import real_vs_generated_grid
from textgen.gan.eval.rprecision import evaluate_judge_r_precision, evaluate_r_precision
from textgen.gan.eval.scene import SCENE_CAPTIONS, scene_coverage
from textgen.gan.pipeline import TextToImagePipeline

__all__ = ["evaluate_gan", "run_checkpoints", "evaluate_checkpoints"]


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
                return pipe(captions, num_images_per_prompt=n, generator=generator, truncation=truncation).tensors

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


def run_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of a train-gan run's kept checkpoints (``train.keep_every``), oldest first, then last/."""

    run_dir = Path(run_dir)
    out = [(int(p.name.split("_")[-1]), p) for p in sorted((run_dir / CHECKPOINTS_DIR).glob("step_*")) if p.is_dir()]
    last = run_dir / "last"
    state = last / "training_state"
    if last.is_dir():
        step = TrainingState.load(state).step if state.is_dir() else (out[-1][0] + 1 if out else 0)
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
                return pipe(captions, num_images_per_prompt=n, generator=generator, truncation=truncation).tensors

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
