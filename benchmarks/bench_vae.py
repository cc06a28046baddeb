"""Training throughput of the sentence VAE: sentences/s, target tokens/s, peak memory.

    python benchmarks/bench_vae.py                 # reference config + shipped configs, fp32 on this machine
    python benchmarks/bench_vae.py --quick         # fewer steps (a smoke run)
    python benchmarks/bench_vae.py --device cuda --precision fp32 bf16 fp16
    cd .. && python main/benchmarks/bench_vae.py --configs main/configs/vae/en_lstm_li.yaml   # on its own corpus

A config whose tokenizer exists (``tokenizer.path``, or the folder ``train.init_from`` warm-starts from) runs on
the first 20,000 sentences of its own training corpus with that tokenizer (the general-English configs: byte-level
BPE); the others run on PTB train with its word vocabulary.

The reference config (from the sentence-VAE issue): 1-layer GRU encoder and decoder, embedding 300,
hidden 256, latent 16, batch 32, the word vocabulary of PTB train (min count 1), Adam, fp32.
It costs about 20 MFLOP per target token for forward + backward; the script prints the analytic count
beside the measured fp32 GEMM peak, and each figure is the median of repeated runs over real,
length-bucketed PTB batches (a full training step: forward, backward, clipping, optimizer step).
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.core.config import DataConfig, load_config  # noqa: E402
from textgen.vae.modeling import SentenceVAE  # noqa: E402
from textgen.vae.configuration import SentenceVAEConfig
from textgen.core.runtime import autocast, machine_info, make_grad_scaler, resolve_device, resolve_precision  # noqa: E402
from textgen.tokenization import Tokenizer  # noqa: E402
from textgen.vae.objective import vae_loss  # noqa: E402
from textgen.vae.configuration import VAERunConfig  # noqa: E402
from textgen.data.splits import split_loader, tokenize_split

REFERENCE = dict(encoder="gru", decoder="gru", embed_size=300, hidden_size=256, latent_size=16,
                 z_init_state=True, z_concat_input=False, encoder_layers=1, decoder_layers=1)


def gemm_peak_gflops(device: torch.device, n: int = 1024, reps: int = 20) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def rnn_flops_per_token(cfg: SentenceVAEConfig) -> float:
    """Analytic forward+backward FLOPs per target token (matmuls only; backward = 2x forward)."""
    gates = {"gru": 3, "lstm": 4}
    E, H, Z, V = cfg.embed_size, cfg.hidden_size, cfg.latent_size, cfg.vocab_size
    fwd = 0.0
    if cfg.mode != "lm":
        dirs = 2 if cfg.bidirectional else 1
        fwd += dirs * 2 * gates[cfg.encoder] * (E * H + H * H)           # encoder recurrence
        for layer in range(1, cfg.encoder_layers):
            fwd += dirs * 2 * gates[cfg.encoder] * (dirs * H * H + H * H)
    d_in = E + (Z if cfg.z_concat_input and cfg.mode != "lm" else 0)
    fwd += 2 * gates[cfg.decoder] * (d_in * H + H * H)                     # decoder recurrence
    for layer in range(1, cfg.decoder_layers):
        fwd += 2 * gates[cfg.decoder] * (2 * H * H)
    if cfg.tie_embeddings:                                                 # H -> E bottleneck, E -> V
        fwd += (2 * H * E if H != E else 0) + 2 * E * V
    else:
        fwd += 2 * H * V                                                   # output projection
    return 3 * fwd


def transformer_flops_per_token(cfg: SentenceVAEConfig, attended_len: float) -> float:
    """Analytic forward+backward FLOPs per target token of a Transformer VAE (matmuls only; backward = 2x forward).

    Per token and block: Q, K, V and output projections 8 D^2, the MLP 4 D F, attention scores and the
    weighted sum 4 L D over the L positions it attends to (half of them under a causal mask), where L is
    the sentence length weighted by tokens (sum L^2 / sum L: a token of a long sentence attends to more),
    cross-attention to z's memory slots 4 D^2 (Q and output projections; the slots' K, V are per sentence).
    """
    D, F, E, V = cfg.hidden_size, cfg.ff_size, cfg.embed_size, cfg.vocab_size
    block = 8 * D * D + 4 * D * F
    fwd = 0.0
    if cfg.mode != "lm" and cfg.encoder == "transformer":
        fwd += cfg.encoder_layers * (block + 4 * attended_len * D) + (2 * E * D if E != D else 0)
    cross = 4 * D * D if cfg.mode != "lm" and cfg.z_mode in ("memory", "both") else 0
    fwd += cfg.decoder_layers * (block + 2 * attended_len * D + cross) + (2 * E * D if E != D else 0)
    head_in = E if cfg.tie_embeddings else D
    fwd += 2 * head_in * V + (2 * D * E if cfg.tie_embeddings and D != E else 0)   # (bottleneck +) output projection
    return 3 * fwd


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_config(name: str, model_cfg: SentenceVAEConfig, split, tok, batch_size: int, device, precision: str,
                 steps: int, repeats: int, lr: float = 1e-3) -> dict:
    torch.manual_seed(0)
    model = SentenceVAE(model_cfg).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    dtype = resolve_precision(precision, device)
    scaler = make_grad_scaler(dtype, device)
    batches = [(b["input_ids"], b["lengths"]) for b in split_loader(split, batch_size, pad_id=tok.pad_id, shuffle=True)]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def run(bs) -> tuple[float, int, int]:
        _sync(device)
        t0 = time.perf_counter()
        n_sent = n_tok = 0
        for ids, lengths in bs:
            ids = ids.to(device, non_blocking=True)
            with autocast(device, dtype):
                out = model(ids, lengths)
            loss = vae_loss(out, beta=1.0).loss
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
            n_sent += ids.size(0)
            n_tok += int(lengths.sum())
        _sync(device)
        return time.perf_counter() - t0, n_sent, n_tok

    run(batches[:3])  # warm-up
    rates, tok_rates = [], []
    for r in range(repeats):
        start = 3 + r * steps
        chunk = [batches[(start + i) % len(batches)] for i in range(steps)]
        secs, n_sent, n_tok = run(chunk)
        rates.append(n_sent / secs)
        tok_rates.append(n_tok / secs)
    peak = (torch.cuda.max_memory_allocated() / 2**20) if device.type == "cuda" else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if model_cfg.decoder == "transformer":
        lengths = split.lengths.astype(np.float64)
        flops = transformer_flops_per_token(model_cfg, float((lengths ** 2).sum() / lengths.sum()))
    else:
        flops = rnn_flops_per_token(model_cfg)
    tps = statistics.median(tok_rates)
    return {"name": name, "precision": precision, "sent_s": statistics.median(rates), "tok_s": tps,
            "mflop_tok": flops / 1e6, "gflops": flops * tps / 1e9, "peak_mb": peak,
            "params_m": model.num_parameters() / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", nargs="+", default=["fp32"])
    ap.add_argument("--steps", type=int, default=40, help="training steps per timed repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="10 steps x 3 repeats, reference config only")
    ap.add_argument("--configs", nargs="*", default=["configs/vae/ptb_lstm.yaml", "configs/vae/ptb_transformer.yaml",
                                                       "configs/vae/ptb_lm.yaml"])
    args = ap.parse_args()
    if args.quick:
        args.steps, args.repeats, args.configs = 10, 3, []
    device = resolve_device(args.device)

    t0 = time.perf_counter()
    from textgen.data import corpus_texts

    tok = Tokenizer.train(corpus_texts("ptb:train"), kind="word", min_freq=1)
    split = tokenize_split("ptb:train", tok, DataConfig(), max_length=None)
    prep = time.perf_counter() - t0

    results, corpora = [], {"PTB train": (len(split.ids), tok.vocab_size)}
    ref = SentenceVAEConfig(vocab_size=tok.vocab_size, **REFERENCE)
    for p in args.precision:
        results.append(bench_config("reference (GRU 300/256/16)", ref, split, tok, 32, device, p, args.steps, args.repeats))
    for path in args.configs:
        run_cfg = load_config(VAERunConfig, path if Path(path).is_file() else ROOT / path)
        cfg_tok, cfg_split = tok, split
        tok_dir = run_cfg.tokenizer.path or run_cfg.train.init_from
        if tok_dir and Path(tok_dir).is_dir() and Path(run_cfg.data.train).is_file():
            cfg_tok = Tokenizer.load(tok_dir)
            spec = f"{run_cfg.data.train}[:20000]"
            cfg_split = tokenize_split(spec, cfg_tok, DataConfig(), max_length=run_cfg.tokenizer.max_length)
            corpora[spec] = (len(cfg_split.ids), cfg_tok.vocab_size)
        mc = run_cfg.model
        mc.vocab_size = cfg_tok.vocab_size
        for p in args.precision:
            results.append(bench_config(Path(path).stem, mc, cfg_split, cfg_tok, run_cfg.data.batch_size, device, p,
                                        args.steps, args.repeats, lr=run_cfg.optim.lr))

    info = machine_info()
    peak = gemm_peak_gflops(device)
    print(f"# bench_vae  {dt.date.today()}  device={device}  cpu={info['cpu']}  cores={info['cores']}  "
          f"torch={info['torch']}  threads={info['torch_threads']}  gpu={info['gpu']}")
    print("# " + "; ".join(f"{name}: {n:,} sentences, vocab {v:,}" for name, (n, v) in corpora.items())
          + f"; PTB prepared in {prep:.1f} s; median of {args.repeats} x {args.steps} steps")
    print(f"# measured fp32 GEMM peak (1024^3 matmul): {peak:.1f} GFLOP/s")
    print()
    print(f"| config | precision | sentences/s | target tokens/s | MFLOP/token (analytic) | achieved GFLOP/s | % of GEMM peak | peak mem (MB) | params (M) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        pct = 100 * r["gflops"] / peak if math.isfinite(r["gflops"]) else float("nan")
        print(f"| {r['name']} | {r['precision']} | {r['sent_s']:.1f} | {r['tok_s']:.0f} | {r['mflop_tok']:.1f} | "
              f"{r['gflops']:.1f} | {pct:.0f}% | {r['peak_mb']:.0f} | {r['params_m']:.2f} |")


if __name__ == "__main__":
    main()
