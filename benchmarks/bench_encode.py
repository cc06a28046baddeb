"""Encoding throughput of SentenceEncoder: sentences/s on PTB test, 100k and 300k sentences, with peak memory.

    python benchmarks/bench_encode.py                          # shipped ptb-lstm-vae, CPU
    python benchmarks/bench_encode.py --model DIR --device cuda --batch-size 1024

Each row runs in a fresh process: it loads the model and the sentences, records the resident memory, then
encodes everything (``SentenceEncoder.encode``: text normalisation, tokenization, length-sorted batches,
the encoder forward) and reports the median time of ``--repeats`` passes and the peak resident memory
above the level after a warm-up pass over 20k sentences (so the allocator has seen every batch shape).
100k/300k sentences are PTB train + valid + test, repeated. "Flat memory" means the peak above start
minus the (N, dim) output itself (12.2 MB for 100k x 32 floats) stays the same as N grows.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(model: str, device: str, n: int, batch_size: int, repeats: int) -> dict:
    import warnings

    import torch

    from textgen.data import corpus_texts
    from textgen.vae.sentence_encoder import SentenceEncoder

    enc = SentenceEncoder.from_pretrained(model, device=device)
    if n == 0:
        texts = corpus_texts("ptb:test")
    else:
        pool = corpus_texts("ptb:train") + corpus_texts("ptb:valid") + corpus_texts("ptb:test")
        texts = (pool * (n // len(pool) + 1))[:n]
    with warnings.catch_warnings():                                                  # warm-up: every batch shape
        warnings.simplefilter("ignore")                                              # the allocator will see
        enc.encode(texts[:20000], batch_size=batch_size, progress_bar=False)
    base = _rss_mb()
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = None
        for _ in range(repeats):
            X = None                                                                 # one output alive at a time
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            X = enc.encode(texts, batch_size=batch_size, progress_bar=False)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = statistics.median(times)
    return {"n": len(texts), "seconds": med, "sent_s": len(texts) / med, "tokens": sum(len(t.split()) + 1 for t in texts),
            "rss_before_mb": base, "peak_above_mb": peak - base, "output_mb": X.nbytes / 2**20, "shape": list(X.shape)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ptb-lstm-vae")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.model, args.device, args.worker, args.batch_size, args.repeats)))
        return

    from textgen.core.runtime import machine_info

    info = machine_info()
    print(f"# bench_encode  {dt.date.today()}  device={args.device}  cpu={info['cpu']}  cores={info['cores']}  "
          f"torch={info['torch']}  threads={info['torch_threads']}  gpu={info['gpu']}  model={args.model}  "
          f"batch={args.batch_size}  median of {args.repeats}")
    print("| input | sentences | sentences/s | tokens/s | seconds | peak RSS above start (MB) | of which the output (MB) |")
    print("|---|---|---|---|---|---|---|")
    for label, n in (("PTB test", 0), ("100k sentences", 100_000), ("300k sentences", 300_000)):
        cmd = [sys.executable, __file__, "--worker", str(n), "--model", args.model, "--device", args.device,
               "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)]
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        row = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"| {label} | {row['n']:,} | {row['sent_s']:,.0f} | {row['tokens'] / row['seconds']:,.0f} | "
              f"{row['seconds']:.2f} | {row['peak_above_mb']:.0f} | {row['output_mb']:.1f} |")


if __name__ == "__main__":
    main()
