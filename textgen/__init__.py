"""textgen: deep generative models of text (sentence VAEs, text-conditioned GANs).

``import textgen`` is deliberately light: public names are resolved lazily on first
attribute access, so importing the package never pulls in ``transformers``,
``datasets`` or ``matplotlib`` (a test checks this in a subprocess).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen.core import __version__
from textgen.core.lazy import lazy_attributes

# public name -> module that defines it: the one table of textgen's public API (textgen.pipelines takes its part)
_LAZY = {
    "Tokenizer": "textgen.tokenization",
    "TokenizerError": "textgen.tokenization",
    "BatchEncoding": "textgen.tokenization",
    "load_corpus": "textgen.data",
    "CorpusError": "textgen.data",
    "tokenize_dataset": "textgen.data",
    "BucketBatchSampler": "textgen.data",
    "ConfigError": "textgen.core.config",
    "load_config": "textgen.core.config",
    "set_seed": "textgen.core.runtime",
    "SentenceVAE": "textgen.vae.modeling",
    "SentenceVAEConfig": "textgen.vae.configuration",
    "resolve_device": "textgen.core.runtime",
    "SentenceEncoder": "textgen.vae.sentence_encoder",
    "TextToImageGAN": "textgen.gan.modeling",
    # the pipelines and their outputs (textgen.pipelines re-exports exactly these)
    "SentenceVAEPipeline": "textgen.vae.pipeline",
    "EncodeOutput": "textgen.vae.pipeline",
    "SentencesOutput": "textgen.vae.pipeline",
    "InterpolationOutput": "textgen.vae.pipeline",
    "AnalogyOutput": "textgen.vae.pipeline",
    "TransferOutput": "textgen.vae.pipeline",
    "TextToImagePipeline": "textgen.gan.pipeline",
    "TextToImageOutput": "textgen.gan.pipeline",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from textgen.core.config import ConfigError, load_config
    from textgen.core.runtime import resolve_device, set_seed
    from textgen.data import BucketBatchSampler, CorpusError, load_corpus, tokenize_dataset
    from textgen.tokenization import BatchEncoding, Tokenizer, TokenizerError
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.vae.modeling import SentenceVAE
    from textgen.gan.modeling import TextToImageGAN
    from textgen.gan.pipeline import TextToImageOutput, TextToImagePipeline
    from textgen.vae.pipeline import (AnalogyOutput, EncodeOutput, InterpolationOutput, SentencesOutput,
                                      SentenceVAEPipeline, TransferOutput)
    from textgen.vae.sentence_encoder import SentenceEncoder
