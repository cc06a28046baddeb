#!/usr/bin/env python
"""Interpolate between two sentences with a sentence VAE and print the path.

    python scripts/interpolate.py "I want to talk to you." "She didn't want to be with him."
    python scripts/interpolate.py "The market fell." "Prices rose." --model runs/vae/en_broad/best --steps 12

Both sentences are encoded to their posterior means, and points on the great circle between the two codes
(slerp) are decoded back to sentences. The first and last lines, marked *, are the model's reconstructions of
the two inputs: the path runs between those, which may differ from what was typed. ``textgen interpolate``
does the same; this is that job written out on the public API.
"""
import argparse
import sys

from textgen.pipelines import SentenceVAEPipeline


def main() -> None:
    ap = argparse.ArgumentParser(description="Interpolate between two sentences with a sentence VAE.")
    ap.add_argument("a", help="the first sentence")
    ap.add_argument("b", help="the second sentence")
    ap.add_argument("--model", default="en-lstm-vae", help="a shipped model name or a folder written by train-vae "
                                                           "(default: en-lstm-vae)")
    ap.add_argument("--steps", type=int, default=8, help="points decoded between the two sentences (default 8)")
    args = ap.parse_args()

    pipe = SentenceVAEPipeline.from_pretrained(args.model, show_progress=False)
    try:
        path = pipe.interpolate(args.a, args.b, steps=args.steps)
    except ValueError as e:                          # an empty sentence, no known word, too many steps
        sys.exit(f"error: {e}")

    print(f"# A: {path.source}")                     # the sentences as the model read them
    print(f"# B: {path.target}")
    for line in path.lines():                        # weight, * for the reconstructions of A and B, sentence
        print(line)


if __name__ == "__main__":
    main()
