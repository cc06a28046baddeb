"""The sentence VAE family (Bowman et al. 2016), one room per concern:

* ``configuration.py`` -- the model's and a training run's configs (torch-free);
* ``modeling.py``      -- :class:`SentenceVAE` (``encoders.py``, ``decoders.py``, ``generation.py``: its parts);
* ``objective.py``     -- the ELBO and IWAE losses; ``schedules.py`` -- KL-weight schedules;
* ``trainer.py``       -- ``textgen train-vae``; ``metrics.py`` / ``evaluate.py`` -- true ELBO, IW-NLL, MI, AU;
* ``pipeline.py``      -- :class:`SentenceVAEPipeline` (interpolate, reconstruct, sample, encode);
* ``sentence_encoder.py`` -- :class:`SentenceEncoder`, the encoder as a feature extractor;
* ``interpolation.py`` (lerp / slerp paths) and ``plots.py``.

Names are resolved lazily, so ``textgen.vae.schedules`` stays importable without torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen.core.lazy import lazy_attributes

_LAZY = {
    # the model
    "SentenceVAEConfig": "textgen.vae.configuration",
    "SentenceVAE": "textgen.vae.modeling",
    "VAEOutput": "textgen.vae.modeling",
    "SentenceVAEPipeline": "textgen.vae.pipeline",
    "SentenceEncoder": "textgen.vae.sentence_encoder",
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
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.vae.modeling import SentenceVAE, VAEOutput
    from textgen.vae.pipeline import SentenceVAEPipeline
    from textgen.vae.sentence_encoder import SentenceEncoder
    from textgen.vae.metrics import (active_units, evaluate_vae, iw_log_likelihood, log_normal_diag,
                                     log_standard_normal, mutual_information, mutual_information_batch,
                                     perplexity)
    from textgen.vae.objective import LossTerms, iwae_loss, vae_loss
    from textgen.vae.schedules import (KLScheduleConfig, constant, cyclical, linear, logistic, make_kl_schedule,
                                       zero_then_linear)
