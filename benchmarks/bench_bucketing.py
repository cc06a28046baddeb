"""Padding left by random vs length-bucketed batches, and the time to load + tokenize a corpus.

    python benchmarks/bench_bucketing.py                      # PTB train, batch sizes 32/64/128
    python benchmarks/bench_bucketing.py --data cub:../shared/data/cub_captions_train.jsonl.gz

Padding fraction = padded positions / all positions of the (B, T) batches, each batch padded to its
longest sentence (``<eos>`` included in the lengths, no truncation). "random" batches are plain
shuffled batches (``BucketBatchSampler`` with ``bucket_size=batch_size``, i.e. no sorting across
batches); "bucketed" is the default sortish ``BucketBatchSampler`` (pools of ``100 * batch_size``).
Each figure is the mean over ``--epochs`` epochs; timings are the median of ``--repeats`` runs.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TEXTGEN_PROGRESS", "0")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.data import (  # noqa: E402
    BucketBatchSampler,
    corpus_texts,
    load_corpus,
    make_dataloader,
    padding_fraction,
    tokenize_dataset,
)
from textgen.core.runtime import machine_info  # noqa: E402
from textgen.tokenization import Tokenizer  # noqa: E402


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="ptb:train", help="corpus spec (default ptb:train)")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128])
    p.add_argument("--epochs", type=int, default=5, help="epochs averaged per padding figure")
    p.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    p.add_argument("--max-tokens", type=int, nargs="*", default=[2048, 4096],
                   help="also report the max_tokens mode with these caps")
    args = p.parse_args(argv)

    import datasets  # noqa: F401  (imported once up front so timings exclude the import)

    info = machine_info()
    print(f"machine  {info['cpu']}, {info['cores']} cores ({info['torch_threads']} torch threads); "
          f"python {info['python']}, torch {info['torch']}, datasets {datasets.__version__}")
    print(f"corpus   {args.data}")

    # ---- timings
    t_load, t_tok_train, t_map, t_loader = [], [], [], []
    for _ in range(args.repeats):
        ds, t = _timed(lambda: load_corpus(args.data))
        t_load.append(t)
        tok, t = _timed(lambda: Tokenizer.train(corpus_texts(args.data), kind="word"))
        t_tok_train.append(t)
        (tds, stats), t = _timed(lambda: tokenize_dataset(ds, tok))
        t_map.append(t)
        _, t = _timed(lambda: make_dataloader(tds, 32, pad_id=tok.pad_id))
        t_loader.append(t)
    med = statistics.median
    lengths = np.asarray(tds.with_format("numpy")["length"])
    print(f"size     {len(ds):,} sentences, {stats.num_tokens:,} tokens incl. <eos>, vocabulary {tok.vocab_size:,}; "
          f"length mean {lengths.mean():.1f}, max {lengths.max()}")
    print()
    print("| step | seconds (median of %d) |" % args.repeats)
    print("|---|---|")
    print(f"| load_corpus({args.data!r}) | {med(t_load):.3f} |")
    print(f"| Tokenizer.train(word) on corpus_texts | {med(t_tok_train):.3f} |")
    print(f"| tokenize_dataset (Dataset.map, batched) | {med(t_map):.3f} |")
    print(f"| make_dataloader (ids to memory + sampler) | {med(t_loader):.3f} |")
    print(f"| **load + tokenize** | **{med(t_load) + med(t_map):.3f}** |")
    print()

    # ---- padding
    print("| batch size | random batches: padding | BucketBatchSampler: padding | (B, T) positions vs random |")
    print("|---|---|---|---|")
    for bs in args.batch_sizes:
        rand, buck = [], []
        for epoch in range(args.epochs):
            r = BucketBatchSampler(lengths, bs, shuffle=True, seed=0, bucket_size=bs)
            b = BucketBatchSampler(lengths, bs, shuffle=True, seed=0)
            r.set_epoch(epoch)
            b.set_epoch(epoch)
            rand.append(padding_fraction(lengths, list(r)))
            buck.append(padding_fraction(lengths, list(b)))
        pr, pb = float(np.mean(rand)), float(np.mean(buck))
        ratio = (1 - pr) / (1 - pb)  # positions = real tokens / (1 - padding)
        print(f"| {bs} | {pr:.1%} | {pb:.1%} | {ratio:.2f}x |")
    for cap in args.max_tokens:
        s = BucketBatchSampler(lengths, max_tokens=cap, seed=0)
        batches = list(s)
        sizes = [len(b) for b in batches]
        print(f"| max_tokens={cap} (mean {np.mean(sizes):.0f}/batch, {len(batches)} batches) | - | "
              f"{padding_fraction(lengths, batches):.1%} | - |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
