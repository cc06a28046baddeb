"""The checkerboard and colour fringes of the GAN's 32 px samples: where they come from, and whether a model has them.

    python docs/experiments/gan_artifacts.py gradients                 # the cause, on untrained networks
    python docs/experiments/gan_artifacts.py images MODEL [MODEL ...]  # the symptom, on trained generators
    python docs/experiments/gan_artifacts.py enlarge OUT.png MODEL [MODEL ...]   # 8x crops, real render last

``gradients``: the share of an input gradient's energy at the three Nyquist bins of the 2-D spectrum, relative
to white noise (1.0). G is trained along D's (and the DAMSM image encoder's) input gradients, so a network whose
gradient piles up there pushes G towards checkerboards.

``images``: on one image per caption of 200 grammar captions (seed 0), against real renders of the same
captions: the high-pass energy (image minus its 3x3 mean) of the chroma channels relative to luma (colour
fringes are chroma detail that real renders do not have) and the high-pass energy of the top five rows (the
background above the bird; a grid texture shows there).
"""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F


def nyquist_share(g: torch.Tensor) -> float:
    f = torch.fft.fft2(g - g.mean((2, 3), keepdim=True)).abs().pow(2)
    n = g.size(-1) // 2
    return float((f[..., n, n] + f[..., 0, n] + f[..., n, 0]).sum() / f.sum()) * g.size(-1) ** 2 / 3


def gradients() -> None:
    from textgen.gan.modeling import Discriminator, GANConfig
    from textgen.gan.text_encoders import ImageEncoder, ImageEncoderConfig

    torch.manual_seed(0)
    x, e = torch.rand(64, 3, 32, 32) * 2 - 1, torch.randn(64, 256)

    def grad(fn):
        xx = x.clone().requires_grad_(True)
        fn(xx).sum().backward()
        return xx.grad

    print("| network (untrained, 32 px) | Nyquist share of d out / d image (white noise = 1) |\n|---|---|")
    for down in ("strided", "blur"):
        torch.manual_seed(0)
        D = Discriminator(GANConfig(image_size=32, g_channels=16, d_channels=16, downsample=down))
        for b in D.blocks:
            b.gamma.data.fill_(1.0)                                   # the residual path open, as after training
        print(f"| D, {down} down-sampling | {nyquist_share(grad(lambda xx: D(xx, e))):.3f} |")
        torch.manual_seed(0)
        enc = ImageEncoder(ImageEncoderConfig(image_size=32, pool="flatten", depth=2, downsample=down)).eval()
        w = torch.randn(256)
        print(f"| DAMSM image encoder, {down} | {nyquist_share(grad(lambda xx: enc(xx) @ w)):.3f} |")
    print(f"| white noise | {nyquist_share(torch.randn(64, 3, 32, 32)):.3f} |")


def _images(model: str, n: int = 200):
    from textgen.gan.eval.evaluate import grammar_captions, render_for_caption
    from textgen.gan.pipeline import TextToImagePipeline

    caps = grammar_captions(n)
    pipe = TextToImagePipeline.from_pretrained(model)
    fake = pipe([c for c, _ in caps], num_images_per_prompt=1, generator=torch.Generator().manual_seed(0)).tensors
    real = torch.cat([render_for_caption(s, 1, pipe.image_size, seed=i) for i, (_, s) in enumerate(caps)])
    return fake.float(), real.float()


def _high_pass(x: torch.Tensor) -> torch.Tensor:
    return x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, 1)


def artifact_stats(x: torch.Tensor) -> dict[str, float]:
    hp = _high_pass(x)
    luma = hp.mean(1, keepdim=True)
    return {"chroma / luma detail": float((hp - luma).pow(2).mean() / luma.pow(2).mean()),
            "background detail x1000": float(hp[:, :, :5].pow(2).mean()) * 1000}


def images(models: list[str]) -> None:
    print("| images (200 grammar captions) | chroma / luma detail | background detail x1000 |\n|---|---|---|")
    real = None
    for m in models:
        fake, real = _images(m)
        s = artifact_stats(fake)
        print(f"| {m} | {s['chroma / luma detail']:.3f} | {s['background detail x1000']:.3f} |")
    s = artifact_stats(real)
    print(f"| real renders | {s['chroma / luma detail']:.3f} | {s['background detail x1000']:.3f} |")


def enlarge(out: str, models: list[str], captions=("a white bird with a red crown", "a black bird with yellow wings")) -> None:
    import numpy as np
    from PIL import Image

    from textgen.birds.captions import parse_caption
    from textgen.gan.eval.evaluate import render_for_caption
    from textgen.gan.pipeline import TextToImagePipeline

    rows = []
    for m in models:
        pipe = TextToImagePipeline.from_pretrained(m)
        rows.append(pipe(list(captions), num_images_per_prompt=2, generator=torch.Generator().manual_seed(0)).tensors)
    rows.append(torch.cat([render_for_caption(parse_caption(c), 2, 32, seed=0) for c in captions]))
    grid = torch.cat([torch.cat(list(r.float()), dim=2) for r in rows], dim=1)        # (3, rows*32, 4*32)
    arr = ((grid.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr).resize((arr.shape[1] * 8, arr.shape[0] * 8), Image.NEAREST).save(out)
    print(f"wrote {out}: rows {', '.join(models)}, real renders; columns 2 images each of {', '.join(captions)}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "gradients"
    if what == "gradients":
        gradients()
    elif what == "images":
        images(sys.argv[2:] or ["birds-gan"])
    elif what == "enlarge":
        enlarge(sys.argv[2], sys.argv[3:] or ["birds-gan"])
    else:
        raise SystemExit(__doc__)
