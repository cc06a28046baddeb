"""``textgen eval-vae``: evaluate a saved sentence VAE (or LM baseline) on a corpus, honestly.

Loads the model folder, tokenizes the corpus with the model's own tokenizer (the same
truncation as in training), and computes every metric of :func:`textgen.vae.metrics.evaluate_vae`
(true ELBO, NLL, KL, PPL, importance-weighted NLL, mutual information, active units).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any, Optional

import torch

from textgen.core.config import DataConfig
from textgen.vae.modeling import SentenceVAE
from textgen.core.files import atomic_write_text
from textgen.core.runtime import progress, resolve_device
from textgen.vae.metrics import evaluate_vae, iw_log_likelihood, reconstruction_quality
from textgen.data.splits import TokenizedSplit, split_loader, tokenize_split

__all__ = ["compare_nll", "evaluate_folder", "format_report", "load_model_and_split", "per_sentence_nll"]

# (key, label, format) in the order the table prints them
ROWS = [
    ("nll", "NLL (-ELBO or exact), nats/sentence", "{:.2f}"),
    ("rec", "reconstruction NLL, nats/sentence", "{:.2f}"),
    ("kl", "KL(q(z|x) || p(z)), nats", "{:.2f}"),
    ("elbo", "true ELBO (beta=1, no free bits)", "{:.2f}"),
    ("ppl", "PPL (bound for a VAE)", "{:.2f}"),
    ("iw_nll", "IW-NLL, nats/sentence", "{:.2f}"),
    ("iw_ppl", "IW-PPL", "{:.2f}"),
    ("posterior_kl", "true-posterior KL(p(z|x) || p(z)), SNIS", "{:.2f}"),
    ("mi", "mutual information I(x;z), nats", "{:.3f}"),
    ("au", "active units", "{}"),
    ("rec_mu", "reconstruction NLL at z=mu", "{:.2f}"),
    ("recon_exact", "short sentences: exact reconstruction", "{:.1%}"),
    ("recon_wer", "short sentences: reconstruction WER", "{:.1%}"),
    ("num_sentences", "sentences", "{:,}"),
    ("num_tokens", "tokens (incl. <eos>)", "{:,}"),
]


def load_model_and_split(model_dir: str | Path, data: str, device: torch.device,
                         text_column: str = "text") -> tuple[SentenceVAE, TokenizedSplit]:
    """The saved model and corpus ``data`` tokenized by its own tokenizer, every sentence whole.

    A recurrent model has no length limit, so nothing is truncated (a cut sentence would understate its NLL);
    a Transformer's positions cap the length, and the cuts are counted in the split.
    """
    model = SentenceVAE.from_pretrained(model_dir, device=device)
    tok = copy.copy(model.tokenizer)
    tok.max_length = model.max_positions
    split = tokenize_split(data, tok, DataConfig(train=data, text_column=text_column), model.max_positions,
                           model.config.condition)        # a conditional VAE reads each sentence's label
    return model, split


def evaluate_folder(model_dir: str | Path, data: str, *, iw_samples: int = 0, batch_size: int = 64,
                    device: str = "auto", seed: int = 0, text_column: str = "text",
                    show_progress: bool = True, recon_max_words: int = 12,
                    num_sentences: Optional[int] = None) -> dict[str, Any]:
    """Every metric of :func:`evaluate_vae` on corpus ``data`` (its first ``num_sentences``, if given), plus
    (for VAEs and AEs) greedy reconstruction of the sentences of at most ``recon_max_words`` words (0: skip)."""
    dev = resolve_device(device)
    model, split = load_model_and_split(model_dir, data, dev, text_column)
    if num_sentences is not None:
        if num_sentences < 1:
            raise ValueError(f"num_sentences must be >= 1, got {num_sentences}")
        # the corpus' truncated / empty counts do not apply to the subset: reported as unknown (None)
        split = dataclasses.replace(split, ids=split.ids[:num_sentences], lengths=split.lengths[:num_sentences],
                                    num_truncated=None, num_empty=None,
                                    labels=split.labels[:num_sentences] if split.labels is not None else None)
    n_batches = math.ceil(len(split.ids) / batch_size)
    batches = progress(split_loader(split, batch_size, pad_id=model.tokenizer.pad_id, shuffle=False), total=n_batches,
                       enabled=show_progress, desc="eval")
    gen = torch.Generator(device=dev).manual_seed(seed)
    t0 = time.perf_counter()
    report = evaluate_vae(model, batches, iw_samples=iw_samples, generator=gen)
    if model.config.mode != "lm" and recon_max_words > 0 and model.config.condition is None:
        short = [ids[:-1].tolist() for ids in split.ids if len(ids) - 1 <= recon_max_words]
        report.update(reconstruction_quality(model, short))
        report["recon_max_words"] = recon_max_words
    report.update({
        "model": str(model_dir), "data": data, "first_sentences": num_sentences, "seed": seed, "batch_size": batch_size,
        "num_truncated": split.num_truncated, "num_empty_skipped": split.num_empty,
        "latent_size": model.config.latent_size, "seconds": round(time.perf_counter() - t0, 1),
    })
    return report


@torch.no_grad()
def per_sentence_nll(model: SentenceVAE, split: TokenizedSplit, *, iw_samples: int = 100, batch_size: int = 64,
                     seed: int = 0) -> torch.Tensor:
    """-log p(x) per sentence of ``split``, in corpus order, nats: exact for an LM, the importance-weighted
    bound with ``iw_samples`` posterior samples for a VAE (Burda et al. 2016). (N,) float64."""
    if model.config.mode == "ae":
        raise ValueError("a plain auto-encoder defines no likelihood p(x); compare VAEs and LMs")
    model.eval()
    gen = torch.Generator(device=model.device).manual_seed(seed)
    out = []
    for batch in split_loader(split, batch_size, pad_id=model.tokenizer.pad_id, shuffle=False, bucketing=False):
        ids, lengths = batch["input_ids"].to(model.device), batch["lengths"]          # corpus order, row for row
        labels = [batch["labels"]] if "labels" in batch else []
        if model.config.mode == "lm":
            out.append(-model.log_likelihood(None, ids, lengths))
        else:
            y = labels[0].to(model.device) if labels else None
            out.append(-iw_log_likelihood(model, ids, lengths, iw_samples, generator=gen, labels=y))
    return torch.cat(out).double().cpu()


def compare_nll(model_dirs: list[str | Path], data: str, *, iw_samples: int = 100, batch_size: int = 64,
                device: str = "auto", seed: int = 0) -> dict[str, Any]:
    """Paired comparison of -log p(x) on the same sentences: each model's mean, and each model's per-sentence
    difference from the first model with its standard error (std / sqrt(N)), the honest yardstick for
    "is A better than B on this test set". The models must share one vocabulary."""
    if len(model_dirs) < 2:
        raise ValueError(f"compare_nll needs at least two model folders, got {len(model_dirs)}")
    dev = resolve_device(device)
    first, vocab, report = None, None, {"data": data, "iw_samples": iw_samples, "seed": seed, "models": []}
    for path in model_dirs:
        model, split = load_model_and_split(path, data, dev)
        if vocab is None:
            vocab = model.tokenizer.get_vocab()
        elif model.tokenizer.get_vocab() != vocab:
            raise ValueError(f"{path} has another tokenizer than {model_dirs[0]}: per-sentence likelihoods of "
                             "different token sequences are not paired; compare models trained with one tokenizer")
        nll = per_sentence_nll(model, split, iw_samples=iw_samples, batch_size=batch_size, seed=seed)
        row = {"model": str(path), "mode": model.config.mode, "nll": nll.mean().item(), "num_sentences": nll.numel()}
        if first is None:
            first = nll
        else:
            d = nll - first
            row.update(diff=d.mean().item(), diff_se=(d.std() / math.sqrt(d.numel())).item(),
                       better_fraction=(d < 0).double().mean().item())
        report["models"].append(row)
    return report


def format_report(report: dict[str, Any]) -> str:
    lines = [f"{report['model']} on {report['data']} ({report['mode']})"]
    for key, label, fmt in ROWS:
        if key in report:
            value = fmt.format(report[key])
            if key == "au":
                value += f" / {report['latent_size']}"
            if key == "iw_nll":
                label += f" (k={report['iw_samples']})"
            if key == "posterior_kl":
                value += f" (ESS {report['ess']:.1f} of {report['iw_samples']}, min {report['ess_min']:.1f}; leans high)"

            lines.append(f"  {label:<42} {value}")
    if len(report.get("iw_nll_by_k", {})) > 1:
        curve = ", ".join(f"{v:.2f} (k={k})" for k, v in report["iw_nll_by_k"].items())
        lines.append(f"  IW-NLL as k grows: {curve}")
    if "recon_sentences" in report:
        lines.append(f"  (short sentences: the {report['recon_sentences']:,} of at most {report['recon_max_words']} words, "
                     "greedy decoding from the posterior mean)")
    if report.get("num_truncated"):
        lines.append(f"  note: {report['num_truncated']} sentences were truncated to the model's maximum length")
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: Optional[str | Path]) -> Optional[Path]:
    if path is None:
        return None
    return atomic_write_text(path, json.dumps(report, indent=2) + "\n")
