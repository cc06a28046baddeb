"""textgen: deep generative models of text (sentence VAEs, text-conditioned GANs).

``import textgen`` is deliberately light: public names are resolved lazily on first
attribute access, so importing the package never pulls in ``transformers``,
``datasets`` or ``matplotlib`` (a test checks this in a subprocess).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen._lazy import lazy_attributes

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "Tokenizer": "textgen.tokenization",
    "TokenizerError": "textgen.tokenization",
    "BatchEncoding": "textgen.tokenization",
    "load_corpus": "textgen.data",
    "CorpusError": "textgen.data",
    "tokenize_dataset": "textgen.data",
    "BucketBatchSampler": "textgen.data",
    "ConfigError": "textgen.config",
    "load_config": "textgen.config",
    "set_seed": "textgen.runtime",
    "SentenceVAE": "textgen.models.vae",
    "SentenceVAEConfig": "textgen.models.vae",
    "resolve_device": "textgen.runtime",
    "SentenceVAEPipeline": "textgen.pipelines",
    "SentenceEncoder": "textgen.encoder",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from textgen.config import ConfigError, load_config
    from textgen.data import BucketBatchSampler, CorpusError, load_corpus, tokenize_dataset
    from textgen.models.vae import SentenceVAE, SentenceVAEConfig
    from textgen.encoder import SentenceEncoder
    from textgen.pipelines import SentenceVAEPipeline
    from textgen.runtime import resolve_device, set_seed
    from textgen.tokenization import BatchEncoding, Tokenizer, TokenizerError
