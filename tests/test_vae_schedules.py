"""KL-weight schedules (pure functions of the step) and the weighted training objective (free bits)."""
import math
import subprocess
import sys

import pytest
import torch

from textgen.core.config import ConfigError, config_from_dict
from textgen.vae.modeling import VAEOutput
from textgen.vae.schedules import (KLScheduleConfig, constant, cyclical, linear, logistic, make_kl_schedule,
                                   zero_then_linear)


# ----------------------------------------------------------------------------- schedules

def test_constant():
    assert constant(0) == 1.0 and constant(123, 0.3) == 0.3


def test_linear():
    assert linear(0, 100) == 0.0
    assert linear(25, 100) == 0.25
    assert linear(100, 100) == 1.0 and linear(10_000, 100) == 1.0
    assert linear(50, 100, start=0.2, end=0.6) == pytest.approx(0.4)
    assert linear(0, 0) == 1.0            # no warm-up: the end value at once
    assert linear(-5, 100) == 0.0


def test_logistic_is_bowmans_sigmoid():
    assert logistic(2500, k=0.0025, x0=2500) == 0.5
    for step in (0, 1000, 4000):
        assert logistic(step, 0.0025, 2500) == pytest.approx(1 / (1 + math.exp(-0.0025 * (step - 2500))))
    assert logistic(10**9, 1.0, 0) == 1.0 and logistic(-10**9, 1.0, 0) == 0.0   # no overflow
    assert logistic(0, 0.0025, 2500) < 0.01 < 0.99 < logistic(5000, 0.0025, 2500)


def test_cyclical_follows_fu_et_al():
    # total 100 steps, 4 cycles of 25 steps, rising over the first half (12.5 steps)
    expect = {0: 0.0, 5: 0.4, 10: 0.8, 12: 0.96, 13: 1.0, 24: 1.0, 25: 0.0, 30: 0.4, 50: 0.0, 99: 1.0, 100: 1.0, 500: 1.0}
    for step, beta in expect.items():
        assert cyclical(step, 100, n_cycles=4, ratio=0.5) == pytest.approx(beta), step
    assert cyclical(50, 100, n_cycles=1, ratio=1.0) == pytest.approx(0.5)   # one cycle, ratio 1 = linear


def test_cyclical_matches_reference_implementation():
    def frange_cycle_linear(n_iter, start=0.0, stop=1.0, n_cycle=4, ratio=0.5):  # Fu et al.'s code
        L = [stop] * n_iter
        period = n_iter / n_cycle
        step = (stop - start) / (period * ratio)
        for c in range(n_cycle):
            v, i = start, 0
            while v <= stop and int(i + c * period) < n_iter:
                L[int(i + c * period)] = v
                v += step
                i += 1
        return L

    for n_iter, n_cycle, ratio in [(100, 4, 0.5), (120, 3, 0.25), (64, 2, 0.75)]:
        ref = frange_cycle_linear(n_iter, n_cycle=n_cycle, ratio=ratio)
        ours = [cyclical(s, n_iter, n_cycle, ratio) for s in range(n_iter)]
        assert ours == pytest.approx(ref, abs=1e-9)


def test_zero_then_linear_follows_optimus():
    assert zero_then_linear(0, 50, 100) == 0.0
    assert zero_then_linear(49, 50, 100) == 0.0
    assert zero_then_linear(50, 50, 100) == 0.0
    assert zero_then_linear(100, 50, 100) == 0.5
    assert zero_then_linear(150, 50, 100) == 1.0 and zero_then_linear(10**6, 50, 100) == 1.0


def test_make_kl_schedule_for_every_kind():
    cases = {
        "constant": (dict(value=0.7), {0: 0.7, 999: 0.7}),
        "linear": (dict(warmup_steps=10, start=0.0, end=0.5), {0: 0.0, 5: 0.25, 20: 0.5}),
        "logistic": (dict(k=0.1, x0=50), {50: 0.5, 1000: 1.0}),
        "cyclical": (dict(total_steps=100, n_cycles=4, ratio=0.5), {5: 0.4, 25: 0.0}),
        "zero_then_linear": (dict(zero_steps=10, warmup_steps=10), {5: 0.0, 15: 0.5, 20: 1.0}),
    }
    for kind, (params, values) in cases.items():
        schedule = make_kl_schedule(KLScheduleConfig(kind=kind, **params))
        for step, beta in values.items():
            assert schedule(step) == pytest.approx(beta), (kind, step)


@pytest.mark.parametrize("bad, key", [
    (dict(k=0.0), "k"), (dict(warmup_steps=-1), "warmup_steps"), (dict(total_steps=0), "total_steps"),
    (dict(n_cycles=0), "n_cycles"), (dict(ratio=0.0), "ratio"), (dict(ratio=1.5), "ratio"),
    (dict(zero_steps=-3), "zero_steps"), (dict(value=-1.0), "value"),
])
def test_schedule_config_rejects_impossible_values(bad, key):
    with pytest.raises(ConfigError, match=key):
        config_from_dict(KLScheduleConfig, bad)
    with pytest.raises(ConfigError):
        config_from_dict(KLScheduleConfig, {"kind": "exponential"})


def test_schedules_module_does_not_import_torch():
    code = "import sys, textgen.vae.schedules; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ----------------------------------------------------------------------------- objective

def _output(kl_per_dim, rec=None, variational=True):
    kl_per_dim = kl_per_dim.clone().requires_grad_(True)
    B, Z = kl_per_dim.shape
    rec = torch.full((B,), 10.0) if rec is None else rec
    return VAEOutput(rec_nll=rec, kl=kl_per_dim.sum(-1), kl_per_dim=kl_per_dim, mu=torch.zeros(B, Z),
                     logvar=torch.zeros(B, Z), z=torch.zeros(B, Z), num_tokens=torch.full((B,), 5),
                     variational=variational), kl_per_dim


def test_loss_is_rec_plus_beta_kl_and_elbo_ignores_beta():
    from textgen.vae.objective import vae_loss

    out, _ = _output(torch.tensor([[0.5, 1.5], [1.0, 3.0]]), rec=torch.tensor([10.0, 20.0]))
    for beta in (0.0, 0.3, 1.0):
        t = vae_loss(out, beta=beta)
        assert t.rec.item() == 15.0 and t.kl.item() == 3.0 and t.kl_eff.item() == 3.0
        assert t.loss.item() == pytest.approx(15.0 + beta * 3.0)
        assert t.elbo.item() == -18.0            # true ELBO: beta = 1, whatever beta trains
        assert t.num_tokens.item() == 10
        assert not t.rec.requires_grad and not t.elbo.requires_grad


def test_free_bits_per_dim_thresholds_the_batch_mean_of_each_dimension():
    from textgen.vae.objective import vae_loss

    # batch means per dim: [0.1, 2.0, 0.4]; lambda = 0.5 -> kl_eff = 0.5 + 2.0 + 0.5
    out, kl_pd = _output(torch.tensor([[0.0, 1.0, 0.8], [0.2, 3.0, 0.0]]))
    t = vae_loss(out, beta=1.0, free_bits=0.5, free_bits_mode="per_dim")
    assert t.kl_eff.item() == pytest.approx(3.0)
    assert t.kl.item() == pytest.approx(2.5)                  # the true KL is still reported
    assert t.elbo.item() == pytest.approx(-(10.0 + 2.5))      # and the ELBO uses it
    t.loss.backward()
    grad = kl_pd.grad
    assert bool((grad[:, 0] == 0).all()) and bool((grad[:, 2] == 0).all())   # below the threshold: no gradient
    assert torch.allclose(grad[:, 1], torch.full((2,), 0.5))                 # above: d mean / d x = 1/B


def test_free_bits_total_thresholds_the_mean_total_kl():
    from textgen.vae.objective import vae_loss

    out, kl_pd = _output(torch.tensor([[0.1, 0.2], [0.3, 0.2]]))        # mean total KL 0.4
    t = vae_loss(out, beta=2.0, free_bits=1.0, free_bits_mode="total")
    assert t.kl_eff.item() == 1.0 and t.loss.item() == pytest.approx(10.0 + 2.0 * 1.0)
    t.loss.backward()
    assert bool((kl_pd.grad == 0).all())
    out, kl_pd = _output(torch.tensor([[1.0, 2.0], [3.0, 2.0]]))        # mean total 4 > 1: untouched
    t = vae_loss(out, beta=1.0, free_bits=1.0, free_bits_mode="total")
    assert t.kl_eff.item() == pytest.approx(4.0)
    t.loss.backward()
    assert torch.allclose(kl_pd.grad, torch.full((2, 2), 0.5))


def test_no_kl_term_without_a_variational_posterior():
    from textgen.vae.objective import vae_loss

    out, _ = _output(torch.zeros(3, 4), variational=False)
    t = vae_loss(out, beta=1.0, free_bits=2.0)
    assert t.loss.item() == 10.0 and t.kl_eff.item() == 0.0 and t.elbo.item() == -10.0
    with pytest.raises(ValueError, match="free_bits_mode"):
        vae_loss(out, free_bits_mode="dims")


def test_lr_schedule_warms_up_then_follows_its_kind_and_round_trips_its_state():
    from types import SimpleNamespace

    from textgen.core.schedules import LRSchedule

    def optim(kind, **kw):
        return SimpleNamespace(**{"lr": 1e-3, "warmup_steps": 10, "lr_schedule": kind, "min_lr": 1e-5,
                                  "plateau_factor": 0.5, "plateau_patience": 1, **kw})

    cosine = LRSchedule(optim("cosine"), total_steps=110)
    assert cosine.lr_at(0) == pytest.approx(1e-4) and cosine.lr_at(9) == pytest.approx(1e-3)   # linear warm-up
    assert cosine.lr_at(60) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))                      # halfway down
    assert cosine.lr_at(110) == pytest.approx(1e-5) and cosine.lr_at(500) == pytest.approx(1e-5)
    plateau = LRSchedule(optim("plateau"), total_steps=100)
    for loss in (5.0, 4.0, 4.0, 4.0):                       # two epochs without a better loss: halved once
        plateau.epoch_end(loss)
    assert plateau.lr_at(50) == pytest.approx(5e-4)
    again = LRSchedule(optim("plateau"), total_steps=100)
    again.load_state_dict(plateau.state_dict())
    assert again.lr_at(50) == plateau.lr_at(50) and LRSchedule(optim("constant"), 5).lr_at(50) == 1e-3
