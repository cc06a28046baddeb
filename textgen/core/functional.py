"""Small maths shared by the model families."""
from __future__ import annotations

from torch import Tensor

__all__ = ["gaussian_kl"]


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension (Kingma & Welling 2014, appendix B): (..., Z).

    Sum over the last axis for the KL of a diagonal Gaussian (the VAE's latent, the GAN's conditioning
    augmentation and posterior encoder)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
