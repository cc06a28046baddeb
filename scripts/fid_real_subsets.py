"""What would a background collapse alone cost in FID? Real renders of one background only, against eval-gan's
real reference set A.

    python scripts/fid_real_subsets.py --data data/birds32 [--num-images 2048]

Uses the same TF-Inception features, split and cached set-A features as ``textgen eval-gan --num-images N``
(run that once first so set A is cached). For each background, N real renders outside set A with only that
background are scored against A; the real-vs-real floor mixes all three backgrounds as the data does.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a synthetic-birds folder (textgen make-birds)")
    ap.add_argument("--num-images", type=int, default=2048, help="as eval-gan's --num-images (default 2048)")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from textgen.data.birds import BACKGROUNDS
    from textgen.data.images import ImageCaptionData
    from textgen.gan.evaluate import real_set_features, real_split
    from textgen.gan.fid import InceptionFeatures, fid_from_features

    root = Path(args.data)
    data = ImageCaptionData.load(root, image_size=args.image_size)
    if not data.has_scene:
        raise SystemExit(f"{root}/metadata.jsonl has no background labels; render the folder with `textgen make-birds`")
    features = InceptionFeatures("cpu")
    a_idx, _ = real_split(len(data), args.num_images, args.seed)
    feats_a = real_set_features(data, root, features, a_idx, "A", args.image_size, args.seed)
    rest = np.setdiff1d(np.arange(len(data)), a_idx)
    background = np.array([s["background"] for s in data.scene])
    print(f"| real renders, one background ({args.image_size} px) | images | FID against set A ({len(a_idx)}) |")
    print("|---|---|---|")
    for name in BACKGROUNDS:
        idx = rest[background[rest] == name][:len(a_idx)]
        fid = fid_from_features(features(data.float_images(idx)), feats_a)
        print(f"| {name} only | {len(idx)} | {fid:.2f} |", flush=True)


if __name__ == "__main__":
    main()
