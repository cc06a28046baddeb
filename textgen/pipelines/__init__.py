"""Pipelines: the user API over trained models (``Pipeline.from_pretrained(dir)(...)`` returns dataclasses).

* :class:`SentenceVAEPipeline` -- interpolate, reconstruct, sample, encode with a sentence VAE;
* :class:`TextToImagePipeline` -- captions to bird images with the text-conditioned GAN (imported on first use).
"""
from __future__ import annotations

from typing import Any

from textgen.pipelines.sentence_vae import (
    AnalogyOutput,
    EncodeOutput,
    InterpolationOutput,
    SentencesOutput,
    SentenceVAEPipeline,
)

__all__ = ["SentenceVAEPipeline", "EncodeOutput", "SentencesOutput", "InterpolationOutput", "AnalogyOutput",
           "TextToImagePipeline", "TextToImageOutput"]


def __getattr__(name: str) -> Any:
    if name in ("TextToImagePipeline", "TextToImageOutput"):
        from textgen.pipelines import text_to_image

        return getattr(text_to_image, name)
    raise AttributeError(f"module 'textgen.pipelines' has no attribute {name!r}")
