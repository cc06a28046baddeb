#!/usr/bin/env python
"""Classify labelled sentences with VAE sentence embeddings in a scikit-learn pipeline.

    python scripts/embed_sklearn.py sentences.tsv           # one "label<TAB>sentence" per line
    python scripts/embed_sklearn.py sentences.tsv --model runs/vae/en_broad/best --folds 10

``VAEFeatures`` turns each sentence into the posterior mean of the VAE's encoder, and a logistic regression
reads the label from it. The script prints the cross-validated accuracy beside the majority class (what
always guessing the most common label scores). Needs scikit-learn: pip install "textgen[sklearn]".
"""
import argparse
import sys
from collections import Counter

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from textgen.integrations.sklearn import VAEFeatures


def read_labelled(path: str) -> tuple[list[str], list[str]]:
    """The sentences and labels of a file of "label<TAB>sentence" lines (blank lines skipped)."""
    sentences, labels = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            label, tab, sentence = line.rstrip("\n").partition("\t")
            if not tab:
                sys.exit(f"error: {path}, line {number}: expected 'label<TAB>sentence'")
            labels.append(label)
            sentences.append(sentence)
    return sentences, labels


def main() -> None:
    ap = argparse.ArgumentParser(description="Classify labelled sentences with VAE embeddings and scikit-learn.")
    ap.add_argument("file", help='a UTF-8 text file, one "label<TAB>sentence" per line')
    ap.add_argument("--model", default="en-lstm-vae", help="a shipped model name or a folder written by train-vae "
                                                           "(default: en-lstm-vae)")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    args = ap.parse_args()

    sentences, labels = read_labelled(args.file)
    counts = Counter(labels)
    folds = min(args.folds, min(counts.values()))    # each fold needs every label
    if len(counts) < 2 or folds < 2:
        sys.exit(f"error: need at least two labels with two sentences each, got {dict(counts)}")

    clf = make_pipeline(VAEFeatures(args.model), LogisticRegression(max_iter=1000))
    scores = cross_val_score(clf, sentences, labels, cv=folds)

    print(f"{len(sentences)} sentences, {len(counts)} labels, {folds}-fold cross-validation")
    print(f"accuracy {scores.mean():.3f} (std {scores.std():.3f}), majority class "
          f"{max(counts.values()) / len(labels):.3f}")


if __name__ == "__main__":
    main()
