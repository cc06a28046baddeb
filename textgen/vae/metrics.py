"""Honest evaluation of sentence VAEs, with the standard definitions of the literature.

Everything is in nats, per sentence, and every sentence's ``<eos>`` is a scored token, so
``PPL = exp(total NLL / total tokens incl. <eos>)`` is comparable with language models
(the convention of Bowman et al. 2016 and of He et al. 2019 / Li et al. 2019 on PTB and Yahoo).

* **ELBO** = E_q[log p(x|z)] - KL(q(z|x) || p(z)): the reconstruction term with one z ~ q(z|x), the KL in
  closed form. ``-ELBO`` upper-bounds the NLL, so ``exp(-ELBO / tokens)`` upper-bounds the PPL.
* **Importance-weighted NLL** (Burda et al. 2016, "Importance Weighted Autoencoders"):
  ``log p(x) ~= logsumexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)] - log K``, z_k ~ q(z|x). It is a
  tighter bound than the ELBO for every K (equal in expectation for K = 1) and converges to log p(x);
  the IW PPL uses it.
* **Mutual information** I_q(x; z) as computed by He et al. (2019), "Lagging Inference Networks and
  Posterior Collapse in Variational Autoencoders" (``calc_mi``):
  ``E_x E_q(z|x)[log q(z|x)] - E_x E_q(z|x)[log q(z)]``, where the first term is the negative entropy
  of the Gaussian posterior in closed form, and the aggregate posterior q(z) is approximated *per
  minibatch* by the mixture ``1/B sum_j q(z|x_j)``, with one z per sentence. The minibatch estimates
  are averaged, weighted by batch size. It is biased and bounded by log B: compare values computed
  with the same batch size only.
* **Active units** (Burda et al. 2016): ``AU = #{d : Cov_x(E_q(z|x)[z_d]) > 0.01}`` -- the variance
  across the data set of each dimension of ``mu`` (unbiased, n - 1).

Modes: for ``mode="lm"`` the NLL is exact (no KL, no sampling, no IW). For ``mode="ae"`` the model is
not a density model of x (q is a point mass and there is no prior to integrate over), so only the
reconstruction NLL at z = mu (a reconstruction perplexity, *not* a language-model perplexity) and the
active units are reported; no ELBO, MI or IW.

``batches`` is any iterable of ``(input_ids, lengths)`` (or mappings / objects with those two fields),
traversed once. Functions switch the model to eval mode and restore its previous mode afterwards.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable, Iterator, Optional

import torch
from torch import Tensor

from textgen.core.runtime import randn
from textgen.vae.modeling import SentenceVAE
from textgen.core.functional import gaussian_kl

__all__ = [
    "log_normal_diag",
    "log_standard_normal",
    "log_importance_weight",
    "perplexity",
    "iw_log_likelihood",
    "iw_log_weights",
    "iw_nll_by_samples",
    "true_posterior_kl",
    "mutual_information_batch",
    "mutual_information",
    "active_units",
    "evaluate_vae",
    "edit_distance",
    "reconstruction_quality",
]

LOG_2PI = math.log(2.0 * math.pi)
IW_CURVE_KS = (1, 10, 100, 1000)  # the k at which evaluate_vae also reports IW-NLL, besides K itself


# ----------------------------------------------------------------------------- densities

def log_normal_diag(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp()).sum(-1)


def log_standard_normal(z: Tensor) -> Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def log_importance_weight(log_px_z: Tensor, z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log w = log p(x|z) + log p(z) - log q(z|x) for z ~ q(z|x) = N(mu, diag(exp(logvar))), p(z) = N(0, I)."""
    return log_px_z + log_standard_normal(z) - log_normal_diag(z, mu, logvar)


def perplexity(total_nll: float, total_tokens: int) -> float:
    """exp(total NLL in nats / number of tokens, <eos> included)."""
    return math.exp(total_nll / max(total_tokens, 1))


# ----------------------------------------------------------------------------- helpers

@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _labelled(labels: Optional[Tensor]) -> dict[str, Tensor]:
    """``labels=`` for a conditional VAE's calls, nothing for an unconditional one (whose verbs take none)."""
    return {} if labels is None else {"labels": labels}


def _unpack(batch: Any, device: torch.device) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """``(input_ids, lengths, labels)``; labels (a conditional VAE's label ids) are the third item, the
    ``"labels"`` key or attribute, or None."""
    if isinstance(batch, (tuple, list)):
        input_ids, lengths = batch[0], batch[1]
        labels = batch[2] if len(batch) > 2 else None
    elif isinstance(batch, dict):
        input_ids, lengths, labels = batch["input_ids"], batch["lengths"], batch.get("labels")
    else:
        input_ids, lengths, labels = batch.input_ids, batch.lengths, getattr(batch, "labels", None)
    input_ids, lengths = torch.as_tensor(input_ids), torch.as_tensor(lengths)
    labels = torch.as_tensor(labels).to(device) if labels is not None else None
    return input_ids.to(device), lengths.to("cpu"), labels  # lengths stay on the host (see SentenceVAE)


# ----------------------------------------------------------------------------- importance weighting

def iw_log_weights(model: SentenceVAE, input_ids: Tensor, lengths: Tensor, num_samples: int, *,
                   mu: Optional[Tensor] = None, logvar: Optional[Tensor] = None,
                   generator: Optional[torch.Generator] = None, max_rows: int = 512,
                   labels: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Log importance weights ``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` of K = ``num_samples`` posterior samples
    z_k ~ q(z|x), and the ``log p(x|z_k)`` inside them: two (K, B) tensors.

    Samples are scored ``max_rows // B`` at a time (at least one), so memory stays bounded for any K.
    """
    if model.config.mode != "vae":
        raise ValueError(f"importance weighting needs a VAE (mode='vae'), got mode={model.config.mode!r}")
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if mu is None or logvar is None:
        mu, logvar = model.encode(input_ids, lengths, **_labelled(labels))
    B = input_ids.size(0)
    chunk = max(1, min(num_samples, max_rows // max(B, 1)))
    log_w, log_p = [], []
    with torch.no_grad():
        done = 0
        while done < num_samples:
            m = min(chunk, num_samples - done)
            mu_r, logvar_r = mu.repeat(m, 1), logvar.repeat(m, 1)                  # (m*B, Z), row s*B + i
            z = model.reparameterize(mu_r, logvar_r, generator)
            log_px_z = model.log_likelihood(z, input_ids.repeat(m, 1), lengths.repeat(m),
                                            **_labelled(labels.repeat(m) if labels is not None else None))  # (m*B,)
            lw = log_importance_weight(log_px_z, z.float(), mu_r.float(), logvar_r.float())
            log_w.append(lw.view(m, B))
            log_p.append(log_px_z.view(m, B))
            done += m
    return torch.cat(log_w, dim=0), torch.cat(log_p, dim=0)                         # (K, B) each


def iw_log_likelihood(model: SentenceVAE, input_ids: Tensor, lengths: Tensor, num_samples: int, *,
                      mu: Optional[Tensor] = None, logvar: Optional[Tensor] = None,
                      generator: Optional[torch.Generator] = None, max_rows: int = 512,
                      labels: Optional[Tensor] = None) -> Tensor:
    """Importance-weighted estimate of log p(x) with K = ``num_samples`` posterior samples (Burda et al. 2016): (B,);
    with a conditional VAE's ``labels``, of log p(x | y)."""
    log_w, _ = iw_log_weights(model, input_ids, lengths, num_samples, mu=mu, logvar=logvar, labels=labels,
                              generator=generator, max_rows=max_rows)
    return torch.logsumexp(log_w, dim=0) - math.log(num_samples)                    # (B,)


def iw_nll_by_samples(log_w: Tensor, ks: Iterable[int]) -> dict[int, float]:
    """Mean IW-NLL for each k in ``ks`` from K log weights (K, B): the K samples are cut into K // k disjoint
    groups of k, each an independent IW_k estimate, and their bounds averaged (less noise than one group).
    How fast the bound falls with k shows how far IW_K still is from log p(x) (Burda et al. 2016)."""
    K = log_w.size(0)
    out = {}
    for k in ks:
        if not 1 <= k <= K:
            raise ValueError(f"k={k} must lie in [1, {K}], the number of samples given")
        groups = log_w[: (K // k) * k].double().view(K // k, k, -1)                # (G, k, B)
        out[k] = float(-(torch.logsumexp(groups, dim=1) - math.log(k)).mean())
    return out


def true_posterior_kl(log_w: Tensor, log_px_z: Tensor) -> dict[str, float]:
    """How much of z the generative model itself uses, estimated from K samples of q by self-normalised
    importance sampling (weights w_k / sum w): log p(x) = E_{p(z|x)}[log p(x|z)] - KL(p(z|x) || p(z)) exactly,
    so KL(p(z|x) || p(z)) ~ SNIS E[log p(x|z)] - IW_K. The quantity belongs to the model, not to q, but its
    estimate depends on q and leans high: IW_K lies below log p(x) by the bound's remaining gap, and a narrow
    q concentrates the normalised weights on samples that explain x best, inflating the SNIS mean. Read it
    as "the decoder uses at most about this much of z", and compare models with the best proposal at hand.
    ``ess`` (Kish: 1 / sum of squared normalised weights, mean over sentences) is reported beside it, and
    ``ess_min`` its smallest value; an ESS of a few percent of K means q is a poor proposal for p(z|x).
    Means per sentence, in nats."""
    log_w, log_px_z = log_w.double(), log_px_z.double()                              # (K, B)
    w = torch.softmax(log_w, dim=0)                                                 # normalised weights
    log_px = torch.logsumexp(log_w, dim=0) - math.log(log_w.size(0))                # IW_K, (B,)
    post_rec = (w * log_px_z).sum(0)                                                # E_p(z|x)[log p(x|z)], (B,)
    ess = 1.0 / w.pow(2).sum(0)                                                     # (B,)
    return {"posterior_kl": float((post_rec - log_px).mean()), "posterior_rec": float(-post_rec.mean()),
            "ess": float(ess.mean()), "ess_min": float(ess.min()), "iw_nll": float(-log_px.mean())}


# ----------------------------------------------------------------------------- mutual information, active units

def mutual_information_batch(mu: Tensor, logvar: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """He et al. (2019) ``calc_mi_q`` on one minibatch: E[log q(z|x)] - E[log q(z)], q(z) ~ batch mixture (scalar)."""
    mu, logvar = mu.float(), logvar.float()
    B, Z = mu.shape
    neg_entropy = (-0.5 * Z * LOG_2PI - 0.5 * (1.0 + logvar).sum(-1)).mean()       # E_x E_q log q(z|x), closed form
    eps = randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
    z = mu + eps * torch.exp(0.5 * logvar)                                          # (B, Z) one sample per x
    log_q = log_normal_diag(z[:, None, :], mu[None, :, :], logvar[None, :, :])       # (B_z, B_x) log q(z_i|x_j)
    log_qz = torch.logsumexp(log_q, dim=1) - math.log(B)                            # (B,) log of the mixture
    return neg_entropy - log_qz.mean()


def mutual_information(model: SentenceVAE, batches: Iterable, generator: Optional[torch.Generator] = None) -> float:
    """I_q(x; z) estimated as He et al. (2019): minibatch estimates averaged, weighted by batch size (nats)."""
    total, count = 0.0, 0
    with _eval_mode(model):
        for batch in batches:
            input_ids, lengths, labels = _unpack(batch, model.device)
            mu, logvar = model.encode(input_ids, lengths, **_labelled(labels))
            total += float(mutual_information_batch(mu, logvar, generator)) * mu.size(0)
            count += mu.size(0)
    return total / max(count, 1)


class _Moments:
    """Streaming per-dimension mean/variance of mu, in float64."""

    def __init__(self) -> None:
        self.n, self.s, self.ss = 0, None, None

    def add(self, mu: Tensor) -> None:
        mu = mu.detach().double()
        s, ss = mu.sum(0), mu.pow(2).sum(0)
        self.s = s if self.s is None else self.s + s
        self.ss = ss if self.ss is None else self.ss + ss
        self.n += mu.size(0)

    def variance(self) -> Tensor:
        if self.n < 2:
            return torch.zeros_like(self.s) if self.s is not None else torch.zeros(0, dtype=torch.float64)
        return ((self.ss - self.s.pow(2) / self.n) / (self.n - 1)).clamp_min(0.0)


def active_units(model: SentenceVAE, batches: Iterable, threshold: float = 0.01) -> tuple[int, Tensor]:
    """Burda et al. (2016): number of dimensions d with Var_x(E_q(z|x)[z_d]) > ``threshold``, and the variances (Z,)."""
    moments = _Moments()
    with _eval_mode(model):
        for batch in batches:
            input_ids, lengths, labels = _unpack(batch, model.device)
            mu, _ = model.encode(input_ids, lengths, **_labelled(labels))
            moments.add(mu)
    var = moments.variance().cpu()
    return int((var > threshold).sum()), var


# ----------------------------------------------------------------------------- everything at once

def evaluate_vae(model: SentenceVAE, batches: Iterable, iw_samples: int = 0,
                 generator: Optional[torch.Generator] = None, *, au_threshold: float = 0.01,
                 iw_max_rows: int = 512) -> dict[str, Any]:
    """All metrics in one pass over ``batches``. Per-sentence values are means over sentences (nats).

    Keys (``-`` = absent for that mode):

    ===============  =====================================================  =========  =========  =========
    key              meaning                                                vae        ae         lm
    ===============  =====================================================  =========  =========  =========
    rec              -log p(x|z): z ~ q(z|x) / z = mu / exact NLL            yes        yes (mu)   yes
    rec_mu           -log p(x|z=mu)                                          yes        yes        -
    kl               KL(q(z|x) || N(0, I)), closed form                      yes        0          0
    elbo             true ELBO = -(rec + kl) (beta = 1, no free bits)        yes        -          -nll
    nll              NLL estimate behind ``ppl``: -ELBO / exact               yes        -          yes
    ppl              exp(sum nll / tokens)  (an upper bound for vae)         yes        -          yes
    rec_ppl          exp(sum rec / tokens): reconstruction perplexity        yes        yes        yes
    iw_nll, iw_ppl   importance-weighted NLL / PPL, K = iw_samples            if K > 0   -          -
    iw_nll_by_k      {k: IW-NLL with k of the K samples} for k = 1, 10, 100, ..., K  if K > 0   -          -
    posterior_kl     KL(p(z|x) || p(z)) of the true posterior, SNIS estimate  if K > 0   -          -
    ess, ess_min     effective sample size of the K weights: mean, smallest   if K > 0   -          -
    mi               I_q(x; z), He et al. (2019) estimator                   yes        -          -
    au               active units, threshold ``au_threshold``                yes        yes        -
    ===============  =====================================================  =========  =========  =========

    plus ``mode``, ``num_sentences``, ``num_tokens`` (incl. ``<eos>``), ``nll_per_token`` (vae, lm) and
    ``iw_samples`` (vae). ``rec`` for vae and ``mi``/``iw_*`` use ``generator`` for their samples.
    """
    mode = model.config.mode
    n_sent, n_tok = 0, 0
    rec_sum, rec_mu_sum, kl_sum, mi_sum, post_kl_sum, ess_sum = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    moments = _Moments()
    use_iw = mode == "vae" and iw_samples > 0
    curve_ks = sorted({k for k in IW_CURVE_KS if k < iw_samples} | {iw_samples}) if use_iw else []
    iw_sums = dict.fromkeys(curve_ks, 0.0)
    ess_min = math.inf
    with _eval_mode(model):
        for batch in batches:
            input_ids, lengths, labels = _unpack(batch, model.device)
            B = input_ids.size(0)
            n_sent += B
            n_tok += int(lengths.sum())
            if mode == "lm":
                rec_sum += float(-model.log_likelihood(None, input_ids, lengths).double().sum())
                continue
            mu, logvar = model.encode(input_ids, lengths, **_labelled(labels))
            moments.add(mu)
            rec_mu = -model.log_likelihood(mu, input_ids, lengths, **_labelled(labels))
            rec_mu_sum += float(rec_mu.double().sum())
            if mode == "ae":
                rec_sum += float(rec_mu.double().sum())
                continue
            z = model.reparameterize(mu, logvar, generator)
            rec_sum += float(-model.log_likelihood(z, input_ids, lengths, **_labelled(labels)).double().sum())
            kl_sum += float(gaussian_kl(mu.float(), logvar.float()).sum().double())
            mi_sum += float(mutual_information_batch(mu, logvar, generator)) * B
            if use_iw:
                log_w, log_px_z = iw_log_weights(model, input_ids, lengths, iw_samples, mu=mu, logvar=logvar,
                                                 generator=generator, max_rows=iw_max_rows, labels=labels)
                for k, v in iw_nll_by_samples(log_w, curve_ks).items():          # k = K is the IW-NLL itself
                    iw_sums[k] += v * B
                post = true_posterior_kl(log_w, log_px_z)
                post_kl_sum += post["posterior_kl"] * B
                ess_sum += post["ess"] * B
                ess_min = min(ess_min, post["ess_min"])

    n = max(n_sent, 1)
    out: dict[str, Any] = {"mode": mode, "num_sentences": n_sent, "num_tokens": n_tok}
    out["rec"] = rec_sum / n
    out["rec_ppl"] = perplexity(rec_sum, n_tok)
    if mode != "lm":
        out["rec_mu"] = rec_mu_sum / n
        out["au"] = int((moments.variance() > au_threshold).sum()) if moments.s is not None else 0
    if mode == "ae":
        out["kl"] = 0.0
        return out
    nll_sum = rec_sum + kl_sum
    out["kl"] = kl_sum / n
    out["elbo"] = -nll_sum / n
    out["nll"] = nll_sum / n
    out["nll_per_token"] = nll_sum / max(n_tok, 1)
    out["ppl"] = perplexity(nll_sum, n_tok)
    if mode == "vae":
        out["mi"] = mi_sum / n
        out["iw_samples"] = iw_samples if use_iw else 0
        if use_iw:
            out["iw_nll"] = iw_sums[iw_samples] / n
            out["iw_ppl"] = perplexity(iw_sums[iw_samples], n_tok)
            out["iw_nll_by_k"] = {str(k): v / n for k, v in iw_sums.items()}           # str keys: JSON round-trips
            out["posterior_kl"] = post_kl_sum / n
            out["ess"] = ess_sum / n
            out["ess_min"] = ess_min
    return out


# ----------------------------------------------------------------------------- reconstruction

def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance between two token sequences (insertions, deletions, substitutions cost 1)."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def reconstruction_quality(model: SentenceVAE, sentences: list[list[int]], batch_size: int = 128,
                           max_length: int = 64) -> dict[str, float]:
    """Greedy reconstructions from the posterior mean: exact-match rate and word error rate.

    ``sentences`` are token-id lists without specials. WER is the standard speech-recognition measure:
    total edit distance / total reference tokens (Levenshtein, as in NIST sclite). Returns
    ``{"recon_sentences", "recon_exact", "recon_wer"}``.
    """
    if model.config.mode == "lm":
        raise ValueError("a language model (mode='lm') has no encoder to reconstruct with")
    c = model.config
    exact = errors = ref_tokens = 0
    with _eval_mode(model):
        for start in range(0, len(sentences), batch_size):
            chunk = sentences[start:start + batch_size]
            lengths = torch.tensor([len(s) + 1 for s in chunk])
            ids = torch.full((len(chunk), int(lengths.max())), c.pad_id, dtype=torch.long)
            for i, s in enumerate(chunk):
                ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
                ids[i, len(s)] = c.eos_id
            mu, _ = model.encode(ids.to(model.device), lengths)
            for ref, hyp in zip(chunk, model.generate(mu, strategy="greedy", max_length=max_length)):
                exact += hyp == ref
                errors += edit_distance(ref, hyp)
                ref_tokens += len(ref)
    n = max(len(sentences), 1)
    return {"recon_sentences": len(sentences), "recon_exact": exact / n, "recon_wer": errors / max(ref_tokens, 1)}
