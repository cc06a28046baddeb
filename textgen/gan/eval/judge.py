"""Does a generated bird look the way its caption says? An attribute classifier for synthetic birds.

Synthetic birds know their ground truth: every rendered image comes with its attributes (the colour of
each part, size, bill length and shape, wing pattern). A small CNN with one softmax head per attribute is
trained on *real renders* (never on generated images) and checked on held-out renders. It then reads the
attributes off generated images, and **attribute accuracy** is the fraction of the attributes a caption
*states* that the classifier finds in the images generated for it -- the caption-faithfulness measure of
the evaluation issue, with a judge that never saw the generator (like the R-precision protocol of Xu et al.
2018, AttnGAN, but with an exact ground truth instead of a learned matching score).

The judge learns only what is drawn (a solid wing has no pattern, so its pattern colour is not a label), and
besides the folder's renders it trains on fresh ones from the same renderer, which it cannot learn by heart.

    clf, report = train_attribute_classifier(data, image_size=32, steps=3000)   # data: ImageCaptionData
    report.accuracy["breast"]                                                  # held-out accuracy per head
    acc = attribute_accuracy(pipe, [("a red bird with black wings", {"breast": "red", "wing": "black"})], clf)

The same classifier with ``label_space="scene"`` reads what captions never state -- the background (sky,
foliage, a branch) and which way the bird faces -- so that ``eval-gan`` can tell whether a generator still
draws every kind of scene the data has (a mode it dropped would never show in caption faithfulness).

Sections: the label spaces, the classifier, training, and the faithfulness measure.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from textgen.core.trainer import check_finite
from textgen.birds.attributes import ATTRIBUTES, IGNORE, SCENE, judge_labels
from textgen.birds.render import render_birds
from textgen.core.config import check
from textgen.core.pretrained import PretrainedMixin
from textgen.core.runtime import progress
from textgen.data.images import ImageCaptionData
from textgen.gan.eval.common import CLASSIFIER_CACHE


__all__ = ["LABEL_SPACES", "AttributeClassifierConfig", "AttributeClassifier", "ClassifierReport",
           "train_attribute_classifier", "FaithfulnessReport", "attribute_accuracy"]


# ----------------------------------------------------------------------------- label space

LABEL_SPACES = {"attributes": ATTRIBUTES, "scene": SCENE}    # the judge's heads: what captions state, or the scene


# ----------------------------------------------------------------------------- the classifier

@dataclass
class AttributeClassifierConfig:
    image_size: int = 32
    channels: int = 32
    label_space: str = "attributes"       # "attributes" (what captions state) or "scene" (background, facing)

    def validate(self) -> None:
        check(self.image_size in (16, 32, 64, 128, 256), "image_size", f"must be 16-256 (a power of two), got {self.image_size}")
        check(self.channels >= 1, "channels", f"must be >= 1, got {self.channels}")
        check(self.label_space in LABEL_SPACES, "label_space", f"must be one of {sorted(LABEL_SPACES)}, got {self.label_space!r}")


class AttributeClassifier(PretrainedMixin, nn.Module):
    """Conv blocks down to 4x4, then one linear head per attribute (or scene label) over the flattened 4x4 map
    (positions matter: the crown is at the top, the legs at the bottom)."""

    config_class = AttributeClassifierConfig
    model_type = "bird-attribute-classifier"

    def __init__(self, config: AttributeClassifierConfig):
        super().__init__()
        config.validate()
        self.config = c = config
        layers, c_in, size, width = [], 3, c.image_size, c.channels
        while size > 4:
            layers += [nn.Conv2d(c_in, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                       nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            c_in, width, size = width, min(width * 2, 4 * c.channels), size // 2
        self.features = nn.Sequential(*layers)
        self.classes = LABEL_SPACES[c.label_space]                                    # head -> its class names
        self.heads = nn.ModuleDict({k: nn.Linear(c_in * 16, len(v)) for k, v in self.classes.items()})

    def forward(self, images: Tensor) -> dict[str, Tensor]:                          # (B, 3, S, S) in [-1, 1]
        h = self.features(images).flatten(1)                                         # (B, C*16)
        return {k: head(h) for k, head in self.heads.items()}                        # {attr: (B, classes)}

    @torch.no_grad()
    def predict(self, images: Tensor, batch_size: int = 256) -> dict[str, Tensor]:
        """Class indices per attribute for images in [-1, 1] (resized to the classifier's size if needed)."""
        was = self.training
        self.eval()
        try:
            S, dev = self.config.image_size, next(self.parameters()).device
            out: dict[str, list[Tensor]] = {k: [] for k in self.classes}
            for i in range(0, images.size(0), batch_size):
                x = images[i:i + batch_size].to(dev).float()
                if x.size(-1) != S:
                    x = F.interpolate(x, size=(S, S), mode="bilinear", antialias=True, align_corners=False)
                for k, logits in self(x).items():
                    out[k].append(logits.argmax(-1).cpu())
            return {k: torch.cat(v) for k, v in out.items()}
        finally:
            self.train(was)


# ----------------------------------------------------------------------------- training

# The judge's training recipe; a cached judge made by another recipe is retrained, not reused (its numbers
# would not compare). 2: labels of undrawn attributes ignored, fresh renders besides the folder's own.
# 3: the same, with fresh renders whose whole bill is in the picture (textgen.birds.render.FRAME_MARGIN).
JUDGE_RECIPE = 3


@dataclass
class ClassifierReport:
    steps: int
    train_images: int                                             # the folder's renders it trained on
    val_images: int
    accuracy: dict[str, float] = field(default_factory=dict)      # held-out accuracy per attribute (where drawn)
    mean_accuracy: float = float("nan")
    extra_renders: int = 0                                        # fresh renders it also trained on
    recipe: int = JUDGE_RECIPE

    def summary(self) -> str:
        worst = min(self.accuracy, key=self.accuracy.get) if self.accuracy else "-"
        return (f"attribute classifier: mean held-out accuracy {self.mean_accuracy:.1%} over {len(self.accuracy)} "
                f"attributes on {self.val_images:,} renders (lowest: {worst} {self.accuracy.get(worst, float('nan')):.1%})")


def _to_float(images_u8: Tensor, size: int) -> Tensor:
    x = images_u8.float() / 127.5 - 1.0                                              # (B, 3, L, L) in [-1, 1]
    if x.size(-1) != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x


def train_attribute_classifier(data, *, image_size: int, steps: int = 3000, batch_size: int = 64, lr: float = 2e-3,
                               channels: int = 32, val_fraction: float = 0.1, seed: int = 0,
                               device: str | torch.device = "cpu", show_progress: bool = True,
                               label_space: str = "attributes", extra_renders: int = 0):
    """Train on real renders (``data``: an ImageCaptionData with ``attributes``, or ``scene`` for
    ``label_space="scene"``); ``(classifier, report)``.

    The held-out renders are always the folder's own. ``extra_renders`` fresh birds (:func:`render_birds`,
    a seed stream the folder does not use) join the training set: on the folder's 18,000 training renders
    alone the judge learns the small parts by heart (bill shape 93% on its training renders, 71% held out).
    """

    rows = data.attributes if label_space == "attributes" else data.scene
    if not rows or any(a is None for a in rows):
        raise ValueError(f"the {label_space} classifier needs rendered birds with their {label_space} in "
                         "metadata.jsonl (a folder written by `textgen make-birds`)")
    device = torch.device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    val_idx, train_idx = held_out_split(len(data), rng, val_fraction)
    n_val, n_folder_train = len(val_idx), len(train_idx)
    clf = AttributeClassifier(AttributeClassifierConfig(image_size=image_size, channels=channels,
                                                        label_space=label_space)).to(device)
    labels = judge_labels(rows, clf.classes)                                         # {head: (N,)}, IGNORE if undrawn
    images = torch.from_numpy(data.images)                                           # (N, 3, L, L) uint8
    if extra_renders > 0:
        native = max(32, images.size(-1))               # the renderer draws 32-256 px; _to_float resizes to image_size
        more, attrs, scenes = render_birds(extra_renders, native, seed=_EXTRA_SEED + seed, show_progress=show_progress,
                                           workers=0)                                # every core
        more_labels = judge_labels(attrs if label_space == "attributes" else scenes, clf.classes)
        more = torch.from_numpy(more)
        if native != images.size(-1):                                               # a 16 px folder
            more = torch.cat([((_to_float(c, images.size(-1)) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
                              for c in more.split(4096)])
        train_idx = np.concatenate([train_idx, len(data) + np.arange(extra_renders)])
        images = torch.cat([images, more])
        labels = {k: torch.cat([labels[k], more_labels[k]]) for k in labels}
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1))
    clf.train()
    bar = progress(range(steps), enabled=show_progress, desc="attribute classifier")
    for step in bar:
        idx = torch.from_numpy(rng.choice(train_idx, min(batch_size, len(train_idx)), replace=False))
        logits = clf(_to_float(images[idx], image_size).to(device))
        loss = sum(_cross_entropy(logits[k], labels[k][idx].to(device)) for k in clf.classes) / len(clf.classes)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        value = check_finite(loss.item(), "the attribute classifier's loss", step + 1, "Lower its learning rate (lr)")
        bar.set_postfix(loss=f"{value:.3f}")
    vi = torch.from_numpy(val_idx)
    pred = clf.predict(_to_float(images[vi], image_size))
    acc = {}
    for k in clf.classes:
        drawn = labels[k][vi] != IGNORE
        acc[k] = float((pred[k][drawn] == labels[k][vi][drawn]).float().mean()) if drawn.any() else float("nan")
    report = ClassifierReport(steps=steps, train_images=n_folder_train, val_images=n_val,
                              accuracy=acc, mean_accuracy=float(np.nanmean(list(acc.values()))),
                              extra_renders=max(extra_renders, 0))
    return clf, report


def held_out_split(n: int, rng: np.random.Generator, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``(held-out, training)`` indices of a folder of ``n`` renders, as the judge splits it (its first draw
    from ``np.random.default_rng(seed)``), so a per-head breakdown can find the same held-out renders."""
    order = rng.permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    return order[:n_val], order[n_val:]


def _cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy over the labelled rows (``IGNORE`` skipped); 0, not nan, when none is labelled."""
    return F.cross_entropy(logits, y, ignore_index=IGNORE, reduction="sum") / (y != IGNORE).sum().clamp(min=1)


_EXTRA_SEED = 1_000_003          # the fresh renders' seed stream: make_birds_dataset's default seeds are small


# ----------------------------------------------------------------------------- caption faithfulness

@dataclass
class FaithfulnessReport:
    captions: int
    images: int
    stated: int                                                   # attribute statements checked
    accuracy: float                                               # found / stated, over every statement
    per_attribute: dict[str, float] = field(default_factory=dict)
    chance: float = float("nan")                                  # what a caption-blind generator would expect
    counts: dict[str, int] = field(default_factory=dict)          # statements checked per attribute

    def subset(self, keys) -> dict:
        """Accuracy, statements and uniform chance over the statements about ``keys`` only."""
        keys = [k for k in keys if self.counts.get(k)]
        n = sum(self.counts[k] for k in keys)
        if not n:
            return {"attributes": keys, "stated": 0, "accuracy": float("nan"), "chance": float("nan")}
        return {"attributes": keys, "stated": n,
                "accuracy": sum(self.per_attribute[k] * self.counts[k] for k in keys) / n,
                "chance": sum(self.counts[k] / len(ATTRIBUTES[k]) for k in keys) / n}

    def summary(self) -> str:
        return (f"attribute accuracy {self.accuracy:.1%} of {self.stated:,} stated attributes over {self.images:,} "
                f"images for {self.captions:,} captions (chance {self.chance:.1%})")


def attribute_accuracy(generate, captions: Sequence[tuple[str, dict[str, str]]], classifier: AttributeClassifier,
                       images_per_caption: int = 1, batch_size: int = 64,
                       generator: Optional[torch.Generator] = None) -> FaithfulnessReport:
    """Fraction of caption-stated attributes that ``classifier`` finds in the images generated for them.

    ``generate(captions, n, generator) -> (len(captions) * n, 3, S, S)`` tensor in [-1, 1] (caption by
    caption); ``captions`` pairs each caption with what it states (``parse_caption`` or the grammar's own).
    """
    found: dict[str, list[float]] = {}
    chance: list[float] = []
    n_images = 0
    for i in range(0, len(captions), batch_size):
        chunk = captions[i:i + batch_size]
        images = generate([c for c, _ in chunk], images_per_caption, generator)
        pred = classifier.predict(images)
        n_images += images.size(0)
        for j, (_, stated) in enumerate(chunk):
            for k, v in stated.items():
                if k not in ATTRIBUTES or v not in ATTRIBUTES[k]:
                    continue
                want = ATTRIBUTES[k].index(v)
                rows = pred[k][j * images_per_caption:(j + 1) * images_per_caption]
                found.setdefault(k, []).extend((rows == want).float().tolist())
                chance.extend([1.0 / len(ATTRIBUTES[k])] * len(rows))
    everything = [x for v in found.values() for x in v]
    if not everything:
        raise ValueError("none of the captions states an attribute the classifier knows; "
                         "pair each caption with its stated attributes (textgen.birds.captions.parse_caption)")
    return FaithfulnessReport(captions=len(captions), images=n_images, stated=len(everything),
                              accuracy=float(np.mean(everything)),
                              per_attribute={k: float(np.mean(v)) for k, v in sorted(found.items())},
                              chance=float(np.mean(chance)), counts={k: len(v) for k, v in sorted(found.items())})


# ----------------------------------------------------------------------------- the cached judges

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
