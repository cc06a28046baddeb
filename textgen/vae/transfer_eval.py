"""``textgen eval-transfer``: how well a conditional VAE rewrites held-out sentences for another label.

For held-out labelled sentences, each is rewritten for every other label (:meth:`SentenceVAEPipeline.transfer`:
encoded under its own, true label, or with ``from_guess`` the model's guess; decoded with label guidance) and
scored on the four axes of the attribute-transfer literature (Hu et al. 2017, "Toward Controlled Generation of
Text"; Shen et al. 2017, "Style Transfer from Non-Parallel Text by Cross-Alignment"):

* **transfer accuracy** -- a separate classifier (TF-IDF of word 1-2-grams + logistic regression, trained on
  the labelled sentences of ``train_data``, never used to train the VAE; its accuracy on the held-out real
  sentences is reported beside it) reads each output: the share it assigns to the target label;
* **content preservation** -- corpus BLEU-4 of the outputs against their sources ("self-BLEU", as Shen et al.
  have no references on Yelp either for most of their figures), computed by sacreBLEU with its standard
  settings so that it compares with published figures (``bleu``; the older textgen figure on lowercased
  words without punctuation is reported beside it for one release as ``bleu_textgen_legacy``), and the share
  of each source's content words (not stop words) found in its output;
* **fluency** -- per-token perplexity of the outputs under a language-model baseline (``lm``), against the
  same LM's perplexity of the real sources;
* **samples** -- the same classifier reads prior samples decoded under each label (``pipe.sample(label=)``, as
  many as there are sentences, split over the labels): the share it assigns to the label asked for;
* **leakage** -- how much of the label z still carries: a linear probe (logistic regression) predicting the
  label from the posterior means of the held-out sentences (5-fold cross-validated), against the majority class.
  A conditional VAE whose z carries the label can ignore the label it is given.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Optional

import numpy as np
import torch

__all__ = ["bleu", "bleu_with_signature", "bleu_textgen_legacy", "content_kept", "SentimentJudge", "lm_perplexity",
           "label_leakage", "evaluate_transfer", "format_transfer_report"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOP_WORDS = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being
it its it's this that these those i me my we our you your he him his she her they them their there here what which
who whom so than then too very just not no nor do does did done have has had having will would can could should
shall may might must am s t n't 's 're 've 'd 'll""".split())


def words(text: str) -> list[str]:
    """Lowercased word tokens, punctuation dropped (the unit of content preservation and of the legacy BLEU)."""
    return _WORD.findall(text.lower())


# ----------------------------------------------------------------------------- content preservation

# BLEU (Papineni et al. 2002, "BLEU: a Method for Automatic Evaluation of Machine Translation") as published
# figures compute it: sacreBLEU's standard settings (Post 2018, "A Call for Clarity in Reporting BLEU Scores"):
# BLEU-4 with the brevity penalty over the corpus, case kept, the 13a (mteval-v13a) tokenisation, exp smoothing.
BLEU_TOKENIZE = "13a"


def _check_pairs(hypotheses: list[str], references: list[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")


def bleu_with_signature(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    """Corpus BLEU-4 of ``hypotheses`` against one reference each, by sacreBLEU (0-100), and sacreBLEU's
    signature of how it was computed (references, case, tokenisation, smoothing, version), to report with it."""
    from sacrebleu.metrics import BLEU

    _check_pairs(hypotheses, references)
    metric = BLEU(tokenize=BLEU_TOKENIZE)
    return metric.corpus_score(hypotheses, [references]).score, str(metric.get_signature())


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU-4 by sacreBLEU, as :func:`bleu_with_signature`: comparable with published sacreBLEU figures."""
    return bleu_with_signature(hypotheses, references)[0]


def bleu_textgen_legacy(hypotheses: list[str], references: list[str], max_n: int = 4) -> float:
    """textgen's BLEU before sacreBLEU, reported beside it for one release: corpus BLEU-4 on lowercased words
    without punctuation (:func:`words`), no smoothing. Not comparable with published figures. One reference per
    hypothesis; 0-100."""
    _check_pairs(hypotheses, references)
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for h, r in zip(hypotheses, references):
        hw, rw = words(h), words(r)
        hyp_len, ref_len = hyp_len + len(hw), ref_len + len(rw)
        for n in range(1, max_n + 1):
            hc = Counter(tuple(hw[i:i + n]) for i in range(len(hw) - n + 1))
            rc = Counter(tuple(rw[i:i + n]) for i in range(len(rw) - n + 1))
            matches[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            totals[n - 1] += max(len(hw) - n + 1, 0)
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    log_p = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * bp * math.exp(log_p)


def content_kept(output: str, source: str) -> Optional[float]:
    """The share of the source's content words (distinct, not stop words) that the output uses; None without any."""
    content = {w for w in words(source) if w not in STOP_WORDS}
    if not content:
        return None
    return len(content & set(words(output))) / len(content)


# ----------------------------------------------------------------------------- the separate classifier

class SentimentJudge:
    """TF-IDF of word 1-2-grams + logistic regression (scikit-learn): the transfer-accuracy reader."""

    def __init__(self, texts: list[str], labels: list[str], seed: int = 0):
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
        except ImportError:                                   # pragma: no cover - the message is the point
            raise ImportError("eval-transfer's classifier needs scikit-learn: pip install 'textgen[sklearn]'") from None
        if len(set(labels)) < 2:
            raise ValueError(f"the classifier needs sentences of at least two labels, got {sorted(set(labels))}")
        self.vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)
        x = self.vectorizer.fit_transform(texts)
        self.model = LogisticRegression(max_iter=1000, C=4.0, random_state=seed).fit(x, labels)
        self.train_sentences = len(texts)

    def predict(self, texts: list[str]) -> list[str]:
        return list(self.model.predict(self.vectorizer.transform(texts)))

    def accuracy(self, texts: list[str], labels: list[str]) -> float:
        return float(np.mean([p == y for p, y in zip(self.predict(texts), labels)]))


# ----------------------------------------------------------------------------- fluency and leakage

@torch.no_grad()
def lm_perplexity(lm, texts: list[str], batch_size: int = 64) -> float:
    """exp(total NLL / total tokens, <eos> counted) of ``texts`` under a language model folder's model (mode=lm)."""
    nll = tokens = 0.0
    lm.eval()
    for k in range(0, len(texts), batch_size):
        batch = lm.tokenizer.encode_batch(texts[k:k + batch_size])
        ids, lengths = batch.input_ids.to(lm.device), batch.lengths
        nll += float(-lm.log_likelihood(None, ids, lengths).double().sum())
        tokens += float(lengths.sum())
    return math.exp(nll / max(tokens, 1))


def label_leakage(z: np.ndarray, labels: list[str], seed: int = 0) -> dict:
    """5-fold cross-validated accuracy of a logistic-regression probe predicting the label from z, and chance."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    counts = Counter(labels)
    folds = min(5, min(counts.values()))
    if folds < 2:
        return {"probe_accuracy": None, "majority": max(counts.values()) / len(labels), "folds": 0}
    acc = cross_val_score(LogisticRegression(max_iter=2000, random_state=seed), z, labels, cv=folds).mean()
    return {"probe_accuracy": float(acc), "majority": max(counts.values()) / len(labels), "folds": folds}


# ----------------------------------------------------------------------------- the protocol

def _labelled_rows(spec: str, column: str, known: list[str], limit: Optional[int], seed: int) -> tuple[list[str], list[str]]:
    from textgen.data import load_corpus

    ds = load_corpus(spec)
    if column not in ds.column_names:
        raise ValueError(f"{spec} has no column {column!r} (the model's label); its columns are "
                         f"{', '.join(map(repr, ds.column_names))}")
    rows = [(t, y) for t, y in zip(ds["text"], ds[column]) if y in known and isinstance(t, str) and t.strip()]
    if not rows:
        raise ValueError(f"no sentence of {spec} has one of the labels {known} in column {column!r}")
    if limit is not None and len(rows) > limit:
        idx = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
        rows = [rows[i] for i in idx]
    return [t for t, _ in rows], [y for _, y in rows]


def evaluate_transfer(model: str | Path, data: str, train_data: str, *, lm: Optional[str | Path] = None,
                      num_sentences: int = 500, classifier_sentences: int = 100_000, max_words: int = 30,
                      guidance: Optional[float] = None, from_guess: bool = False, batch_size: int = 64,
                      seed: int = 0, device: str = "cpu") -> dict:
    """Every eval-transfer figure as one JSON-able dict (see the module docstring), with ten examples.
    ``from_guess``: encode each source under the model's own label guess, as ``transfer`` without ``--from``
    does, instead of its true label (the targets stay the labels it does not have)."""
    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.pipeline import SentenceVAEPipeline

    pipe = SentenceVAEPipeline.from_pretrained(model, device=device, show_progress=False)
    cond = pipe.model.config.condition
    if cond is None:
        raise ValueError(f"{model} is not a conditional VAE (no model.condition): there is no label to transfer")
    guidance = pipe.guidance if guidance is None else guidance            # None: the model's own
    texts, labels = _labelled_rows(data, cond.column, cond.labels, None, seed)
    keep = [i for i, t in enumerate(texts) if len(t.split()) <= max_words]
    idx = np.sort(np.random.default_rng(seed).choice(keep, min(num_sentences, len(keep)), replace=False))
    texts, labels = [texts[i] for i in idx], [labels[i] for i in idx]
    train_texts, train_labels = _labelled_rows(train_data, cond.column, cond.labels, classifier_sentences, seed)
    judge = SentimentJudge(train_texts, train_labels, seed=seed)
    report = {"model": str(model), "data": data, "train_data": train_data, "sentences": len(texts),
              "labels": cond.labels, "max_words": max_words, "guidance": guidance,
              "source_labels": "guessed" if from_guess else "true",
              "classifier": {"kind": "tfidf 1-2-grams + logistic regression", "train_sentences": judge.train_sentences,
                             "accuracy_on_real": judge.accuracy(texts, labels)}}
    # what `transfer` without --from relies on: the model's own label guess (argmax_y ELBO(x | y))
    guessed = pipe.predict_labels(texts, batch_size)
    report["own_label_accuracy"] = float(np.mean([g == y for g, y in zip(guessed, labels)]))
    given = guessed if from_guess else labels                                  # what each source is encoded under
    sources, outputs, targets = [], [], []
    for target in cond.labels:
        rows = [i for i, y in enumerate(labels) if y != target]
        if not rows:
            continue
        out = pipe.transfer([texts[i] for i in rows], to=target, source_labels=[given[i] for i in rows],
                            guidance=guidance, batch_size=batch_size, generator=torch.Generator().manual_seed(seed))
        sources += [texts[i] for i in rows]
        outputs += out.sentences
        targets += [target] * len(rows)
    predicted = judge.predict(outputs)
    kept = [k for k in (content_kept(o, s) for o, s in zip(outputs, sources)) if k is not None]
    score, signature = bleu_with_signature(outputs, sources)
    report.update({
        "transfers": len(outputs),
        "transfer_accuracy": float(np.mean([p == t for p, t in zip(predicted, targets)])),
        "bleu": score,                                        # to the source, by sacreBLEU
        "bleu_signature": signature,
        "bleu_textgen_legacy": bleu_textgen_legacy(outputs, sources),
        "content_words_kept": float(np.mean(kept)) if kept else None,
        "unchanged": float(np.mean([words(o) == words(s) for o, s in zip(outputs, sources)])),
    })
    per_label = max(1, len(texts) // len(cond.labels))
    asked = [y for y in cond.labels for _ in range(per_label)]
    said = [s for y in cond.labels for s in pipe.sample(per_label, label=y, guidance=guidance, batch_size=batch_size,
                                                        generator=torch.Generator().manual_seed(seed)).sentences]
    report["sample_accuracy"] = float(np.mean([p == y for p, y in zip(judge.predict(said), asked)]))
    enc = pipe.encode(texts, batch_size, labels=labels)
    report["leakage"] = label_leakage(enc.mu.numpy(), labels, seed=seed)
    if lm is not None:
        lm_model = SentenceVAE.from_pretrained(lm, device=pipe.device)
        if lm_model.config.mode != "lm":
            raise ValueError(f"--lm {lm} is not a language model (mode='lm'); pass the corpus's LM baseline folder")
        real, gen = lm_perplexity(lm_model, sources, batch_size), lm_perplexity(lm_model, outputs, batch_size)
        report["fluency"] = {"lm": str(lm), "ppl_outputs": gen, "ppl_sources": real, "ratio": gen / real}
    report["examples"] = [{"source": s, "target": t, "output": o, "classifier": p}
                          for s, t, o, p in list(zip(sources, targets, outputs, predicted))[:10]]
    return report


def format_transfer_report(r: dict) -> str:
    lines = [f"eval-transfer of {r['model']} on {r['sentences']:,} held-out sentences of {r['data']} "
             f"(<= {r['max_words']} words), {r['transfers']:,} transfers, label guidance {r.get('guidance', 0):g}, "
             f"{r.get('source_labels', 'true')} source labels",
             "", "| metric | value | reference |", "|---|---|---|",
             f"| transfer accuracy (separate classifier) | **{r['transfer_accuracy']:.1%}** | classifier on the real "
             f"sentences: {r['classifier']['accuracy_on_real']:.1%} |",
             f"| BLEU-4 to the source (sacreBLEU) | **{r['bleu']:.1f}** | copying the input: 100 |",
             f"| legacy textgen BLEU-4 (lowercased words, no punctuation) | {r['bleu_textgen_legacy']:.1f} | "
             "before sacreBLEU; to be removed |",
             f"| content words kept | {r['content_words_kept']:.1%} | |" if r["content_words_kept"] is not None else
             "| content words kept | - | |",
             f"| outputs identical to their source | {r['unchanged']:.1%} | |"]
    if "own_label_accuracy" in r:
        lines.append(f"| the model's own label guess (argmax ELBO), on the sources | {r['own_label_accuracy']:.1%} | "
                     "what transfer without --from uses |")
    if "sample_accuracy" in r:
        lines.append(f"| prior samples the classifier reads as the label asked for | {r['sample_accuracy']:.1%} | |")
    if "fluency" in r:
        f = r["fluency"]
        lines.append(f"| LM perplexity, outputs / real sources | {f['ppl_outputs']:.1f} / {f['ppl_sources']:.1f} "
                     f"(**{f['ratio']:.2f}x**) | |")
    leak = r["leakage"]
    if leak["probe_accuracy"] is not None:
        lines.append(f"| label read from z by a linear probe | {leak['probe_accuracy']:.1%} | majority class "
                     f"{leak['majority']:.1%} |")
    lines += ["", f"BLEU: sacreBLEU {r['bleu_signature']} (Post 2018); the legacy figure is textgen's own, "
              "reported for one release and not comparable with published BLEU.",
              "", "Published reference, not comparable as is: Shen et al. (2017, cross-alignment) report 73.9% transfer "
              "accuracy and BLEU 20.7 on Yelp restaurant reviews, with their own classifier and BLEU setting."]
    return "\n".join(lines)
