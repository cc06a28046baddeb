"""Text data for textgen: corpora as ``datasets.Dataset``, tokenization via ``map``, bucketed batches.

* :func:`load_corpus` / :func:`corpus_texts` read ``ptb:train``, text/JSONL/CSV files and globs,
  saved datasets and CUB captions (see :mod:`textgen.data.corpus` for the spec syntax);
* :func:`build_english_corpus` builds the general-English corpus (``textgen prepare-corpus english``);
* :func:`tokenize_dataset` adds ``input_ids`` and ``length`` columns and reports :class:`TokenizeStats`;
* :class:`BucketBatchSampler`, :func:`collate_batch`, :func:`make_dataloader` and
  :func:`padding_fraction` batch sentences of similar length (see :mod:`textgen.data.batching`).

Importing this package is cheap: names are resolved on first use, so neither ``datasets`` nor
``torch`` is imported until a function that needs them is called.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from textgen.core.lazy import lazy_attributes

# public name -> submodule that defines it
_LAZY = {
    "CorpusError": "textgen.data.corpus",
    "load_corpus": "textgen.data.corpus",
    "corpus_texts": "textgen.data.corpus",
    "parse_spec": "textgen.data.corpus",
    "SUPPORTED_SPECS": "textgen.data.corpus",
    "TokenizeStats": "textgen.data.processing",
    "tokenize_dataset": "textgen.data.processing",
    "BucketBatchSampler": "textgen.data.batching",
    "padding_fraction": "textgen.data.batching",
    "collate_batch": "textgen.data.batching",
    "make_dataloader": "textgen.data.batching",
    "ids_dataloader": "textgen.data.batching",
    "PlainBatchSampler": "textgen.data.batching",
    "TokenizedSplit": "textgen.data.splits",
    "tokenize_split": "textgen.data.splits",
    "split_loader": "textgen.data.splits",
    "ragged_column": "textgen.data.batching",
    "build_english_corpus": "textgen.data.english",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from textgen.data.batching import (
        BucketBatchSampler,
        PlainBatchSampler,
        collate_batch,
        ids_dataloader,
        make_dataloader,
        padding_fraction,
        ragged_column,
    )
    from textgen.data.corpus import SUPPORTED_SPECS, CorpusError, corpus_texts, load_corpus, parse_spec
    from textgen.data.english import build_english_corpus
    from textgen.data.processing import TokenizeStats, tokenize_dataset
    from textgen.data.splits import TokenizedSplit, split_loader, tokenize_split
