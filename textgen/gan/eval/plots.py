"""Pictures for ``textgen eval-gan --plots``: real versus generated images for the same captions.

Each row is one caption of a real image: the real image first, then ``per_caption`` generated images for
that caption (fixed seed), the caption written under the row. Images are upscaled to at least 64 px so that
32 px birds stay readable.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from textgen.gan.eval.fid import real_split
from textgen.core.pictures import captioned_grid

__all__ = ["real_vs_generated_grid"]


def real_vs_generated_grid(pipe, data, out: str | Path, *, rows: int = 8, per_caption: int = 5, seed: int = 0,
                           min_size: int = 64) -> Path:
    """``pipe``: a TextToImagePipeline; ``data``: the ImageCaptionData (at the pipeline's resolution) it is judged on."""
    _, b_idx = real_split(len(data), min(rows, len(data) // 2), seed)
    captions = data.one_caption_each(b_idx, np.random.default_rng(seed))
    fake = pipe(captions, num_images_per_prompt=per_caption, generator=torch.Generator().manual_seed(seed)).tensors
    real = data.float_images(b_idx)                                                    # (R, 3, S, S)
    fake = fake.view(len(captions), per_caption, *fake.shape[1:])
    both = torch.cat([real[:, None], fake], dim=1).flatten(0, 1)                       # (R*(1+k), 3, S, S)
    if both.size(-1) < min_size:
        both = F.interpolate(both, size=(min_size, min_size), mode="nearest")
    labels = [f"real | generated: {c}" for c in captions]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    captioned_grid(both, labels, per_row=1 + per_caption).save(out)
    return out


def training_curves(rows: list[dict], out: str | Path, title: str = "") -> Path:
    """Attribute accuracy (and FID and the background shares, when measured) against the training step, from
    ``evaluate_checkpoints``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in rows]
    has_fid = all("fid" in r for r in rows)
    has_bg = all("background" in r for r in rows)
    panels = 1 + has_fid + has_bg
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    if has_bg:
        ax = axes[0][panels - 1]
        for k, (name, real) in enumerate(rows[0]["background_real"].items()):
            colour = f"C{k}"
            ax.plot(steps, [100 * r["background"][name] for r in rows], marker="o", color=colour, label=name)
            ax.axhline(100 * real, ls="--", color=colour, lw=0.8)
        ax.set(xlabel="training step", ylabel="share of images (%)", title="backgrounds (dashed: real renders)")
        ax.legend()
    ax = axes[0][0]
    ax.plot(steps, [100 * r["attribute_accuracy"] for r in rows], marker="o", label="generated")
    ax.plot(steps, [100 * r["chance"] for r in rows], ls="--", color="gray", label="chance")
    ax.set(xlabel="training step", ylabel="stated attributes found (%)", title="attribute accuracy (grammar captions)")
    ax.legend()
    if has_fid:
        ax = axes[0][1]
        ax.plot(steps, [r["fid"] for r in rows], marker="o", label="generated")
        ax.plot(steps, [r["fid_floor"] for r in rows], ls="--", color="gray", label="real vs real (floor)")
        ax.set(xlabel="training step", ylabel="FID", title=f"FID ({rows[0]['fid_images']:,} images)")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
