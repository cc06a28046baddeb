"""Latent paths: slerp and lerp endpoints, norms, weights, argument errors."""
import math

import pytest
import torch

from textgen.vae.interpolation import analogy, interpolate, interpolation_weights, lerp, slerp


def test_weights_include_both_endpoints_exactly():
    t = interpolation_weights(4)
    assert t.tolist() == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="steps must be a positive integer"):
            interpolation_weights(bad)


@pytest.mark.parametrize("fn", [slerp, lerp])
def test_endpoints_come_back_exactly(fn):
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        z0, z1 = torch.randn(32, generator=g) * 3, torch.randn(32, generator=g)
        path = fn(z0, z1, interpolation_weights(7)).float()
        assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)


def test_slerp_keeps_the_norm_of_equal_norm_endpoints():
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        z0, z1 = torch.randn(16, generator=g, dtype=torch.float64), torch.randn(16, generator=g, dtype=torch.float64)
        z1 = z1 / z1.norm() * z0.norm()
        path = slerp(z0, z1, interpolation_weights(9))
        assert torch.allclose(path.norm(dim=1), z0.norm().expand(11), rtol=1e-12, atol=0)
        # and lerp does not: its midpoint is shorter (the motivation for slerp, White 2016)
        assert lerp(z0, z1, torch.tensor([0.5]))[0].norm() < z0.norm()


def test_slerp_moves_at_constant_angular_speed_on_the_great_circle():
    z0, z1 = torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)
    path = slerp(z0, z1, interpolation_weights(1))                                  # t = 0, 0.5, 1
    assert torch.allclose(path[1], torch.tensor([math.sqrt(0.5), math.sqrt(0.5)], dtype=torch.float64))


def test_slerp_degenerate_cases():
    z = torch.tensor([1.0, 2.0, 3.0])
    t = interpolation_weights(3)
    assert torch.allclose(slerp(z, 2 * z, t).float(), lerp(z, 2 * z, t).float())  # parallel: the limit is lerp
    assert torch.allclose(slerp(torch.zeros(3), z, t).float(), lerp(torch.zeros(3), z, t).float())
    with pytest.raises(ValueError, match="opposite"):
        slerp(z, -z, t)


def test_interpolate_returns_points_and_weights_and_checks_arguments():
    z0, z1 = torch.randn(8), torch.randn(8)
    path, t = interpolate(z0, z1, 3, "linear")
    assert path.shape == (5, 8) and path.dtype == z0.dtype and t.tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert torch.allclose(path[2], (z0 + z1) / 2)
    with pytest.raises(ValueError, match="method"):
        interpolate(z0, z1, 3, "cubic")
    with pytest.raises(ValueError, match="same shape"):
        interpolate(z0, torch.randn(4), 3)


def test_analogy_is_vector_arithmetic():
    a, b, c = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]), torch.tensor([5.0, 5.0])
    assert analogy(a, b, c).tolist() == [5.0, 6.0]
