"""The metrics log of a training run: ``metrics.jsonl`` and ``metrics.csv`` in the run folder (and TensorBoard when
installed), written row by row so that an interrupted run keeps everything logged so far."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from textgen.core.files import atomic_write_text

__all__ = ["MetricsLogger"]


class MetricsLogger:
    """Append metrics rows to ``metrics.jsonl`` and ``metrics.csv`` in ``run_dir`` (always),
    and to TensorBoard when ``tensorboard`` is installed and ``tensorboard=True``.

    Each row is flushed at once, so an interrupted run keeps everything logged so far.
    New keys that appear later are kept in the JSONL file; the CSV header is rewritten to the union.
    """

    def __init__(self, run_dir: str | os.PathLike, *, tensorboard: bool = True, keep_until_step: int | None = None):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = self.run_dir / "metrics.jsonl"
        self.csv_path = self.run_dir / "metrics.csv"
        self._rows: list[dict[str, Any]] = []
        if self.jsonl_path.exists():  # resuming: keep what was logged before
            self._rows = self._read_rows()
            if keep_until_step is not None:
                # rows logged after the checkpoint a run resumes from are logged again: drop them (no duplicates)
                kept = [r for r in self._rows if int(r.get("step", 0)) <= keep_until_step]
                if len(kept) != len(self._rows) or self._torn:
                    self._rows = kept
                    atomic_write_text(self.jsonl_path, "".join(json.dumps(r) + "\n" for r in kept))
                    self._write_csv()
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

                self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
            except Exception:  # tensorboard not installed: CSV/JSONL only
                self._tb = None

    def _read_rows(self) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl; a torn last line (a kill in mid-write) is dropped, any other bad line named."""
        self._torn = False
        lines = self.jsonl_path.read_text(encoding="utf-8", errors="replace").splitlines()
        rows = []
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                if i == len(lines):
                    self._torn = True
                    continue
                raise ValueError(f"{self.jsonl_path} line {i} is not a JSON row ({e.msg}); repair or remove that "
                                 "line (the run's checkpoints do not depend on it)") from None
        return rows

    def log(self, metrics: Mapping[str, Any], *, step: int, split: str = "train") -> None:
        row = {"step": int(step), "split": split, "time": round(time.time(), 3)}
        for k, v in metrics.items():
            if isinstance(v, torch.Tensor):
                v = v.item()
            if isinstance(v, (np.floating, np.integer)):
                v = v.item()
            row[k] = v
        self._rows.append(row)
        with open(self.jsonl_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        self._write_csv()
        if self._tb is not None:
            for k, v in row.items():
                if k not in ("step", "split", "time") and isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(f"{split}/{k}", v, step)

    def _write_csv(self) -> None:
        keys: list[str] = []
        for r in self._rows:
            keys.extend(k for k in r if k not in keys)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys)
        w.writeheader()
        w.writerows(self._rows)
        atomic_write_text(self.csv_path, buf.getvalue())

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
