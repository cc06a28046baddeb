"""Models: the Sentence VAE (Bowman et al. 2016) and its building blocks.

Public names are resolved lazily (as in :mod:`textgen`), so ``import textgen.models`` stays cheap.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen._lazy import lazy_attributes

_LAZY = {
    "SentenceVAE": "textgen.models.vae",
    "SentenceVAEConfig": "textgen.models.vae",
    "VAEOutput": "textgen.models.vae",
    "gaussian_kl": "textgen.models.vae",
    "word_dropout": "textgen.models.vae",
    "decoder_inputs": "textgen.models.vae",
    "WarmStart": "textgen.models.vae",
    "warm_start": "textgen.models.vae",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover
    from textgen.models.vae import (SentenceVAE, SentenceVAEConfig, VAEOutput, WarmStart, decoder_inputs,
                                    gaussian_kl, warm_start, word_dropout)
