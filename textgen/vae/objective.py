"""The training objective of the Sentence VAE: reconstruction + beta * (thresholded) KL.

    loss = mean_x [ -log p(x|z) ] + beta * KL_eff,         z ~ q(z|x)

``KL_eff`` is the true KL unless free bits are on:

* ``free_bits_mode="per_dim"`` -- KL thresholding per latent dimension, the KL of each dimension first
  averaged over the batch: ``KL_eff = sum_j max(lambda, mean_x KL_j)`` (free bits of Kingma et al. 2016,
  "Improved Variational Inference with Inverse Autoregressive Flow"; as used for text by Li et al.
  2019, "A Surprisingly Effective Fix for Deep Latent Variable Modeling of Text"). A dimension whose
  average KL is below lambda gets no gradient from the KL term, so the encoder may use it freely.
* ``free_bits_mode="total"`` -- one threshold on the total: ``KL_eff = max(lambda, mean_x KL)``.

**Importance-weighted training** (``iwae_loss``; Burda et al. 2016, "Importance Weighted Autoencoders"):
with K posterior samples per sentence the loss is the negative IW bound

    loss = -mean_x [ log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) ] + sum_j max(0, lambda - mean_x KL_j),

the bound that ``textgen eval-vae --iw-samples`` measures, tighter than the ELBO for K > 1 (with K = 1 it
would be the ELBO with a sampled KL; the trainer uses ``vae_loss`` then). Free bits carry over as the hinge
they are: ``max(lambda, KL) = KL + max(0, lambda - KL)``, so the thresholded ELBO is exactly the ELBO plus
this "information floor", and here the same floor is added to the IW bound (per dimension, or on the total
with ``"total"``). At K = 1 that would be free bits in expectation; for K > 1 the bound penalises information
in z less than the ELBO does, so below lambda the floor is a net push up on the KL, not just no gradient.
Memory: the decoder runs on K x B rows at once, so K multiplies the activation memory of a step.

**What to report.** ``LossTerms.loss`` is the *weighted* objective being optimised (beta, free bits):
log it as the training loss, never as a likelihood. ``LossTerms.elbo`` is always the true ELBO
(beta = 1, no free bits), and validation/test numbers must come from it (or from
:mod:`textgen.vae.metrics`), whatever schedule or threshold training used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional

import torch
from torch import Tensor

from textgen.vae.modeling import VAEOutput
from textgen.vae.metrics import log_importance_weight

__all__ = ["LossTerms", "iwae_loss", "vae_loss"]


@dataclass
class LossTerms:
    """Scalars for one batch; all but ``loss`` are detached (for logging; no host sync is made)."""

    loss: Tensor        # rec + beta * kl_eff, mean per sentence -- backpropagate this
    rec: Tensor         # mean -log p(x|z) per sentence (nats)
    kl: Tensor          # mean true KL(q(z|x) || p(z)) per sentence
    kl_eff: Tensor      # the KL term actually weighted by beta (after free bits)
    elbo: Tensor        # mean true ELBO per sentence = -(rec + kl)
    num_tokens: Tensor  # tokens scored in the batch (incl. <eos>), for per-token averages
    iw_bound: Optional[Tensor] = None  # mean IW bound per sentence (iwae_loss only)


def _check_free_bits(free_bits: float, free_bits_mode: str) -> None:
    if free_bits_mode not in ("per_dim", "total"):
        raise ValueError(f"free_bits_mode must be 'per_dim' or 'total', got {free_bits_mode!r}")
    if free_bits < 0:
        raise ValueError(f"free_bits must be >= 0, got {free_bits}")


def vae_loss(out: VAEOutput, beta: float = 1.0, free_bits: float = 0.0,
             free_bits_mode: Literal["per_dim", "total"] = "per_dim") -> LossTerms:
    """Combine the per-sentence terms of :class:`VAEOutput` into the weighted training loss.

    For ``mode="ae"`` and ``mode="lm"`` there is no KL term: the loss is the reconstruction NLL and
    ``beta``/``free_bits`` have no effect.
    """
    _check_free_bits(free_bits, free_bits_mode)
    if out.rec_nll.dim() != 1:
        raise ValueError(f"vae_loss takes one sample per sentence, got rec_nll of shape {tuple(out.rec_nll.shape)}; "
                         "an output with K samples (num_samples=K) goes to iwae_loss")
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


def iwae_loss(out: VAEOutput, free_bits: float = 0.0,
              free_bits_mode: Literal["per_dim", "total"] = "per_dim") -> LossTerms:
    """The negative importance-weighted bound (Burda et al. 2016) of an output with K samples per sentence
    (``model(input_ids, lengths, num_samples=K)``), plus the free-bits floor on the KL (module docstring).

    Gradients flow through the reparameterised samples into the encoder and through p(x|z) into the decoder.
    """
    _check_free_bits(free_bits, free_bits_mode)
    if not out.variational or out.z is None or out.z.dim() != 3:
        raise ValueError("iwae_loss needs a VAE output with K samples per sentence: "
                         "call model(input_ids, lengths, num_samples=K) on a model with mode='vae'")
    K = out.z.size(0)
    z, mu, logvar = out.z.float(), out.mu.float(), out.logvar.float()                 # (K, B, Z), (B, Z)
    log_w = log_importance_weight(-out.rec_nll.float(), z, mu, logvar)                # (K, B)
    iw = (torch.logsumexp(log_w, dim=0) - math.log(K)).mean()                         # mean_x IW_K bound
    kl = out.kl.mean()
    if free_bits > 0 and free_bits_mode == "per_dim":
        floor = torch.clamp(free_bits - out.kl_per_dim.mean(0), min=0.0).sum()       # sum_j max(0, lambda - E_x KL_j)
    else:
        floor = torch.clamp(free_bits - kl, min=0.0)                                  # 0 when free_bits = 0
    rec = out.rec_nll.mean()
    return LossTerms(
        loss=-iw + floor,
        rec=rec.detach(),
        kl=kl.detach(),
        kl_eff=(kl + floor).detach(),
        elbo=-(rec + kl).detach(),
        num_tokens=out.num_tokens.sum(),
        iw_bound=iw.detach(),
    )
