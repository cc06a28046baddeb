"""Pipelines: the user API over trained models (``Pipeline.from_pretrained(dir)(...)`` returns dataclasses).

* :class:`SentenceVAEPipeline` -- interpolate, reconstruct, sample, encode with a sentence VAE
  (defined in :mod:`textgen.vae.pipeline`);
* :class:`TextToImagePipeline` -- captions to bird images with the text-conditioned GAN
  (defined in :mod:`textgen.gan.pipeline`).

Names are resolved on first use, so importing this package loads neither family.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen import _LAZY as _PUBLIC
from textgen.core.lazy import lazy_attributes

_LAZY = {name: module for name, module in _PUBLIC.items() if module.endswith(".pipeline")}   # one table: textgen's

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

if TYPE_CHECKING:  # pragma: no cover
    from textgen.gan.pipeline import TextToImageOutput, TextToImagePipeline
    from textgen.vae.pipeline import (AnalogyOutput, EncodeOutput, InterpolationOutput, SentencesOutput,
                                      SentenceVAEPipeline, TransferOutput)
