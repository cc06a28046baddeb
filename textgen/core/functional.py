"""Small maths shared by the model families."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["gaussian_kl", "blur_downsample"]


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per dimension (Kingma & Welling 2014, appendix B): (..., Z).

    Sum over the last axis for the KL of a diagonal Gaussian (the VAE's latent, the GAN's conditioning
    augmentation and posterior encoder)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def blur_downsample(x: Tensor) -> Tensor:
    """Halve H and W with a binomial [1, 2, 1] x [1, 2, 1] / 16 low-pass at stride 2 (reflect-padded): the
    anti-aliased down-sampling of Zhang (2019, "Making Convolutional Networks Shift-Invariant Again", ICML).

    Why it matters for a GAN: a strided 4x4 convolution's gradient with respect to its input piles up at the
    highest spatial frequency (on an untrained 32 px D, 2.2x white noise's share at the Nyquist bins, against
    0.15 with this blur; docs/experiments/gan_artifacts.md), so G is pushed along checkerboard directions.
    """
    k = x.new_tensor([1.0, 2.0, 1.0])
    k = (k[:, None] * k[None, :] / 16).expand(x.size(1), 1, 3, 3).contiguous()       # (C, 1, 3, 3) depthwise
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), k, stride=2, groups=x.size(1))   # (B, C, H/2, W/2)
