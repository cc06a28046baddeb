"""Text-to-image GAN speed: training images/s and peak memory per shipped config, and generation latency.

    python benchmarks/bench_gan.py                        # CPU, fp32, every configs/gan/*.yaml
    python benchmarks/bench_gan.py --device cuda --precision fp32 bf16
    python benchmarks/bench_gan.py --profile --configs configs/gan/birds32_cpu.yaml   # time per operator

A training step is exactly what `train-gan` runs (`textgen.gan.trainer.gan_step`: one D update with
real/right, real/wrong and fake/right, MA-GP for dfgan, one G update with the DAMSM loss and the cVAE-GAN
terms where the config has them, the EMA), on random images and
caption embeddings of the config's sizes (data loading is not timed). Each figure is the median over
repeats; generation is 64 images from the EMA generator.
"""
from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.core.config import load_config  # noqa: E402
from textgen.gan.configuration import GANRunConfig  # noqa: E402
from textgen.gan.trainer import GANOptimizers, gan_step  # noqa: E402
from textgen.gan.modeling import TextToImageGAN  # noqa: E402
from textgen.core.runtime import machine_info, resolve_device, resolve_precision  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _setup(path: Path, device, precision: str):
    """The config's model built for training (G, EMA-G, D, and E for cVAE-GAN) with its optimizers, the DAMSM
    image encoder when the config uses it, and one random batch."""
    cfg = load_config(GANRunConfig, path)
    mc, B = cfg.model, cfg.data.batch_size
    mc.text_dim = cfg.text_encoder.dim
    dtype = resolve_precision(precision, device)
    torch.manual_seed(0)
    model = TextToImageGAN(mc, discriminator=True, posterior_encoder=cfg.train.recon > 0).to(device)
    image_encoder = None
    if cfg.train.damsm > 0:                                   # the frozen image half of the caption encoder
        from textgen.gan.text_encoders import ImageEncoder, ImageEncoderConfig

        image_encoder = ImageEncoder(ImageEncoderConfig(dim=mc.text_dim, image_size=mc.image_size)).to(device)
        image_encoder.eval().requires_grad_(False)
    opt = GANOptimizers.create(model, cfg.optim, dtype, device)
    S = mc.image_size
    real = torch.rand(B, 3, S, S, device=device) * 2 - 1
    e1, e2 = torch.randn(B, mc.text_dim, device=device), torch.randn(B, mc.text_dim, device=device)
    step = lambda: gan_step(model, opt, real, e1, e2, cfg.train, dtype, image_encoder=image_encoder)  # noqa: E731
    return cfg, model, step


def bench(path: Path, device, precision: str, steps: int, repeats: int) -> dict:
    cfg, model, step = _setup(path, device, precision)
    mc, B, S = cfg.model, cfg.data.batch_size, cfg.model.image_size
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    step()                                                                        # warm-up
    rates = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        rates.append(steps * B / (time.perf_counter() - t0))
    lat = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        model.generate(torch.randn(64, mc.noise_dim, device=device), torch.randn(64, mc.text_dim, device=device))
        _sync(device)
        lat.append(time.perf_counter() - t0)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"name": path.stem, "size": S, "batch": B, "precision": precision, "img_s": statistics.median(rates),
            "gen64_s": statistics.median(lat), "peak_mb": peak,
            "g_params_m": sum(p.numel() for p in model.generator.parameters()) / 1e6,
            "d_params_m": sum(p.numel() for p in model.discriminator.parameters()) / 1e6}


def profile(path: Path, device, precision: str, steps: int, top: int = 12) -> None:
    """Self time per operator over ``steps`` training steps, and the share spent in convolutions."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    cfg, model, step = _setup(path, device, precision)
    step()                                                                        # warm-up
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=acts) as prof:
        for _ in range(steps):
            step()
        _sync(device)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    ops = sorted(prof.key_averages(), key=lambda e: getattr(e, key), reverse=True)
    total = sum(getattr(e, key) for e in ops)
    conv = sum(getattr(e, key) for e in ops if "conv" in e.key)
    info = machine_info()
    print(f"# bench_gan --profile  {dt.date.today()}  {path.stem}  device={device}  cpu={info['cpu']}  "
          f"threads={info['torch_threads']}  {steps} steps  precision={precision}")
    print(f"convolution ops (forward and backward): {conv / total:.1%} of operator self time")
    print("| operator | self time (ms per step) | share |")
    print("|---|---|---|")
    for e in ops[:top]:
        t = getattr(e, key)
        print(f"| {e.key} | {t / 1000 / steps:.1f} | {t / total:.1%} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", nargs="+", default=["fp32"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--profile", action="store_true",
                    help="instead of the table: where the first config's training step spends its time (torch.profiler)")
    ap.add_argument("--configs", nargs="*", default=sorted(str(p) for p in (ROOT / "configs" / "gan").glob("*.yaml")))
    args = ap.parse_args()
    device = resolve_device(args.device)
    if args.profile:
        profile(Path(args.configs[0]), device, args.precision[0], args.steps)
        return
    rows = [bench(Path(c), device, p, args.steps, args.repeats) for c in args.configs for p in args.precision]
    info = machine_info()
    print(f"# bench_gan  {dt.date.today()}  device={device}  cpu={info['cpu']}  cores={info['cores']}  "
          f"torch={info['torch']}  threads={info['torch_threads']}  gpu={info['gpu']}  "
          f"median of {args.repeats} x {args.steps} steps")
    print("| config | px | batch | precision | train images/s | 64 images generated (s) | peak mem (MB) | G / D params (M) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['size']} | {r['batch']} | {r['precision']} | {r['img_s']:.1f} | {r['gen64_s']:.3f} | "
              f"{r['peak_mb']:.0f} | {r['g_params_m']:.2f} / {r['d_params_m']:.2f} |")


if __name__ == "__main__":
    main()
