"""The training objective of the Sentence VAE: reconstruction + beta * (thresholded) KL.

    loss = mean_x [ -log p(x|z) ] + beta * KL_eff,         z ~ q(z|x)

``KL_eff`` is the true KL unless free bits are on:

* ``free_bits_mode="per_dim"`` -- KL thresholding per latent dimension, the KL of each dimension first
  averaged over the batch: ``KL_eff = sum_j max(lambda, mean_x KL_j)`` (free bits of Kingma et al. 2016,
  "Improved Variational Inference with Inverse Autoregressive Flow"; as used for text by Li et al.
  2019, "A Surprisingly Effective Fix for Deep Latent Variable Modeling of Text"). A dimension whose
  average KL is below lambda gets no gradient from the KL term, so the encoder may use it freely.
* ``free_bits_mode="total"`` -- one threshold on the total: ``KL_eff = max(lambda, mean_x KL)``.

**What to report.** ``LossTerms.loss`` is the *weighted* objective being optimised (beta, free bits):
log it as the training loss, never as a likelihood. ``LossTerms.elbo`` is always the true ELBO
(beta = 1, no free bits), and validation/test numbers must come from it (or from
:mod:`textgen.vae.metrics`), whatever schedule or threshold training used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from textgen.models.vae import VAEOutput

__all__ = ["LossTerms", "vae_loss"]


@dataclass
class LossTerms:
    """Scalars for one batch; all but ``loss`` are detached (for logging; no host sync is made)."""

    loss: Tensor        # rec + beta * kl_eff, mean per sentence -- backpropagate this
    rec: Tensor         # mean -log p(x|z) per sentence (nats)
    kl: Tensor          # mean true KL(q(z|x) || p(z)) per sentence
    kl_eff: Tensor      # the KL term actually weighted by beta (after free bits)
    elbo: Tensor        # mean true ELBO per sentence = -(rec + kl)
    num_tokens: Tensor  # tokens scored in the batch (incl. <eos>), for per-token averages


def vae_loss(out: VAEOutput, beta: float = 1.0, free_bits: float = 0.0,
             free_bits_mode: Literal["per_dim", "total"] = "per_dim") -> LossTerms:
    """Combine the per-sentence terms of :class:`VAEOutput` into the weighted training loss.

    For ``mode="ae"`` and ``mode="lm"`` there is no KL term: the loss is the reconstruction NLL and
    ``beta``/``free_bits`` have no effect.
    """
    if free_bits_mode not in ("per_dim", "total"):
        raise ValueError(f"free_bits_mode must be 'per_dim' or 'total', got {free_bits_mode!r}")
    if free_bits < 0:
        raise ValueError(f"free_bits must be >= 0, got {free_bits}")
    rec = out.rec_nll.mean()
    kl = out.kl.mean()
    if not out.variational:
        kl_eff = kl.new_zeros(())
    elif free_bits > 0 and free_bits_mode == "per_dim":
        kl_eff = torch.clamp(out.kl_per_dim.mean(0), min=free_bits).sum()           # sum_j max(lambda, E_x KL_j)
    elif free_bits > 0:
        kl_eff = torch.clamp(kl, min=free_bits)                                     # max(lambda, E_x KL)
    else:
        kl_eff = kl
    loss = rec + beta * kl_eff if out.variational else rec
    return LossTerms(
        loss=loss,
        rec=rec.detach(),
        kl=kl.detach(),
        kl_eff=kl_eff.detach(),
        elbo=-(rec + kl).detach(),
        num_tokens=out.num_tokens.sum(),
    )
