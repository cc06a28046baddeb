"""The sampling prior: a Gaussian mixture fitted to the aggregate posterior after training.

A VAE trained with a generous KL budget (free bits) keeps a lot of the sentence in z, and its aggregate
posterior q(z) = E_x q(z|x) no longer fills N(0, I): the codes of real sentences occupy a smaller, correlated
region, and codes drawn from N(0, I) fall where no sentence was ever encoded, so the decoder writes word salad
there. Ex-post density estimation (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders", ICLR,
section 4) fits a K-component Gaussian mixture to the codes of training sentences and samples from it instead.
The training objective is unchanged: ELBO, IW-NLL, KL, MI and AU are still measured against N(0, I), the
prior the model was trained with; the mixture only decides where ``sample``/``generate`` draw z.

    codes = z ~ q(z|x) of training sentences --EM--> p_K(z) = sum_k w_k N(z; m_k, L_k L_k^T)

The mixture is fitted by expectation-maximisation (Dempster et al. 1977) with full covariances, started from
k-means++ seeds (Arthur & Vassilvitskii 2007), with ``reg`` added to every covariance's diagonal as
scikit-learn's ``GaussianMixture(reg_covar=...)`` does.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from textgen.core.runtime import multinomial, randn

__all__ = ["GaussianMixturePrior", "fit_gaussian_mixture"]


class GaussianMixturePrior(nn.Module):
    """p(z) = sum_k w_k N(z; m_k, L_k L_k^T), held as buffers (saved in ``model.safetensors``).

    Built unfitted it is N(0, I) itself (every component standard normal), so a model that was never fitted
    samples exactly as before.
    """

    def __init__(self, components: int, latent_size: int):
        super().__init__()
        K, Z = components, latent_size
        self.register_buffer("weights", torch.full((K,), 1.0 / K))                  # (K,)
        self.register_buffer("means", torch.zeros(K, Z))                            # (K, Z)
        self.register_buffer("scale_tril", torch.eye(Z).repeat(K, 1, 1))            # (K, Z, Z)

    @property
    def components(self) -> int:
        return self.weights.numel()

    @torch.no_grad()
    def sample(self, n: int, generator: Optional[torch.Generator] = None, temperature: float = 1.0) -> Tensor:
        """n codes (n, Z): a component by its weight, then its mean plus ``temperature`` times its spread."""
        w, m, L = self.weights.float(), self.means.float(), self.scale_tril.float()
        k = multinomial(w.expand(n, -1), generator)                                 # (n,)
        eps = randn((n, m.size(1), 1), device=m.device, generator=generator)         # (n, Z, 1)
        return m[k] + temperature * (L[k] @ eps).squeeze(-1)                       # (n, Z)

    @torch.no_grad()
    def log_prob(self, z: Tensor) -> Tensor:
        """log p_K(z) for codes (N, Z): (N,)."""
        return torch.logsumexp(_component_log_probs(z.float(), self.weights.float().log(), self.means.float(),
                                                    self.scale_tril.float()), dim=1)

    @torch.no_grad()
    def load_fit(self, weights: Tensor, means: Tensor, scale_tril: Tensor) -> None:
        """Take the parameters of :func:`fit_gaussian_mixture` (shapes must match this prior's)."""
        for name, value in (("weights", weights), ("means", means), ("scale_tril", scale_tril)):
            mine = getattr(self, name)
            if value.shape != mine.shape:
                raise ValueError(f"latent prior: {name} of shape {tuple(value.shape)} does not fit this prior's "
                                 f"{tuple(mine.shape)}")
            mine.copy_(value)


def _component_log_probs(x: Tensor, log_w: Tensor, means: Tensor, L: Tensor) -> Tensor:
    """log w_k + log N(x; m_k, L_k L_k^T) for every point and component: (N, K)."""
    N, D = x.shape
    out = x.new_empty(N, means.size(0))
    for k in range(means.size(0)):
        diff = (x - means[k]).T                                                    # (D, N)
        sol = torch.linalg.solve_triangular(L[k], diff, upper=False)               # (D, N) = L^-1 (x - m)
        log_det = 2.0 * torch.log(torch.diagonal(L[k])).sum()
        out[:, k] = log_w[k] - 0.5 * (sol.pow(2).sum(0) + log_det + D * math.log(2 * math.pi))
    return out


def _kmeans_pp(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre drawn with probability ~ squared
    distance to the nearest centre so far. (k, D)."""
    first = int(torch.randint(x.size(0), (1,), generator=generator))
    centres = [x[first]]
    d2 = (x - x[first]).pow(2).sum(1)                                              # (N,)
    for _ in range(1, k):
        i = int(torch.multinomial(d2 / d2.sum(), 1, generator=generator))
        centres.append(x[i])
        d2 = torch.minimum(d2, (x - x[i]).pow(2).sum(1))
    return torch.stack(centres)


@torch.no_grad()
def fit_gaussian_mixture(x: Tensor, components: int, *, iterations: int = 100, tol: float = 1e-3,
                         reg: float = 1e-4, seed: int = 0) -> dict:
    """Fit a full-covariance Gaussian mixture to points ``x`` (N, D) by EM.

    Starts from k-means++ seeds (hard assignment to the nearest seed), then alternates the M step (weights,
    means, covariances + ``reg`` I) and the E step (responsibilities) until the mean log-likelihood gains less
    than ``tol`` nats. Returns ``weights`` (K,), ``means`` (K, D), ``scale_tril`` (K, D, D) (the Cholesky
    factors), ``log_likelihood`` (the mean per point) and ``iterations`` (EM steps run).
    """
    x = x.detach().float().cpu()
    N, D = x.shape
    if not 1 <= components <= N:
        raise ValueError(f"a mixture of {components} components needs 1 <= components <= points ({N})")
    if not torch.isfinite(x).all():
        raise ValueError("the codes to fit hold NaN or infinite values; check the model's encoder output")
    g = torch.Generator().manual_seed(seed)
    seeds = _kmeans_pp(x, components, g)
    resp = torch.zeros(N, components)
    resp[torch.arange(N), torch.cdist(x, seeds).argmin(1)] = 1.0                   # (N, K) hard start
    eye = torch.eye(D)
    prev, ll, it = -math.inf, -math.inf, 0
    for it in range(1, iterations + 1):
        # M step
        nk = resp.sum(0) + 10 * torch.finfo(torch.float32).eps                     # (K,)
        weights = nk / N
        means = (resp.T @ x) / nk[:, None]                                         # (K, D)
        L = torch.empty(components, D, D)
        for k in range(components):
            diff = x - means[k]                                                    # (N, D)
            cov = (resp[:, k, None] * diff).T @ diff / nk[k] + reg * eye           # (D, D)
            L[k] = torch.linalg.cholesky(cov)
        # E step
        logp = _component_log_probs(x, weights.log(), means, L)                    # (N, K)
        norm = torch.logsumexp(logp, dim=1, keepdim=True)                          # (N, 1)
        resp = torch.exp(logp - norm)
        ll = float(norm.mean())
        if ll - prev < tol:
            break
        prev = ll
    return {"weights": weights, "means": means, "scale_tril": L, "log_likelihood": ll, "iterations": it}
