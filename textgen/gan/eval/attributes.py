"""Attribute accuracy: the fraction of the attributes a caption states that the judge finds in the images
generated for it, on grammar captions and on real CUB captions, beside the judge's ceiling on real renders,
with the diversity and scene checks read by the same judges."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import torch

from textgen.gan.eval.common import grammar_captions, cub_captions
from textgen.gan.eval.diversity import caption_diversity, random_caption_combinations
from textgen.gan.eval.judge import (attribute_accuracy, JUDGE_STEPS, load_or_train_classifier,
                                    load_or_train_scene_classifier)
from textgen.gan.eval.scene import SCENE_CAPTIONS, scene_coverage
from textgen.gan.pipeline import TextToImagePipeline
from textgen.gan.text_encoders import knows_a_word, strip_punctuation

__all__ = ["RELIABLE_JUDGE", "evaluate_attributes"]


RELIABLE_JUDGE = 0.97        # a judge head at least this accurate on held-out real renders is "reliable"


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
        return pipe(captions, num_images_per_prompt=n, generator=generator, truncation=truncation).tensors

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
