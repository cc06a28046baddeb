"""Models: the Sentence VAE (Bowman et al. 2016) and its building blocks.

Public names are resolved lazily (as in :mod:`textgen`), so ``import textgen.models`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "SentenceVAE": "textgen.models.vae",
    "SentenceVAEConfig": "textgen.models.vae",
    "VAEOutput": "textgen.models.vae",
    "gaussian_kl": "textgen.models.vae",
    "word_dropout": "textgen.models.vae",
    "decoder_inputs": "textgen.models.vae",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'textgen.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover
    from textgen.models.vae import (SentenceVAE, SentenceVAEConfig, VAEOutput, decoder_inputs, gaussian_kl,
                                    word_dropout)
