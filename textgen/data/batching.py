"""Length-bucketed batches: a sortish batch sampler, padding collation and a DataLoader helper.

Sentences of similar length are batched together so that little of each padded ``(B, T)`` batch
is padding, while the batch order stays random::

    tds, stats = tokenize_dataset(load_corpus("ptb:train"), tok)
    loader = make_dataloader(tds, batch_size=32, shuffle=True, seed=0, pad_id=tok.pad_id)
    for epoch in range(10):
        loader.batch_sampler.set_epoch(epoch)
        for batch in loader:            # {"input_ids": (B, T), "lengths": (B,), "attention_mask": (B, T)}
            ...
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Iterator, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from textgen.tokenization.base import right_pad

__all__ = ["BucketBatchSampler", "PlainBatchSampler", "padding_fraction", "collate_batch", "ids_dataloader",
           "make_dataloader", "ragged_column"]

DEFAULT_POOL_BATCHES = 100  # a shuffled pool holds batch_size * 100 sentences before sorting


def _as_lengths(lengths: Any) -> np.ndarray:
    if isinstance(lengths, torch.Tensor):
        arr = lengths.detach().cpu().numpy()
    elif isinstance(lengths, np.ndarray):
        arr = lengths
    else:
        if type(lengths).__module__.startswith("datasets") and hasattr(lengths, "source"):
            lengths = lengths[:]  # a datasets Column: one batched read instead of row-by-row formatting
        arr = np.fromiter((int(x) for x in lengths), dtype=np.int64)
    arr = np.asarray(arr)
    if arr.ndim != 1:
        raise ValueError(f"lengths must be 1-D (one length per example), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise ValueError("lengths must be integers")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"lengths must be >= 0, got {int(arr.min())}")
    return arr


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose examples have similar lengths ("sortish" sampling).

    With ``shuffle=True`` each epoch: the indices are shuffled with a generator seeded by
    ``(seed, epoch)``, cut into pools of ``bucket_size`` (default ``batch_size * 100``), each pool
    is sorted by length and cut into batches, and the order of all batches is shuffled. The same
    ``seed`` and epoch (see :meth:`set_epoch`) always give the same batches; other epochs give
    other batches. Every index appears exactly once per epoch (minus the last, short batch with
    ``drop_last=True``).

    With ``shuffle=False`` (evaluation) the order is deterministic: pools of consecutive indices
    (by default one pool holding everything, i.e. a global sort by length, the least padding),
    batches in ascending length.

    ``max_tokens`` caps the padded size ``B * max(length)`` of each batch instead of (or on top of)
    a fixed ``batch_size``; a single example longer than ``max_tokens`` gets a batch of its own.

    Args:
        lengths: one length per example (list, numpy array, tensor or ``datasets`` column).
        batch_size: examples per batch (the last batch may be smaller unless ``drop_last``);
            optional when ``max_tokens`` is given.
        shuffle, seed: see above.
        drop_last: drop the short final batch (fixed ``batch_size`` mode only).
        bucket_size: examples per sorted pool; rounded up to a multiple of ``batch_size``.
        max_tokens: cap on padded tokens per batch.
    """

    def __init__(self, lengths: Any, batch_size: Optional[int] = None, *, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False, bucket_size: Optional[int] = None, max_tokens: Optional[int] = None):
        self.lengths = _as_lengths(lengths)
        if batch_size is None and max_tokens is None:
            raise ValueError("give batch_size, max_tokens, or both")
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if max_tokens is not None and (not isinstance(max_tokens, (int, np.integer)) or max_tokens < 1):
            raise ValueError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
        if max_tokens is not None and drop_last:
            raise ValueError("drop_last applies to fixed-size batches; it cannot be combined with max_tokens")
        if bucket_size is not None and (not isinstance(bucket_size, (int, np.integer)) or bucket_size < 1):
            raise ValueError(f"bucket_size must be an int >= 1, got {bucket_size!r}")
        self.batch_size = None if batch_size is None else int(batch_size)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        n = len(self.lengths)
        if bucket_size is None:
            if shuffle:
                if self.batch_size is not None:
                    unit = self.batch_size
                else:  # max_tokens only: a pool of about 100 batches of average-length sentences
                    mean = float(self.lengths.mean()) if n else 1.0
                    unit = max(1, int(self.max_tokens // max(1.0, mean)))
                bucket_size = unit * DEFAULT_POOL_BATCHES
            else:
                bucket_size = max(1, n)
        if self.batch_size is not None:  # pools hold whole batches, so only the very last batch is short
            bucket_size = int(math.ceil(bucket_size / self.batch_size) * self.batch_size)
        self.bucket_size = int(bucket_size)
        self.epoch = 0
        self._cache: Optional[tuple[int, list[list[int]]]] = None

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches the next iteration yields (call before each epoch)."""
        self.epoch = int(epoch)

    def batches(self, epoch: Optional[int] = None) -> list[list[int]]:
        """All batches of ``epoch`` (default: the current one), in the order they are yielded."""
        epoch = self.epoch if epoch is None else int(epoch)
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        out = self._make_batches(epoch)
        self._cache = (epoch, out)
        return out

    def _make_batches(self, epoch: int) -> list[list[int]]:
        n = len(self.lengths)
        rng = np.random.default_rng([self.seed, epoch]) if self.shuffle else None
        order = rng.permutation(n) if rng is not None else np.arange(n)
        batches: list[np.ndarray] = []
        for start in range(0, n, self.bucket_size):
            pool = order[start:start + self.bucket_size]
            # stable sort by length; ties keep the (shuffled) pool order
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            if self.max_tokens is None:
                batches.extend(pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size))
            else:
                batches.extend(self._token_batches(pool))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if rng is not None:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return [b.tolist() for b in batches]

    def _token_batches(self, pool: np.ndarray) -> Iterator[np.ndarray]:
        """Greedy cut of a length-sorted pool into batches of at most ``max_tokens`` padded tokens."""
        lens = self.lengths[pool]
        cap_b = self.batch_size or len(pool)
        start = 0
        while start < len(pool):
            # longest prefix [start, end) with (end - start) * lens[end - 1] <= max_tokens (lens ascending)
            end = start + 1
            while end < len(pool) and end - start < cap_b and (end + 1 - start) * max(int(lens[end]), 1) <= self.max_tokens:
                end += 1
            yield pool[start:end]
            start = end

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()

    def __len__(self) -> int:
        n = len(self.lengths)
        if self.max_tokens is None:
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batches())

    def __repr__(self) -> str:
        return (f"BucketBatchSampler(n={len(self.lengths)}, batch_size={self.batch_size}, max_tokens={self.max_tokens}, "
                f"shuffle={self.shuffle}, seed={self.seed}, epoch={self.epoch}, bucket_size={self.bucket_size})")


def padding_fraction(lengths: Any, batches: Sequence[Sequence[int]]) -> float:
    """Padded positions / all positions when each batch is padded to its longest example."""
    lens = _as_lengths(lengths)
    total = real = 0
    for b in batches:
        if len(b) == 0:
            continue
        bl = lens[np.asarray(b, dtype=np.int64)]
        total += len(bl) * int(bl.max())
        real += int(bl.sum())
    return 0.0 if total == 0 else (total - real) / total


IdsLike = Union[Sequence[int], np.ndarray, torch.Tensor]


def collate_batch(examples: Sequence[Union[IdsLike, dict[str, Any]]], pad_id: int = 0) -> dict[str, Any]:
    """Right-pad a batch to its longest example.

    ``examples`` are id sequences (lists, numpy arrays, 1-D tensors) or dicts with an
    ``"input_ids"`` entry (other entries are passed through: numbers become tensors, anything
    else a list). Returns ``input_ids`` (B, T) long, ``lengths`` (B,) long and
    ``attention_mask`` (B, T) long (1 on real tokens).
    """
    if len(examples) == 0:
        raise ValueError("collate_batch got an empty batch")
    dicts = isinstance(examples[0], dict)
    seqs = [e["input_ids"] for e in examples] if dicts else list(examples)
    arrays = [s.detach().cpu().numpy() if isinstance(s, torch.Tensor) else np.asarray(s, dtype=np.int64) for s in seqs]
    ids, lengths, mask = right_pad(arrays, pad_id)                                   # (B, T), (B,), (B, T)
    out: dict[str, Any] = {"input_ids": torch.from_numpy(ids), "lengths": torch.from_numpy(lengths),
                           "attention_mask": torch.from_numpy(mask.astype(np.int64))}
    if dicts:
        for key in examples[0]:
            if key in ("input_ids", "length", "lengths", "attention_mask"):
                continue
            values = [e[key] for e in examples]
            if all(isinstance(v, (bool, int, float, np.integer, np.floating)) for v in values):
                out[key] = torch.tensor(values)
            else:
                out[key] = values
    return out


def ragged_column(data: Any, column: str = "input_ids") -> list[np.ndarray]:
    """The rows of a list-of-ints column as int64 numpy arrays, read from Arrow in one go.

    ``data`` is a ``datasets.Dataset`` (indices mappings, e.g. after ``select``, are honoured) or
    already a sequence of id sequences.
    """
    if hasattr(data, "with_format") and hasattr(data, "column_names"):
        if column not in data.column_names:
            raise ValueError(f"the dataset has no column {column!r} (columns: {', '.join(data.column_names)}); "
                             "tokenize it first with textgen.data.tokenize_dataset")
        import pyarrow as pa

        col = data.with_format("arrow")[column]
        if isinstance(col, pa.Table):
            col = col.column(0)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if len(arr) == 0:
            return []
        values = arr.flatten().to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        lens = arr.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
        return np.split(values, np.cumsum(lens)[:-1])
    return [np.asarray(x, dtype=np.int64) for x in data]


class _IdsDataset(Dataset):
    """Examples held in memory: ``input_ids`` arrays plus optional extra columns."""

    def __init__(self, ids: list[np.ndarray], extra: dict[str, list]):
        self.ids, self.extra = ids, extra

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Any:
        if not self.extra:
            return self.ids[i]
        return {"input_ids": self.ids[i], **{k: v[i] for k, v in self.extra.items()}}


class PlainBatchSampler(Sampler[list[int]]):
    """Consecutive batches of ``batch_size`` indices, in order or (``shuffle``) of a permutation drawn from
    ``seed + epoch``: no sorting by length, so an unshuffled loader keeps the corpus order, row for row."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self) -> list[list[int]]:
        order = np.random.default_rng(self.seed + self.epoch).permutation(self.n) if self.shuffle else np.arange(self.n)
        out = [order[i:i + self.batch_size].tolist() for i in range(0, self.n, self.batch_size)]
        return out[:-1] if self.drop_last and out and len(out[-1]) < self.batch_size else out

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.batches()

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


class _SkipFirst(Sampler[list[int]]):
    """The batches of a batch sampler from the ``skip``-th on (a run resumed in the middle of an epoch)."""

    def __init__(self, sampler: BucketBatchSampler | PlainBatchSampler, skip: int):
        self.sampler, self.skip = sampler, int(skip)

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.sampler.batches()[self.skip:]

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)


def ids_dataloader(ids: Sequence[np.ndarray], batch_size: Optional[int] = 32, *, shuffle: bool = True, seed: int = 0,
                   epoch: int = 0, skip: int = 0, pad_id: int = 0, extra: Optional[dict[str, Sequence]] = None,
                   num_workers: int = 0, drop_last: bool = False, bucketing: bool = True,
                   bucket_size: Optional[int] = None, max_tokens: Optional[int] = None,
                   pin_memory: bool = False) -> DataLoader:
    """A ``DataLoader`` of :func:`collate_batch` dicts over token-id arrays held in memory: batches of a
    :class:`BucketBatchSampler` at ``epoch`` (``bucketing=False``: a :class:`PlainBatchSampler`, which keeps an
    unshuffled corpus in order), from the ``skip``-th batch on; ``extra`` columns (one value per example, e.g.
    labels) pass through."""
    if bucketing:
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                     bucket_size=bucket_size, max_tokens=max_tokens)
    elif batch_size is None or max_tokens is not None:
        raise ValueError("bucketing=False needs a fixed batch_size and no max_tokens")
    else:
        sampler = PlainBatchSampler(len(ids), batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    sampler.set_epoch(epoch)
    # its own generator: a DataLoader draws a worker seed when iterated, which must not advance the global torch RNG
    # (a run resumed mid-epoch would otherwise draw its dropout masks from another state than an unbroken one)
    return DataLoader(_IdsDataset(list(ids), dict(extra or {})),
                      batch_sampler=_SkipFirst(sampler, skip) if skip else sampler,
                      collate_fn=partial(collate_batch, pad_id=pad_id), num_workers=num_workers, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(seed + epoch))


def make_dataloader(tokenized: Any, batch_size: Optional[int] = 32, *, shuffle: bool = True, seed: int = 0,
                    pad_id: int = 0, num_workers: int = 0, drop_last: bool = False, bucketing: bool = True,
                    bucket_size: Optional[int] = None, max_tokens: Optional[int] = None,
                    columns: Sequence[str] = (), pin_memory: bool = False) -> DataLoader:
    """A ``DataLoader`` of padded batches over a tokenized dataset (see :func:`tokenize_dataset`).

    The ``input_ids`` column (and any ``columns`` to pass through, e.g. ``"class_id"``) is read
    into memory once; batches as :func:`ids_dataloader`. Call ``loader.batch_sampler.set_epoch(epoch)``
    before each epoch for a new order. Each batch is the dict of :func:`collate_batch`.
    """
    ids = ragged_column(tokenized, "input_ids") if hasattr(tokenized, "column_names") else ragged_column(tokenized)
    extra: dict[str, list] = {}
    for c in columns:
        if not hasattr(tokenized, "column_names") or c not in tokenized.column_names:
            raise ValueError(f"cannot pass column {c!r} through: the dataset has no such column")
        extra[c] = list(tokenized[c])
    return ids_dataloader(ids, batch_size, shuffle=shuffle, seed=seed, pad_id=pad_id, extra=extra,
                          num_workers=num_workers, drop_last=drop_last, bucketing=bucketing, bucket_size=bucket_size,
                          max_tokens=max_tokens, pin_memory=pin_memory)
