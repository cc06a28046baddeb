"""A corpus split held in memory as token ids, and its batches: what both the VAE trainer and the evaluation read.

    split = tokenize_split("data/english/train.jsonl", tokenizer, DataConfig(...), max_length=64)
    for batch in split_loader(split, 64, pad_id=tokenizer.pad_id, shuffle=True, seed=0, epoch=3, skip=120):
        batch["input_ids"], batch["lengths"], batch.get("labels")      # (B, T), (B,), (B,) or absent
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from torch.utils.data import DataLoader

from textgen.core.config import DataConfig
from textgen.data.batching import ids_dataloader
from textgen.data.corpus import load_corpus
from textgen.data.processing import tokenize_dataset

__all__ = ["TokenizedSplit", "tokenize_split", "split_loader"]


@dataclass
class TokenizedSplit:
    """A corpus as a list of token-id arrays (no <bos>, ending in <eos>), ready for bucketing."""

    ids: list[np.ndarray]
    lengths: np.ndarray
    num_truncated: int = 0
    num_empty: int = 0
    labels: Optional[np.ndarray] = None    # a conditional VAE's label ids, one per sentence
    num_unlabelled: int = 0                # sentences dropped: their label is not in the model's vocabulary

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


def tokenize_split(spec: str, tokenizer, cfg: DataConfig, max_length: Optional[int], condition=None) -> TokenizedSplit:
    """Tokenize a corpus; with a :class:`~textgen.vae.configuration.ConditionConfig`, also read each sentence's
    label from its ``column`` and keep only the sentences whose label is in the vocabulary (counted)."""
    ds = load_corpus(spec, text_column=cfg.text_column, errors=cfg.errors)
    if condition is not None and condition.column not in ds.column_names:
        raise ValueError(f"{spec} has no column {condition.column!r} for the model's label (model.condition.column); "
                         f"its columns are {', '.join(map(repr, ds.column_names))}")
    tds, stats = tokenize_dataset(ds, tokenizer, max_length=max_length, add_bos=False, add_eos=True)
    ids = [np.asarray(x, dtype=np.int64) for x in tds["input_ids"]]
    labels, dropped = None, 0
    if condition is not None:
        index = {name: k for k, name in enumerate(condition.labels)}
        raw = [index.get(v, -1) if isinstance(v, str) else -1 for v in tds[condition.column]]
        keep = [i for i, k in enumerate(raw) if k >= 0]
        dropped = len(ids) - len(keep)
        if not keep:
            raise ValueError(f"no sentence of {spec} has a label in {condition.labels} (column {condition.column!r})")
        ids, labels = [ids[i] for i in keep], np.asarray([raw[i] for i in keep], dtype=np.int64)
    return TokenizedSplit(ids=ids, lengths=np.asarray([len(x) for x in ids], dtype=np.int64),
                          num_truncated=stats.num_truncated, num_empty=stats.num_empty_dropped,
                          labels=labels, num_unlabelled=dropped)


def split_loader(split: TokenizedSplit, batch_size: int, *, pad_id: int, shuffle: bool, seed: int = 0, epoch: int = 0,
                 bucketing: bool = True, skip: int = 0, num_workers: int = 0) -> DataLoader:
    """Length-bucketed (or, without ``bucketing``, plain random) padded batches of ``split`` at ``epoch``, from the
    ``skip``-th batch on (a resumed run); each a :func:`~textgen.data.batching.collate_batch` dict, with the
    ``labels`` (B,) of a labelled split."""
    extra = {"labels": split.labels.tolist()} if split.labels is not None else None
    return ids_dataloader(split.ids, batch_size, shuffle=shuffle, seed=seed, epoch=epoch, skip=skip, pad_id=pad_id,
                          extra=extra, bucketing=bucketing, num_workers=num_workers)
