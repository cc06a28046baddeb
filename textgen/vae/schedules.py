"""KL-weight (beta) schedules for VAE training: pure functions of the optimisation step (no torch).

Annealing beta from 0 towards 1 lets the decoder learn to use z before the KL term pushes q(z|x) onto
the prior, the main remedy against posterior collapse in text VAEs:

* :func:`logistic` -- Bowman et al. (2016), "Generating Sentences from a Continuous Space";
* :func:`linear` -- linear warm-up (Bowman et al. 2016 also mention it; Sonderby et al. 2016);
* :func:`cyclical` -- Fu et al. (2019, NAACL), "Cyclical Annealing Schedule";
* :func:`zero_then_linear` -- Li et al. (2020), "Optimus": beta = 0 for a while (pure auto-encoding),
  then a linear warm-up;
* :func:`constant`.

``make_kl_schedule(KLScheduleConfig(...))`` turns a config into ``step -> beta``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

from textgen.core.config import check

__all__ = [
    "constant",
    "linear",
    "logistic",
    "cyclical",
    "zero_then_linear",
    "KLScheduleConfig",
    "make_kl_schedule",
]


def constant(step: int, value: float = 1.0) -> float:
    """beta = value at every step."""
    return float(value)


def linear(step: int, warmup_steps: int, start: float = 0.0, end: float = 1.0) -> float:
    """From ``start`` at step 0 to ``end`` at ``warmup_steps``, then ``end`` (``warmup_steps=0``: ``end`` at once)."""
    if warmup_steps <= 0:
        return float(end)
    frac = min(max(step, 0) / warmup_steps, 1.0)
    return float(start + (end - start) * frac)


def logistic(step: int, k: float = 0.0025, x0: float = 2500) -> float:
    """Bowman et al. (2016): beta = 1 / (1 + exp(-k (step - x0))); 0.5 at ``x0``, slope ``k / 4`` there.

    Defaults are those of the widely used reimplementation of Bowman et al. (k = 0.0025, x0 = 2500).
    """
    a = -k * (step - x0)
    if a >= 0:  # numerically stable for large |a|
        e = math.exp(-a)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(a))


def cyclical(step: int, total_steps: int, n_cycles: int = 4, ratio: float = 0.5) -> float:
    """Fu et al. (2019, NAACL): ``total_steps`` split into ``n_cycles`` equal cycles; within a cycle beta
    rises linearly from 0 to 1 over the first ``ratio`` of it, then stays at 1. After ``total_steps``: 1.

    Matches ``frange_cycle_linear(n_iter=total_steps, start=0, stop=1, n_cycle, ratio)`` of the authors' code.
    """
    if step >= total_steps:
        return 1.0
    period = total_steps / n_cycles
    tau = math.fmod(max(step, 0), period) / period                                  # position in the cycle, [0, 1)
    return min(tau / ratio, 1.0)


def zero_then_linear(step: int, zero_steps: int, warmup_steps: int) -> float:
    """Li et al. (2020, Optimus): beta = 0 for ``zero_steps`` steps, then linear from 0 to 1 over ``warmup_steps``."""
    if step < zero_steps:
        return 0.0
    return linear(step - zero_steps, warmup_steps, 0.0, 1.0)


@dataclass
class KLScheduleConfig:
    """Which schedule and its parameters (unused parameters are ignored by the other kinds)."""

    kind: Literal["constant", "linear", "logistic", "cyclical", "zero_then_linear"] = "logistic"
    value: float = 1.0          # constant
    warmup_steps: int = 10000   # linear, zero_then_linear
    start: float = 0.0          # linear
    end: float = 1.0            # linear
    k: float = 0.0025           # logistic: slope
    x0: int = 2500              # logistic: midpoint step
    total_steps: int = 100000   # cyclical: steps covered by the cycles
    n_cycles: int = 4           # cyclical
    ratio: float = 0.5          # cyclical: fraction of each cycle spent increasing
    zero_steps: int = 0         # zero_then_linear

    def validate(self) -> None:
        check(self.value >= 0, "value", f"must be >= 0, got {self.value}")
        check(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        check(self.start >= 0 and self.end >= 0, "start", f"start and end must be >= 0, got {self.start}, {self.end}")
        check(self.k > 0, "k", f"must be > 0, got {self.k}")
        check(self.total_steps >= 1, "total_steps", f"must be >= 1, got {self.total_steps}")
        check(self.n_cycles >= 1, "n_cycles", f"must be >= 1, got {self.n_cycles}")
        check(0 < self.ratio <= 1, "ratio", f"must be in (0, 1], got {self.ratio}")
        check(self.zero_steps >= 0, "zero_steps", f"must be >= 0, got {self.zero_steps}")


def make_kl_schedule(cfg: KLScheduleConfig) -> Callable[[int], float]:
    """``step -> beta`` for the schedule ``cfg`` describes (validated first)."""
    cfg.validate()
    kind = cfg.kind
    if kind == "constant":
        return lambda step: constant(step, cfg.value)
    if kind == "linear":
        return lambda step: linear(step, cfg.warmup_steps, cfg.start, cfg.end)
    if kind == "logistic":
        return lambda step: logistic(step, cfg.k, cfg.x0)
    if kind == "cyclical":
        return lambda step: cyclical(step, cfg.total_steps, cfg.n_cycles, cfg.ratio)
    if kind == "zero_then_linear":
        return lambda step: zero_then_linear(step, cfg.zero_steps, cfg.warmup_steps)
    raise ValueError(f"unknown KL schedule kind {kind!r}")
