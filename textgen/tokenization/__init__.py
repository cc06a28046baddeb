"""The one tokenizer layer shared by every textgen model (see :mod:`textgen.tokenization.tokenizer`).

* ``tokenizer.py`` -- the :class:`Tokenizer` facade: train, encode, decode, save, load;
* ``base.py``      -- the special tokens and their ids, errors, the padded batch, the backend interface;
* ``word.py``      -- the ``word`` kind; ``subword.py`` -- ``bpe``, ``unigram`` and ``sentencepiece``;
* ``textprep.py``  -- how a model prepares raw text for its tokenizer (checks, PTB-style rewriting).
"""
from __future__ import annotations

from textgen.tokenization.base import KINDS, SPECIAL_TOKENS, TOKENIZER_FILE, BatchEncoding, TokenizerError
from textgen.tokenization.tokenizer import Tokenizer

__all__ = ["Tokenizer", "TokenizerError", "BatchEncoding", "SPECIAL_TOKENS", "KINDS", "TOKENIZER_FILE"]
