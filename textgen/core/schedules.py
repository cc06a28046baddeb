"""Learning-rate schedules, kept outside the models and the trainers (as diffusers keeps its schedulers): a trainer
asks ``lr_at(step)`` before each optimiser step and reports each epoch's validation loss to ``epoch_end``."""
from __future__ import annotations

import math
from typing import Any

__all__ = ["LRSchedule"]


class LRSchedule:
    """Linear warm-up, then constant, cosine (to ``min_lr`` at the last step) or reduce-on-plateau.

    ``cfg`` is an optimiser section with ``lr``, ``warmup_steps``, ``lr_schedule`` ("constant", "cosine",
    "plateau"), ``min_lr``, ``plateau_factor`` and ``plateau_patience`` (e.g. the VAE's ``OptimConfig``). Its state
    is primitives only, so it is stored in the training state without pickling.
    """

    def __init__(self, cfg: Any, total_steps: int):
        self.cfg, self.total_steps = cfg, max(1, total_steps)
        self.scale = 1.0          # plateau multiplier
        self.best = math.inf
        self.bad_epochs = 0

    def lr_at(self, step: int) -> float:
        c = self.cfg
        if c.warmup_steps and step < c.warmup_steps:
            return c.lr * (step + 1) / c.warmup_steps
        if c.lr_schedule == "cosine":
            t = min(1.0, (step - c.warmup_steps) / max(1, self.total_steps - c.warmup_steps))
            return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1 + math.cos(math.pi * t))
        if c.lr_schedule == "plateau":
            return max(c.min_lr, c.lr * self.scale)
        return c.lr

    def epoch_end(self, valid_loss: float) -> None:
        if self.cfg.lr_schedule != "plateau":
            return
        if valid_loss < self.best - 1e-4:
            self.best, self.bad_epochs = valid_loss, 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs > self.cfg.plateau_patience:
                self.scale *= self.cfg.plateau_factor
                self.bad_epochs = 0

    def state_dict(self) -> dict[str, float]:
        return {"scale": self.scale, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.scale, self.best, self.bad_epochs = float(s["scale"]), float(s["best"]), int(s["bad_epochs"])
