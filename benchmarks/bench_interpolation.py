"""Does the sentence VAE interpolate ordinary English? Reconstruction, fluency, moving paths and no collapse,
measured on held-out sentences (the corpus' test split, never tuned on).

    python benchmarks/bench_interpolation.py --model en-lstm-vae --lm runs/vae/en_lm/best \\
        --data data/english/test.jsonl
    python benchmarks/bench_interpolation.py --model candidates/en-lstm-vae --data data/english/valid.jsonl  # no LM
    python benchmarks/bench_interpolation.py ... --strategy greedy                # greedy-decoded points
    python benchmarks/bench_interpolation.py ... --quick                          # a smoke run (small samples)

What each number is (words are whitespace-separated tokens of the decoded text, as a user reads it):

* reconstruction: decode the posterior mean of each held-out sentence; exact = equal after whitespace
  normalisation; WER = total word-level Levenshtein distance / total reference words (NIST sclite), for
  sentences of <= 12 words and of 13-30 words, drawn per source (``--short`` and ``--long`` of each), so
  that every source is measured on its own as well as together.
* fluency (with ``--lm``): an LM baseline trained on the same corpus (``mode=lm``, same tokenizer) scores
  every sentence; per-token perplexity = exp(-log p(x) / tokens incl. <eos>). Distributions (10/25/50/75/90th percentiles) for
  held-out real sentences, the 7 inner points of each 9-point path, and prior samples: z from the model's
  sampling prior (N(0, I), or the mixture fitted to its aggregate posterior by ``textgen fit-prior``, and then
  N(0, I) samples beside it; ``--prior-temperature`` scales its spread). Beside each, distinct-2 (distinct
  word bigrams / all bigrams; it grows as a group shrinks, so compare groups of one size: ``--real`` = ``--prior``).
* paths: 9-point slerp paths (endpoints included) between random pairs of held-out sentences: distinct
  sentences per path, the share with >= 5, and the mean word edit distance between consecutive points; and,
  of the paths between two sentences that are not bird captions, how many pass through one (an inner point
  that :func:`looks_like_caption`: it says "bird(s)" or names two bird parts such as beak, wings, crown).
* collapse: ``evaluate_folder`` on the first ``--iw-sentences`` test sentences: KL, active units, true ELBO,
  importance-weighted NLL (Burda et al. 2016, k=100) and mutual information (He et al. 2019).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.core.runtime import machine_info  # noqa: E402
from textgen.data import load_corpus  # noqa: E402
from textgen.tokenization.textprep import check_is_text  # noqa: E402
from textgen.vae.evaluate import evaluate_folder  # noqa: E402
from textgen.vae.interpolation import interpolate as latent_path  # noqa: E402
from textgen.vae.metrics import edit_distance  # noqa: E402
from textgen.vae.modeling import SentenceVAE  # noqa: E402
from textgen.vae.pipeline import SentenceVAEPipeline  # noqa: E402

PERCENTILES = (10, 25, 50, 75, 90)
BIRD_PARTS = {"beak", "bill", "wing", "wings", "wingbars", "crown", "breast", "belly", "tail", "feathers", "nape",
              "throat", "eyering", "eyebrow", "rectrices", "retrices", "tarsus", "crest", "plumage", "superciliary",
              "primaries", "secondaries", "abdomen", "talons", "beaks", "bills", "crowns", "tails"}


def looks_like_caption(text: str) -> bool:
    """Whether a sentence reads as a bird caption: it says "bird(s)", or names two or more bird parts."""
    w = set(re.findall(r"[a-z]+", text.lower()))
    return bool(w & {"bird", "birds"}) or len(w & BIRD_PARTS) >= 2


def words(text: str) -> list[str]:
    return text.split()


def word_errors(refs: list[str], hyps: list[str]) -> dict[str, float]:
    """Exact-match rate and word error rate (total word edit distance / total reference words)."""
    exact = sum(words(r) == words(h) for r, h in zip(refs, hyps))
    errors = sum(edit_distance(words(r), words(h)) for r, h in zip(refs, hyps))
    return {"n": len(refs), "exact": exact / max(len(refs), 1),
            "wer": errors / max(sum(len(words(r)) for r in refs), 1)}


@torch.no_grad()
def lm_perplexities(lm: SentenceVAE, texts: list[str], batch_size: int = 128) -> list[float]:
    """Per-token perplexity of each text under the LM: exp(-log p(x) / tokens incl. <eos>)."""
    tok, out = lm.tokenizer, []
    for start in range(0, len(texts), batch_size):
        enc = tok.encode_batch(texts[start:start + batch_size], add_bos=False, add_eos=True)
        nll = -lm.log_likelihood(None, enc.input_ids.to(lm.device), enc.lengths)          # (B,)
        out += torch.exp(nll.double().cpu() / enc.lengths.double()).tolist()
    return out


def is_text(sentence: str) -> bool:
    """Whether the pipeline takes ``sentence`` as text (:func:`check_is_text`: no control characters, lost bytes)."""
    try:
        check_is_text(sentence)
    except ValueError:
        return False
    return True


def distinct_2(texts: list[str]) -> float:
    """Distinct-2 (Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation Models"):
    distinct word bigrams / all word bigrams of the group; fluency bought by repeating a few safe sentences
    shows here as a low value."""
    bigrams = [tuple(w[i:i + 2]) for w in (t.split() for t in texts) for i in range(len(w) - 1)]
    return len(set(bigrams)) / max(len(bigrams), 1)


def percentiles(xs: list[float]) -> list[float]:
    xs = sorted(xs)
    return [xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] for p in PERCENTILES]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="en-lstm-vae", help="a VAE folder or shipped name")
    ap.add_argument("--lm", help="the LM baseline's folder (same tokenizer as the VAE); without it, no fluency")
    ap.add_argument("--data", default="data/english/test.jsonl", help="held-out JSONL with text and source")
    ap.add_argument("--strategy", choices=["greedy", "beam"], default="beam",
                    help="decoding of reconstructions and path points (default: beam, as the pipeline); "
                         "prior samples are always greedy, as `textgen sample`")
    ap.add_argument("--beam-size", type=int, default=4)
    ap.add_argument("--short", type=int, default=150, help="sentences of <= 12 words to reconstruct, per source")
    ap.add_argument("--long", type=int, default=60, help="sentences of 13-30 words to reconstruct, per source")
    ap.add_argument("--paths", type=int, default=200)
    ap.add_argument("--prior", type=int, default=500)
    ap.add_argument("--prior-temperature", type=float, default=None,
                    help="scale of the prior's spread for the prior samples (default: the model's own)")
    ap.add_argument("--real", type=int, default=1000, help="held-out sentences the LM scores as the reference")
    ap.add_argument("--iw-sentences", type=int, default=1000, help="test sentences for ELBO / IW-NLL / MI / AU")
    ap.add_argument("--iw-samples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="small samples and k=10: a smoke run")
    ap.add_argument("--json", help="also write every number to this file")
    args = ap.parse_args()
    if args.quick:
        args.short, args.long, args.paths, args.prior, args.real, args.iw_sentences, args.iw_samples = \
            20, 10, 20, 50, 100, 100, 10
    t_start = time.perf_counter()
    rng = random.Random(args.seed)
    gen_kwargs = {"strategy": args.strategy}
    if args.strategy == "beam":
        gen_kwargs["beam_size"] = args.beam_size

    pipe = SentenceVAEPipeline.from_pretrained(args.model, show_progress=False)
    lm = SentenceVAE.from_pretrained(args.lm).eval() if args.lm else None
    if lm is not None and lm.config.mode != "lm":
        raise SystemExit(f"--lm {args.lm} is a {lm.config.mode!r} model; pass the LM baseline (mode=lm)")
    if lm is not None and lm.tokenizer.get_vocab() != pipe.tokenizer.get_vocab():
        raise SystemExit(f"--lm {args.lm} has another tokenizer than the VAE; train it on the same one")
    cols = load_corpus(args.data)
    texts = list(cols["text"])
    sources = list(cols["source"]) if "source" in getattr(cols, "column_names", cols) else ["-"] * len(texts)
    rows = [{"text": t, "source": s} for t, s in zip(texts, sources) if is_text(t)]
    if len(rows) < len(texts):      # e.g. lost bytes (U+FFFD) in a split built before the corpus build dropped them
        print(f"note: {len(texts) - len(rows)} held-out rows the encoder refuses as non-text left out", file=sys.stderr)
    rng.shuffle(rows)
    short, long_ = [], []
    for source in sorted({r["source"] for r in rows}):
        mine = [r for r in rows if r["source"] == source]
        short += [r for r in mine if len(words(r["text"])) <= 12][:args.short]
        long_ += [r for r in mine if 13 <= len(words(r["text"])) <= 30][:args.long]
    rng.shuffle(short)
    rng.shuffle(long_)

    # reconstruction from the posterior mean
    report: dict = {"model": args.model, "lm": args.lm, "data": args.data, "strategy": args.strategy}
    recon = {}
    for name, group in (("<= 12 words", short), ("13-30 words", long_)):
        if not group:                                  # a corpus without sentences of this length
            continue
        refs = [r["text"] for r in group]
        hyps = pipe.reconstruct(refs, **gen_kwargs).sentences
        recon[name] = word_errors(refs, hyps)
        for source in sorted({r["source"] for r in group}):
            idx = [i for i, r in enumerate(group) if r["source"] == source]
            recon[f"{name}, {source}"] = word_errors([refs[i] for i in idx], [hyps[i] for i in idx])
        report.setdefault("examples", {})[name] = list(zip(refs[:5], hyps[:5]))
    report["reconstruction"] = recon

    # 9-point paths between random pairs of held-out sentences
    pool = short + long_
    pairs = [rng.sample(pool, 2) for _ in range(args.paths)]
    plain = [i for i, (a, b) in enumerate(pairs) if a["source"] != "caption" and b["source"] != "caption"
             and not looks_like_caption(a["text"]) and not looks_like_caption(b["text"])]
    enc_a = pipe.encode([a["text"] for a, _ in pairs]).mu
    enc_b = pipe.encode([b["text"] for _, b in pairs]).mu
    codes = torch.cat([latent_path(za, zb, 7)[0] for za, zb in zip(enc_a, enc_b)])      # (paths * 9, Z)
    decoded = pipe.decode(codes, **gen_kwargs)
    paths = [decoded[i * 9:(i + 1) * 9] for i in range(len(pairs))]
    distinct = [len(set(p)) for p in paths]
    steps = [edit_distance(words(p[i]), words(p[i + 1])) for p in paths for i in range(8)]
    report["paths"] = {"n": len(paths), "distinct_mean": statistics.mean(distinct),
                       "share_ge5": sum(d >= 5 for d in distinct) / len(paths),
                       "edit_per_step": statistics.mean(steps), "example": paths[0],
                       "plain": len(plain),
                       "plain_through_caption": sum(any(map(looks_like_caption, paths[i][1:-1])) for i in plain)}

    # fluency under the LM baseline
    g = torch.Generator().manual_seed(args.seed)
    prior = pipe.sample(args.prior, generator=g, strategy="greedy", temperature=args.prior_temperature).sentences
    K = pipe.model.config.latent_prior_components
    report["prior"] = f"a {K}-component mixture fitted to the aggregate posterior" if K else "N(0, I)"
    t = pipe.model.config.latent_prior_temperature if args.prior_temperature is None else args.prior_temperature
    report["prior"] += f", temperature {t:g}"
    groups = {"held-out real sentences": [r["text"] for r in rows[:args.real]],
              "inner path points": [s for p in paths for s in p[1:-1]],
              "prior samples": prior}
    if K:     # the fitted prior beside N(0, I), the prior the model was trained against
        z = torch.randn(args.prior, pipe.model.config.latent_size, generator=torch.Generator().manual_seed(args.seed))
        groups["N(0, I) samples"] = pipe.decode(z, strategy="greedy")
    if lm is not None:
        report["fluency"] = {}
        for name, texts in groups.items():
            v = lm_perplexities(lm, texts)
            report["fluency"][name] = {"n": len(v), "percentiles": percentiles(v), "median": statistics.median(v),
                                       "empty": sum(not t.strip() for t in texts), "distinct_2": distinct_2(texts)}
    report["prior_examples"] = prior[:8]

    # collapse and density
    ev = evaluate_folder(args.model, args.data, iw_samples=args.iw_samples, num_sentences=args.iw_sentences,
                         show_progress=False, recon_max_words=0)
    report["density"] = {k: ev[k] for k in ("kl", "au", "latent_size", "elbo", "iw_nll", "mi", "nll_per_token",
                                            "num_sentences") if k in ev}
    report["seconds"] = round(time.perf_counter() - t_start, 1)

    info = machine_info()
    print(f"# bench_interpolation  {dt.date.today()}  cpu={info['cpu']}  cores={info['cores']}  "
          f"torch={info['torch']}  threads={info['torch_threads']}")
    print(f"# model={args.model}  lm={args.lm or '(none: no fluency)'}  data={args.data}  decoding={args.strategy}"
          f"{f' (beam {args.beam_size})' if args.strategy == 'beam' else ''}, prior greedy  seed={args.seed}  "
          f"{report['seconds']:.0f} s")
    print(f"# prior samples: z from {report['prior']}")
    print()
    print("| reconstruction (posterior mean) | sentences | exact | WER |")
    print("|---|---|---|---|")
    for name, r in recon.items():
        print(f"| {name} | {r['n']:,} | {r['exact']:.1%} | {r['wer']:.1%} |")
    print()
    if "fluency" in report:
        real_median = report["fluency"]["held-out real sentences"]["median"]
        print("| LM per-token perplexity | n | p10 | p25 | median | p75 | p90 | median / real | distinct-2 |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, f in report["fluency"].items():
            p = " | ".join(f"{x:.1f}" for x in f["percentiles"])
            print(f"| {name} | {f['n']:,} | {p} | {f['median'] / real_median:.2f}x | {f['distinct_2']:.2f} |")
        print()
    pr = report["paths"]
    print("| 9-point paths | distinct sentences (mean) | paths with >= 5 distinct | word edits per step (mean) | "
          "non-caption paths through a caption |")
    print("|---|---|---|---|---|")
    print(f"| {pr['n']} | {pr['distinct_mean']:.2f} | {pr['share_ge5']:.1%} | {pr['edit_per_step']:.2f} | "
          f"{pr['plain_through_caption']} of {pr['plain']} |")
    print()
    d = report["density"]
    print(f"| first {d['num_sentences']:,} sentences of {Path(args.data).name} | KL (nats) | active units | true ELBO | "
          f"IW-NLL (k={args.iw_samples}) | MI (nats) |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.model} | {d['kl']:.2f} | {d['au']} / {d['latent_size']} | {d['elbo']:.2f} | "
          f"{d['iw_nll']:.2f} | {d['mi']:.3f} |")
    print()
    print("example path:", " -> ".join(f'"{s}"' for s in pr["example"]))
    for name, ex in report["examples"].items():
        for ref, hyp in ex[:3]:
            print(f"reconstruction ({name}): {ref!r} -> {hyp!r}")
    print("prior samples:", " | ".join(report["prior_examples"][:5]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
