"""How much of the real CUB caption text does the bird caption parser understand?

    python benchmarks/bench_caption_parser.py [--captions ../shared/data/cub_captions_train.jsonl.gz]

Prints the fraction of real captions from which the parser reads at least one attribute, the mean number
of attributes per caption, how often each attribute is read, and the parse speed.
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.birds.captions import parse_caption  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--captions", default=str(ROOT.parent / "shared" / "data" / "cub_captions_train.jsonl.gz"))
    args = ap.parse_args()
    with gzip.open(args.captions, "rt", encoding="utf-8") as f:
        captions = [c for line in f for c in json.loads(line)["captions"]]
    t0 = time.perf_counter()
    parsed = [parse_caption(c) for c in captions]
    secs = time.perf_counter() - t0
    counts = collections.Counter(k for p in parsed for k in p)
    understood = sum(bool(p) for p in parsed)
    print(f"# bench_caption_parser: {len(captions):,} real CUB captions ({args.captions}); parsed in {secs:.1f} s "
          f"({len(captions) / secs:,.0f} captions/s)")
    print(f"understood (>= 1 attribute): {understood / len(captions):.1%}; "
          f"attributes per caption: {sum(map(len, parsed)) / len(captions):.2f}")
    print("| attribute | captions stating it |")
    print("|---|---|")
    for k, v in counts.most_common():
        print(f"| {k} | {v / len(captions):.1%} |")


if __name__ == "__main__":
    main()
