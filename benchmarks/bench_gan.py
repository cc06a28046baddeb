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
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.core.config import load_config  # noqa: E402
from textgen.gan.configuration import GANRunConfig  # noqa: E402
from textgen.gan.trainer import gan_step
from textgen.gan.modeling import Discriminator, Generator, PosteriorEncoder  # noqa: E402
from textgen.core.runtime import machine_info, make_grad_scaler, resolve_device, resolve_precision  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _setup(path: Path, device, precision: str):
    """The config's G, D (and DAMSM image encoder, posterior encoder) with optimizers, and one random batch."""
    cfg = load_config(GANRunConfig, path)
    mc, B = cfg.model, cfg.data.batch_size
    mc.text_dim = cfg.text_encoder.dim
    dtype = resolve_precision(precision, device)
    torch.manual_seed(0)
    G, D = Generator(mc).to(device), Discriminator(mc).to(device)
    G_ema = Generator(mc).to(device)
    image_encoder = None
    if cfg.train.damsm > 0:                                   # the frozen image half of the caption encoder
        from textgen.gan.text_encoders import ImageEncoder, ImageEncoderConfig

        image_encoder = ImageEncoder(ImageEncoderConfig(dim=mc.text_dim, image_size=mc.image_size)).to(device)
        image_encoder.eval().requires_grad_(False)
    m = SimpleNamespace(G=G, G_ema=G_ema, D=D, image_encoder=image_encoder,
                        opt_g=torch.optim.Adam(G.parameters(), lr=cfg.optim.g_lr, betas=cfg.optim.betas),
                        opt_d=torch.optim.Adam(D.parameters(), lr=cfg.optim.d_lr, betas=cfg.optim.betas),
                        scaler_g=make_grad_scaler(dtype, device), scaler_d=make_grad_scaler(dtype, device))
    if cfg.train.recon > 0:                                   # cVAE-GAN: the posterior encoder and its optimizer
        m.E = PosteriorEncoder(mc).to(device)
        m.opt_e = torch.optim.Adam(m.E.parameters(), lr=cfg.optim.g_lr, betas=cfg.optim.betas)
    S = mc.image_size
    real = torch.rand(B, 3, S, S, device=device) * 2 - 1
    e1, e2 = torch.randn(B, mc.text_dim, device=device), torch.randn(B, mc.text_dim, device=device)
    return cfg, m, (real, e1, e2), dtype


def bench(path: Path, device, precision: str, steps: int, repeats: int) -> dict:
    cfg, m, (real, e1, e2), dtype = _setup(path, device, precision)
    mc, B, S, G, D, G_ema = cfg.model, cfg.data.batch_size, cfg.model.image_size, m.G, m.D, m.G_ema
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    gan_step(m, real, e1, e2, mc, cfg.train, device, dtype)                       # warm-up
    rates = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            gan_step(m, real, e1, e2, mc, cfg.train, device, dtype)
        _sync(device)
        rates.append(steps * B / (time.perf_counter() - t0))
    G_ema.eval()
    lat = []
    with torch.no_grad():
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            G_ema(torch.randn(64, mc.noise_dim, device=device), torch.randn(64, mc.text_dim, device=device))
            _sync(device)
            lat.append(time.perf_counter() - t0)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"name": path.stem, "size": S, "batch": B, "precision": precision, "img_s": statistics.median(rates),
            "gen64_s": statistics.median(lat), "peak_mb": peak,
            "g_params_m": sum(p.numel() for p in G.parameters()) / 1e6,
            "d_params_m": sum(p.numel() for p in D.parameters()) / 1e6}


def profile(path: Path, device, precision: str, steps: int, top: int = 12) -> None:
    """Self time per operator over ``steps`` training steps, and the share spent in convolutions."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    cfg, m, (real, e1, e2), dtype = _setup(path, device, precision)
    gan_step(m, real, e1, e2, cfg.model, cfg.train, device, dtype)                 # warm-up
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=acts) as prof:
        for _ in range(steps):
            gan_step(m, real, e1, e2, cfg.model, cfg.train, device, dtype)
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
