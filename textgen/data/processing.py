"""Tokenizing a text ``Dataset`` with ``Dataset.map``: ``input_ids`` and ``length`` columns plus stats."""
from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator, Optional

import numpy as np

from textgen.data.corpus import CorpusError

if TYPE_CHECKING:  # pragma: no cover
    import datasets

__all__ = ["TokenizeStats", "tokenize_dataset"]

_TRUNC = "__textgen_truncated"
_EMPTY = "__textgen_empty"


@dataclass(frozen=True)
class TokenizeStats:
    """What :func:`tokenize_dataset` did.

    ``num_examples`` rows in the result; ``num_truncated`` sentences cut to ``max_length``;
    ``num_empty_dropped`` empty sentences removed (no token besides the specials);
    ``num_tokens`` ids in the result, specials (``<bos>``/``<eos>``) included.
    """

    num_examples: int
    num_truncated: int
    num_empty_dropped: int
    num_tokens: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.num_examples:,} sentences, {self.num_tokens:,} tokens; "
                f"{self.num_truncated:,} truncated, {self.num_empty_dropped:,} empty dropped")


def tokenize_dataset(
    ds: "datasets.Dataset",
    tokenizer: Any,
    *,
    max_length: Optional[int] = None,
    column: str = "text",
    add_bos: bool = False,
    add_eos: bool = True,
    batch_size: int = 1000,
    num_proc: Optional[int] = None,
    drop_empty: bool = True,
    remove_columns: bool = False,
) -> tuple["datasets.Dataset", TokenizeStats]:
    """Add ``input_ids`` (list of ints) and ``length`` columns to ``ds`` with a batched ``ds.map``.

    Args:
        ds: a ``datasets.Dataset`` with a string column ``column`` (e.g. from :func:`load_corpus`).
        tokenizer: a :class:`textgen.tokenization.Tokenizer` (anything with its ``encode_batch``).
        max_length: cap on ids per sentence, specials included (default: the tokenizer's own);
            longer sentences are cut so that ``<eos>`` stays last, and counted.
        add_bos, add_eos: the specials each sentence gets (default: ``<eos>`` only).
        batch_size, num_proc: passed to ``Dataset.map``.
        drop_empty: remove sentences that give no token besides the specials (blank text).
        remove_columns: keep only ``input_ids`` and ``length`` (default: keep every column).

    Returns:
        ``(tokenized, stats)``. Results are computed in memory and never read from or written to
        the ``datasets`` cache, so this works offline and on read-only saved datasets.
    """
    import datasets

    if not isinstance(ds, datasets.Dataset):
        raise TypeError(f"tokenize_dataset expects a datasets.Dataset, got {type(ds).__name__}; "
                        "load one with textgen.data.load_corpus")
    if column not in ds.column_names:
        raise CorpusError(f"the dataset has no column {column!r}; its columns are "
                          f"{', '.join(map(repr, ds.column_names))}; pass column= one of those")
    if not hasattr(tokenizer, "encode_batch"):
        raise TypeError(f"tokenizer must be a textgen Tokenizer (with encode_batch), got {type(tokenizer).__name__}")
    if batch_size is None or batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    limit = max_length if max_length is not None else getattr(tokenizer, "max_length", None)
    num_special = int(bool(add_bos)) + int(bool(add_eos))
    # A sentence with no content token is empty unless truncation could have emptied it.
    can_detect_by_length = limit is None or limit > num_special

    def encode(batch: dict[str, list]) -> dict[str, Any]:
        texts = [t if t is not None else "" for t in batch[column]]
        enc = tokenizer.encode_batch(texts, add_bos=add_bos, add_eos=add_eos, max_length=max_length,
                                     return_tensors="np")
        lengths = enc.lengths.tolist()
        rows = enc.input_ids.tolist()
        ids = [r[:n] for r, n in zip(rows, lengths)]
        empty = [not t.strip() or (can_detect_by_length and n <= num_special) for t, n in zip(texts, lengths)]
        truncated = [0] * len(texts)
        if truncated:
            truncated[0] = int(enc.num_truncated)  # the batch's count, on its first row
        return {"input_ids": ids, "length": lengths, _TRUNC: truncated, _EMPTY: empty}

    drop = [c for c in ds.column_names if c not in ("input_ids", "length")] if remove_columns else []
    features = datasets.Features({k: v for k, v in ds.features.items() if k not in drop})
    features.update({"input_ids": datasets.Sequence(datasets.Value("int64")), "length": datasets.Value("int64"),
                     _TRUNC: datasets.Value("int64"), _EMPTY: datasets.Value("bool")})
    if len(ds) == 0:  # map never calls the function on an empty dataset, so no columns would be added
        empty_out = datasets.Dataset.from_dict({k: [] for k in features}, features=features)
        return empty_out.remove_columns([_TRUNC, _EMPTY]), TokenizeStats(0, 0, 0, 0)
    with _quiet_progress():
        out = ds.map(encode, batched=True, batch_size=batch_size, num_proc=num_proc, remove_columns=drop or None,
                     features=features, keep_in_memory=True, load_from_cache_file=False,
                     new_fingerprint=uuid.uuid4().hex, desc="Tokenizing")
        num_truncated = int(_column_numpy(out, _TRUNC).sum())
        num_dropped = 0
        if drop_empty:
            empty = _column_numpy(out, _EMPTY).astype(bool)
            num_dropped = int(empty.sum())
            if num_dropped:
                out = out.select(np.flatnonzero(~empty)).flatten_indices(keep_in_memory=True)
    out = out.remove_columns([_TRUNC, _EMPTY])
    stats = TokenizeStats(num_examples=len(out), num_truncated=num_truncated, num_empty_dropped=num_dropped,
                          num_tokens=int(_column_numpy(out, "length").sum()))
    return out, stats


def _column_numpy(ds: "datasets.Dataset", name: str) -> "np.ndarray":
    """A scalar column as a numpy array, read from Arrow in one go (row iteration is slow)."""
    import pyarrow as pa

    col = ds.with_format("arrow")[name]
    if isinstance(col, pa.Table):
        col = col.column(0)
    if len(col) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(col.to_numpy() if isinstance(col, pa.ChunkedArray) else col.to_numpy(zero_copy_only=False))


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Silence ``datasets`` progress bars when ``TEXTGEN_PROGRESS=0`` (tests, scripts)."""
    env = os.environ.get("TEXTGEN_PROGRESS")
    if env is None or env not in ("0", "false", "False", ""):
        yield
        return
    import datasets

    was_disabled = datasets.utils.are_progress_bars_disabled()
    datasets.utils.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.utils.enable_progress_bars()
