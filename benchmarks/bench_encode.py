"""Encoding throughput of the shipped default: sentences/s and peak memory, through the Python API and the CLI.

    python benchmarks/bench_encode.py --data data/english/test.jsonl       # en-lstm-vae on held-out English
    python benchmarks/bench_encode.py --model ptb-lstm-vae --data ptb:test
    python benchmarks/bench_encode.py --model DIR --device cuda --batch-size 1024

Each row runs in a fresh process. ``SentenceEncoder.encode`` rows load the model and the sentences, record the
resident memory, then encode everything (text preparation, tokenization, length-sorted batches, the encoder
forward; ``errors="null"``) and report the median time of ``--repeats`` passes and the peak resident memory
above the level after a warm-up pass over 20k sentences (so the allocator has seen every batch shape).
``textgen encode --file`` rows write the sentences to a text file, then time one run of the command (model
loading included) streaming them into an ``.npy`` file, and report the whole process's peak resident memory:
flat memory means it stays the same as the file grows. Larger inputs repeat the ``--data`` sentences.
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

from textgen.core.logs import silenced  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _texts(data: str, n: int) -> list[str]:
    from textgen.data import corpus_texts

    pool = corpus_texts(data)
    return pool if n == 0 else (pool * (n // len(pool) + 1))[:n]


def worker(model: str, device: str, data: str, n: int, batch_size: int, repeats: int) -> dict:
    
    import torch

    from textgen.vae.sentence_encoder import SentenceEncoder

    enc = SentenceEncoder.from_pretrained(model, device=device)
    texts = _texts(data, n)
    with silenced():                                                                 # warm-up: every batch shape
        enc.encode(texts[:20000], batch_size=batch_size, progress_bar=False, errors="null")
    base = _rss_mb()
    times = []
    with silenced():
        X = None
        for _ in range(repeats):
            X = None                                                                 # one output alive at a time
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            X, _ = enc.encode(texts, batch_size=batch_size, progress_bar=False, errors="null")
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = statistics.median(times)
    return {"n": len(texts), "seconds": med, "sent_s": len(texts) / med, "peak_above_mb": peak - base,
            "output_mb": X.nbytes / 2**20}


def cli_worker(model: str, device: str, data: str, n: int, batch_size: int) -> dict:
    import os
    import tempfile

    folder = tempfile.mkdtemp(prefix="bench_encode_")
    src, out = os.path.join(folder, "lines.txt"), os.path.join(folder, "codes.npy")
    with open(src, "w", encoding="utf-8") as f:
        for text in _texts(data, n):
            f.write(text.replace("\n", " ") + "\n")
    cmd = [sys.executable, "-m", "textgen", "encode", "--file", src, "--out", out, "--model", model, "--device",
           device, "--batch-size", str(batch_size), "--on-error", "null", "--json"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TEXTGEN_PROGRESS": "0"})
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    report = json.loads(r.stdout.strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size = os.path.getsize(out) / 2**20
    for p in (src, out):
        os.unlink(p)
    os.rmdir(folder)
    return {"n": report["lines"], "seconds": seconds, "sent_s": report["lines"] / seconds, "peak_mb": peak,
            "output_mb": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="en-lstm-vae")
    ap.add_argument("--data", default="ptb:test", help="corpus spec of the sentences (default: ptb:test)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 100_000], help="0 = the --data sentences once")
    ap.add_argument("--cli-sizes", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cli-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(args.model, args.device, args.data, args.worker, args.batch_size, args.repeats)))
        return
    if args.cli_worker is not None:
        print(json.dumps(cli_worker(args.model, args.device, args.data, args.cli_worker, args.batch_size)))
        return

    from textgen.core.runtime import machine_info

    if Path(args.data).exists():                                    # the workers run from the repository root
        args.data = str(Path(args.data).resolve())
    info = machine_info()
    print(f"# bench_encode  {dt.date.today()}  device={args.device}  cpu={info['cpu']}  cores={info['cores']}  "
          f"torch={info['torch']}  threads={info['torch_threads']}  gpu={info['gpu']}  model={args.model}  "
          f"data={args.data}  batch={args.batch_size}")
    print("| path | sentences | sentences/s | seconds | peak RSS (MB) | of which the output (MB) |")
    print("|---|---|---|---|---|---|")
    common = ["--model", args.model, "--device", args.device, "--data", args.data, "--batch-size", str(args.batch_size)]
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--worker", str(n), *common, "--repeats", str(args.repeats)]
        row = _run(cmd)
        print(f"| SentenceEncoder.encode (median of {args.repeats}; peak above start) | {row['n']:,} | "
              f"{row['sent_s']:,.0f} | {row['seconds']:.2f} | {row['peak_above_mb']:.0f} | {row['output_mb']:.1f} |")
    for n in args.cli_sizes:
        row = _run([sys.executable, __file__, "--cli-worker", str(n), *common])
        print(f"| textgen encode --file (one run; whole process) | {row['n']:,} | {row['sent_s']:,.0f} | "
              f"{row['seconds']:.2f} | {row['peak_mb']:.0f} | {row['output_mb']:.1f} |")


def _run(cmd: list[str]) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
