"""Pipelines: the user API over trained models (``Pipeline.from_pretrained(dir)(...)`` returns dataclasses)."""
from textgen.pipelines.sentence_vae import (
    AnalogyOutput,
    EncodeOutput,
    InterpolationOutput,
    SentencesOutput,
    SentenceVAEPipeline,
)

__all__ = ["SentenceVAEPipeline", "EncodeOutput", "SentencesOutput", "InterpolationOutput", "AnalogyOutput"]
