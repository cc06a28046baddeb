"""Training objective, KL schedules and evaluation metrics for sentence VAEs.

Names are resolved lazily, so ``textgen.vae.schedules`` stays importable without torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen._lazy import lazy_attributes

_LAZY = {
    # schedules (no torch)
    "KLScheduleConfig": "textgen.vae.schedules",
    "make_kl_schedule": "textgen.vae.schedules",
    "constant": "textgen.vae.schedules",
    "linear": "textgen.vae.schedules",
    "logistic": "textgen.vae.schedules",
    "cyclical": "textgen.vae.schedules",
    "zero_then_linear": "textgen.vae.schedules",
    # objective
    "LossTerms": "textgen.vae.objective",
    "vae_loss": "textgen.vae.objective",
    "iwae_loss": "textgen.vae.objective",
    # metrics
    "evaluate_vae": "textgen.vae.metrics",
    "iw_log_likelihood": "textgen.vae.metrics",
    "mutual_information": "textgen.vae.metrics",
    "mutual_information_batch": "textgen.vae.metrics",
    "active_units": "textgen.vae.metrics",
    "perplexity": "textgen.vae.metrics",
    "log_normal_diag": "textgen.vae.metrics",
    "log_standard_normal": "textgen.vae.metrics",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover
    from textgen.vae.metrics import (active_units, evaluate_vae, iw_log_likelihood, log_normal_diag,
                                     log_standard_normal, mutual_information, mutual_information_batch,
                                     perplexity)
    from textgen.vae.objective import LossTerms, iwae_loss, vae_loss
    from textgen.vae.schedules import (KLScheduleConfig, constant, cyclical, linear, logistic, make_kl_schedule,
                                       zero_then_linear)
