"""Cased tokenizers for the general-English corpus: byte-level BPE at 8k vs 16k, and the plain ``bpe`` kind.

    python docs/experiments/english_tokenizer.py --corpus data/english            # train, check, measure
    python docs/experiments/english_tokenizer.py --corpus data/english --save      # also save to CORPUS/tokenizer-bpe-<size>/

For each vocabulary size a byte-level BPE (``Tokenizer.train(kind="bpe", byte_level=True)``) is trained on
``CORPUS/train.jsonl`` (single thread) and checked:

* round trip: ``decode(encode(s)) == s`` on the first ``--n-valid`` sentences of ``valid.jsonl`` and on
  probe strings (emoji, accents, CJK, quotes); strings that NFKC changes must give ``normalize(s)``;
* ``<unk>``: ids equal to 1 in those encodings (a byte-level vocabulary should have none);
* Hugging Face parity: ``AutoTokenizer.from_pretrained(saved folder)`` gives the same ids (with ``<eos>``)
  and the same decoded text on all of them;
* cost: mean content tokens (no ``<eos>``) per sentence and per whitespace word on the whole valid split.

The existing kinds (``--baseline-kinds``, default ``bpe unigram sentencepiece``: Metaspace pre-tokenizer,
no byte fallback) at the first size, trained on the first ``--baseline-train`` sentences, are measured the
same way for comparison. ``byte_level`` needs the tokenization change proposed with the corpus work; without it the
script stops with a message.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # tokenizers' trainer: one core
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PROBES = [
    "I don't want to be with you.",
    "Café déjà vu — naïve résumé, Zürich's São Paulo in Kraków.",
    "I love it 😀👍🏽 🎉🎉🎉 ❤️",
    "東京は晴れです。",
    "北京欢迎你！",          # NFKC turns the full-width '！' into '!'
    "안녕하세요, 세계.",
    "Привет, мир! Ελληνικά.",
    "He said \"hi\" (twice)... and left -- or did he?",
    "e\u0301 vs \u00e9",     # NFKC composes e + combining acute
    "ﬁne ligature, x² and ½",  # NFKC: 'fi', 'x2', '1/2'
    "Tabs\tand  double  spaces",  # whitespace collapses
    "£100 or €90 or ¥5, 50% off #1 @home ~tilde^ {braces} [brackets] | pipe \\ backslash",
]


def read_jsonl(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def check(tok, sentences: list[str], probes: list[str]) -> dict:
    from transformers import AutoTokenizer

    res: dict = {"vocab_size": tok.vocab_size}
    exact = sum(tok.decode(tok.encode(s)) == s for s in sentences)
    unk_sents = sum(1 in tok.encode(s) for s in sentences)
    res["valid_round_trip"] = f"{exact}/{len(sentences)}"
    res["valid_sentences_with_unk"] = unk_sents
    probe_rows = []
    for s in probes:
        ids = tok.encode(s)
        out = tok.decode(ids)
        stable = unicodedata.normalize("NFKC", s) == s and " ".join(s.split()) == s
        probe_rows.append({"text": s, "decoded": out, "unk": ids.count(1),
                           "ok": out == (s if stable else tok.normalize(s)), "exact": out == s})
    res["probes_ok"] = f"{sum(r['ok'] for r in probe_rows)}/{len(probes)}"
    res["probes_exact"] = f"{sum(r['exact'] for r in probe_rows)}/{len(probes)}"
    res["probes_with_unk"] = [r["text"] for r in probe_rows if r["unk"]]
    res["probe_failures"] = [(r["text"], r["decoded"]) for r in probe_rows if not r["ok"]]
    with tempfile.TemporaryDirectory() as d:
        tok.save(d)
        hf = AutoTokenizer.from_pretrained(d)
        texts = sentences + probes
        hf_ids = hf(texts)["input_ids"]
        same_ids = sum(a == tok.encode(s) for a, s in zip(hf_ids, texts))
        same_text = sum(hf.decode(a, skip_special_tokens=True) == tok.decode(a) for a in hf_ids)
        res["hf_class"] = type(hf).__name__
    res["hf_same_ids"] = f"{same_ids}/{len(texts)}"
    res["hf_same_decode"] = f"{same_text}/{len(texts)}"
    return res


def cost(tok, sentences: list[str]) -> dict:
    limit, tok.max_length = tok.max_length, None  # measure untruncated lengths
    lengths = [len(ids) for ids in tok.encode_batch(sentences, add_eos=False, padding="do_not_pad",
                                                    return_tensors=None).input_ids]
    tok.max_length = limit
    words = [len(s.split()) for s in sentences]
    q = statistics.quantiles(lengths, n=1000)
    return {"sentences": len(sentences), "tokens_per_sentence": round(statistics.fmean(lengths), 2),
            "over_max_length": sum(n + 1 > limit for n in lengths) if limit else 0,  # with <eos>
            "tokens_per_word": round(sum(lengths) / sum(words), 3), "p99_tokens": q[989], "p999_tokens": q[998],
            "max_tokens": max(lengths)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="data/english", help="folder written by build_english_corpus")
    ap.add_argument("--sizes", type=int, nargs="+", default=[8000, 16000])
    ap.add_argument("--n-valid", type=int, default=2000)
    ap.add_argument("--max-length", type=int, default=None, help="max_length stored in the saved tokenizers")
    ap.add_argument("--save", action="store_true", help="save each byte-level tokenizer to CORPUS/tokenizer-bpe-<size>/")
    ap.add_argument("--baseline-kinds", nargs="*", default=["bpe", "unigram", "sentencepiece"],
                    help="existing kinds to compare (none: skip)")
    ap.add_argument("--baseline-train", type=int, default=100_000, help="train sentences for the baselines")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    import inspect

    from textgen.tokenization import Tokenizer

    if "byte_level" not in inspect.signature(Tokenizer.train).parameters:
        sys.exit("this textgen has no Tokenizer.train(..., byte_level=True): apply the proposed tokenization change first")
    corpus = Path(args.corpus)
    train = read_jsonl(corpus / "train.jsonl")
    valid = read_jsonl(corpus / "valid.jsonl")
    print(f"train {len(train):,} sentences, valid {len(valid):,}; RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}")
    results = {}
    runs = [("bpe", size, True) for size in args.sizes] + [(k, args.sizes[0], False) for k in args.baseline_kinds]
    for kind, size, byte_level in runs:
        name = f"{kind}{'-bytelevel' if byte_level else ''}-{size}"
        texts = train if byte_level else train[: args.baseline_train]
        extra = {"byte_level": True} if byte_level else ({"num_threads": 1} if kind == "sentencepiece" else {})
        t = time.perf_counter()
        tok = Tokenizer.train(texts, kind=kind, vocab_size=size, max_length=args.max_length, **extra)
        train_s = time.perf_counter() - t
        res = {"train_sentences": len(texts), "train_seconds": round(train_s, 1), **check(tok, valid[: args.n_valid], PROBES), **cost(tok, valid)}
        results[name] = res
        print(f"== {name}: {tok!r}")
        for k, v in res.items():
            print(f"   {k}: {v}")
        if args.save and byte_level:
            folder = corpus / f"tokenizer-bpe-{size}"
            tok.save(folder)
            print(f"   saved to {folder}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
