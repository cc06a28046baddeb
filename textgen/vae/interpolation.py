"""Paths through the latent space: linear and spherical interpolation, and latent analogies.

Pure tensor functions, outside the model (like the KL schedules): the pipeline encodes two sentences,
asks for a path between their posterior means, and decodes every point.

* :func:`lerp` -- ``(1 - t) z0 + t z1``, the straight line (Bowman et al. 2016, sec. 5: "homotopies").
* :func:`slerp` -- spherical linear interpolation (Shoemake 1985), recommended for Gaussian latents by
  White (2016), "Sampling Generative Networks": a straight line between two typical samples of a
  high-dimensional N(0, I) passes through the low-density region near the origin (its midpoint has a
  norm about ``1/sqrt(2)`` of the endpoints'), while slerp follows the great circle and, for endpoints of
  equal norm, keeps that norm at every point. For unequal norms the norm moves smoothly between them.
* :func:`interpolation_weights` -- ``steps`` interior points plus the two endpoints, t in [0, 1].
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["lerp", "slerp", "interpolate", "interpolation_weights", "analogy"]

Method = Literal["slerp", "linear"]


def interpolation_weights(steps: int) -> Tensor:
    """``steps`` evenly spaced interior weights plus both endpoints: ``(steps + 2,)`` from 0 to 1 exactly."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer (the number of points between the two sentences), "
                         f"got {steps!r}")
    return torch.arange(steps + 2, dtype=torch.float64) / (steps + 1)


def lerp(z0: Tensor, z1: Tensor, t: Tensor) -> Tensor:
    """Straight-line interpolation: ``(1 - t) z0 + t z1`` for every weight in ``t`` (N,): (N, Z)."""
    t = t.to(torch.float64)[:, None]                                                   # (N, 1)
    z0, z1 = z0.to(torch.float64)[None, :], z1.to(torch.float64)[None, :]              # (1, Z)
    out = (1 - t) * z0 + t * z1
    # exact endpoints (in float64 (1-1)*z0 + 1*z1 is exact already; be explicit for any dtype)
    out[t[:, 0] == 0] = z0[0]
    out[t[:, 0] == 1] = z1[0]
    return out


def slerp(z0: Tensor, z1: Tensor, t: Tensor, eps: float = 1e-7) -> Tensor:
    """Spherical linear interpolation (Shoemake 1985) of two vectors (Z,) at weights ``t`` (N,): (N, Z).

    ``sin((1-t) w) / sin w * z0 + sin(t w) / sin w * z1`` with ``w`` the angle between z0 and z1. Computed
    in float64; returns z0 at t = 0 and z1 at t = 1 exactly. Nearly parallel vectors (``sin w < eps``)
    fall back to :func:`lerp`, the limit of the formula; exactly opposite vectors have no unique great
    circle and raise ``ValueError``.
    """
    a, b = z0.to(torch.float64), z1.to(torch.float64)
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(z0, z1, t)
    cos = torch.clamp((a @ b) / (na * nb), -1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    if sin < eps:
        if cos < 0:
            raise ValueError("slerp between exactly opposite vectors is undefined (no unique great circle); "
                             "use method='linear'")
        return lerp(z0, z1, t)
    t = t.to(torch.float64)[:, None]                                                   # (N, 1)
    out = torch.sin((1 - t) * omega) / sin * a[None, :] + torch.sin(t * omega) / sin * b[None, :]
    out[t[:, 0] == 0] = a
    out[t[:, 0] == 1] = b
    return out


def interpolate(z0: Tensor, z1: Tensor, steps: int, method: Method = "slerp") -> tuple[Tensor, Tensor]:
    """The path from z0 to z1: ``(points (steps + 2, Z) in z0's dtype, weights (steps + 2,))``."""
    if method not in ("slerp", "linear"):
        raise ValueError(f"method must be 'slerp' or 'linear', got {method!r}")
    if z0.shape != z1.shape or z0.dim() != 1:
        raise ValueError(f"interpolate needs two codes of the same shape (Z,), got {tuple(z0.shape)} and {tuple(z1.shape)}")
    t = interpolation_weights(steps)
    path = slerp(z0, z1, t) if method == "slerp" else lerp(z0, z1, t)
    return path.to(z0.dtype), t


def analogy(z_a: Tensor, z_b: Tensor, z_c: Tensor) -> Tensor:
    """"a is to b as c is to ?": ``z_c + (z_b - z_a)`` (the latent-vector arithmetic of Mikolov et al. 2013)."""
    return z_c + (z_b - z_a)
