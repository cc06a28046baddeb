#!/usr/bin/env python
"""Paired -log p(x) of several model folders on the same sentences (exact for an LM, IW bound for a VAE).

    python scripts/compare_nll.py runs/vae/ptb_lm_continued/best runs/vae/ptb_lstm_li/best --data ptb:test

Prints each model's mean NLL and its per-sentence difference from the first model with the paired
standard error: a difference within about two standard errors is not resolved by the data.
"""
import argparse
import json

from textgen.vae.evaluate import compare_nll


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="model folders; the first is the reference")
    ap.add_argument("--data", default="ptb:test")
    ap.add_argument("--iw-samples", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", help="also write the report as JSON")
    a = ap.parse_args()
    report = compare_nll(a.models, a.data, iw_samples=a.iw_samples, batch_size=a.batch_size, device=a.device,
                         seed=a.seed)
    print(f"{'model':<50} {'mode':<4} {'NLL':>8} {'minus first':>12} {'paired SE':>9} {'better on':>9}")
    for r in report["models"]:
        extra = (f"{r['diff']:>+12.3f} {r['diff_se']:>9.3f} {r['better_fraction']:>9.1%}" if "diff" in r else "")
        print(f"{r['model'][-50:]:<50} {r['mode']:<4} {r['nll']:>8.3f} {extra}")
    print(f"({report['models'][0]['num_sentences']:,} sentences of {a.data}; VAEs: IW bound, k={a.iw_samples})")
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
