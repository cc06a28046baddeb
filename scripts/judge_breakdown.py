"""Where does the attribute judge of ``eval-gan`` miss? Its held-out accuracy per head, split by what else the
bird is: its size, bill length, wing pattern and background.

    python scripts/judge_breakdown.py --data data/birds32                    # the judge cached in the folder
    python scripts/judge_breakdown.py --data data/birds32 --heads bill_shape --judge other/judge_dir

It reads the same held-out renders the judge was scored on (``held_out_split`` with the judge's seed), so its
overall numbers equal the report's. A head that fails only on small birds with short bills, say, fails where
the renderer draws the attribute in a few pixels (benchmarks/RESULTS.md, "The renderer cut off a third of the bills").
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.data.images import ImageCaptionData  # noqa: E402
from textgen.gan.attributes import IGNORE, AttributeClassifier, _to_float, held_out_split, judge_labels  # noqa: E402
from textgen.gan.evaluate import _classifier_folder  # noqa: E402

SPLITS = ("size", "bill_length", "size/bill_length", "wing_pattern", "background")


def cached_judge(data_dir: str) -> Path:
    """The one attribute judge eval-gan cached in ``data_dir``, at whatever resolution it was trained."""
    pattern = _classifier_folder(data_dir, "*", "attributes")         # the cache's naming, any resolution
    cache, found = pattern.parent, sorted(pattern.parent.glob(pattern.name))
    if not found:
        raise SystemExit(f"no attribute judge cached in {cache}; train one with `textgen eval-gan --model M "
                         f"--data {data_dir} --metrics attributes`, or pass --judge DIR")
    if len(found) > 1:
        raise SystemExit(f"{len(found)} judges cached in {cache} ({', '.join(f.name for f in found)}); "
                         "pick one with --judge DIR")
    return found[0]


def breakdown(data_dir: str, judge_dir: str | None = None, heads=None, seed: int = 0) -> dict:
    judge_dir = Path(judge_dir) if judge_dir else cached_judge(data_dir)
    clf = AttributeClassifier.from_pretrained(judge_dir)
    size = clf.config.image_size
    data = ImageCaptionData.load(data_dir, image_size=size)
    val, _ = held_out_split(len(data), np.random.default_rng(seed))
    rows = [dict(data.attributes[i], **data.scene[i]) for i in val]
    for r in rows:
        r["size/bill_length"] = f"{r['size']}/{r['bill_length']}"
    pred = clf.predict(_to_float(torch.from_numpy(data.images[val]), size))
    labels = judge_labels(rows, clf.classes)
    out = {}
    for head in heads or list(clf.classes):
        drawn = labels[head] != IGNORE
        ok = (pred[head] == labels[head])[drawn].numpy()
        kept = [r for r, d in zip(rows, drawn.tolist()) if d]
        report = {"all": {"accuracy": float(ok.mean()), "n": int(len(ok))}}
        for split in SPLITS:
            if head in split.split("/"):
                continue
            groups = defaultdict(list)
            for r, o in zip(kept, ok):
                groups[r[split]].append(o)
            report[split] = {k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in sorted(groups.items())}
        out[head] = report
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a synthetic-birds folder (textgen make-birds)")
    ap.add_argument("--judge", help="a judge folder (default: the one eval-gan cached in --data; required if it holds several)")
    ap.add_argument("--heads", nargs="*", help="heads to break down (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="the judge's training seed (it picks the held-out renders)")
    ap.add_argument("--out", help="also write the breakdown as JSON")
    args = ap.parse_args()
    result = breakdown(args.data, args.judge, args.heads, args.seed)
    print("| head | all | " + " | ".join(SPLITS) + " |")
    print("|---|---|" + "---|" * len(SPLITS))
    for head, r in result.items():
        cells = [" ".join(f"{k} {v['accuracy']:.1%}" for k, v in r[s].items()) if s in r else "" for s in SPLITS]
        print(f"| {head} | {r['all']['accuracy']:.1%} ({r['all']['n']}) | " + " | ".join(cells) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
