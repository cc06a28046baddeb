"""The training core both trainers share: run folders, crash-safe checkpoints, signals, divergence, log windows.

Small and explicit, in the spirit of nanoGPT's training loop: a few functions and two small classes that the VAE
and GAN trainers call from their own loops, not a framework that calls them.

* :func:`claim_run_folder` -- at the start of a run: lock ``out_dir`` for this process (a second process on the
  same folder is refused at once, naming the holder's PID), refuse to start over a finished or interrupted run
  unless asked (``--resume`` continues it, ``--overwrite`` replaces it), and bring back ``last/`` from the
  ``.last.old-*`` a killed two-rename save left (so a resume never loses the last complete checkpoint).
* :func:`prepare_run_folder` -- create ``out_dir`` and remove the temporary folders a killed save left behind.
* :func:`commit_checkpoint` -- the one way a resumable checkpoint is written: everything (model folder, training
  state, the log window in progress) goes into one temporary folder, is fsynced, and replaces ``last/`` in one
  rename, so ``last/`` is always the old complete checkpoint or the new one, whenever the process dies.
* :class:`StopOnSignals` -- Ctrl-C / SIGTERM ask the loop to stop at the next step boundary; the trainer then
  saves and raises :class:`TrainingStopped` (exit status 130 / 143). A second signal stops at once.
* :class:`LogWindow` -- running sums of the step statistics between two metrics rows, kept on the device (one
  host sync per row) and saved with the checkpoint, so the first row after a resume averages the same steps.
* :func:`diverged` -- the error for a non-finite loss, naming the checkpoint that is kept (or saying there is none).
* :class:`Distributed` and :func:`micro_batches` -- ``torchrun`` data parallelism and gradient accumulation: every
  rank builds the same global batch, takes its share, and :meth:`Distributed.average_gradients` averages the
  gradients in one all-reduce: the one data-parallel mechanism of both trainers.
"""
from __future__ import annotations

import fcntl
import math
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import torch

from textgen.core.logs import get_logger
from textgen.core.checkpoint import CheckpointError, atomic_folder, load_tree, load_weights, save_tree
from textgen.core.config import check_out_dir
from textgen.core.runtime import TrainingDiverged, get_rng_state, set_rng_state

log = get_logger(__name__)

__all__ = ["claim_run_folder", "RunFolderError", "RunLock", "prepare_run_folder", "commit_checkpoint", "StopOnSignals",
           "TrainingStopped", "LogWindow", "diverged", "Distributed", "NullLogger", "micro_batches",
           "check_resumable_config", "check_finite", "TrainingState"]



class RunFolderError(ValueError):
    """A run folder cannot be used as asked (in use by another process, or holding a run); the message says why."""


LOCK_FILE = ".lock"
RUN_MARKERS = ("last", "best", "metrics.jsonl", "checkpoints", "text_encoder")   # what makes a folder hold a run


class RunLock:
    """An advisory ``fcntl`` lock on ``<out_dir>/.lock``, held until :meth:`release` or the process ends (the
    kernel drops it with the process, so a killed run never leaves a stale lock). The file holds the PID."""

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / LOCK_FILE
        self.fd: Optional[int] = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(self.fd)
            self.fd = None
            raise RunFolderError(f"{self.path.parent} is in use by another textgen process (PID {holder}); wait for it "
                                 "to finish or stop it, or give this run another out_dir") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)                   # closing the descriptor drops the lock
            self.fd = None

    __del__ = release


def recover_last(out_dir: str | os.PathLike, name: str = "last") -> Optional[Path]:
    """Put back ``<out_dir>/<name>`` from ``.<name>.old-*`` when a save that renames twice (no ``renameat2``) was
    killed between its renames: the old folder is the last complete checkpoint. Returns the folder if restored."""
    out = Path(out_dir)
    if (out / name).exists():
        return None
    olds = sorted(out.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not olds:
        return None
    os.replace(olds[-1], out / name)
    return out / name


def claim_run_folder(out_dir: str | os.PathLike, *, resume: bool, overwrite: bool = False) -> RunLock:
    """Start a run in ``out_dir``: create and lock it, put back a ``last/`` a killed save moved aside (then remove
    the other temporary folders, :func:`prepare_run_folder`), and refuse to start afresh (no ``resume``) over a
    folder that holds a run unless ``overwrite``. Call it before anything reads or writes the folder; keep the
    returned lock for the run's life."""
    check_out_dir(str(out_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lock = RunLock(out)
    try:
        restored = recover_last(out)
        if restored is not None:
            log.warning(f"{restored} was missing after a save was killed; restored it from the previous complete checkpoint")
        prepare_run_folder(out)                 # the other .tmp-* / .old-* folders of killed saves
        held = [m for m in RUN_MARKERS if (out / m).exists()]
        if held and not resume and not overwrite:
            raise RunFolderError(
                f"{out} already holds a run ({', '.join(held)}); continue it with --resume, or start over with "
                f"--overwrite (replaces its checkpoints and metrics), or give this run another out_dir")
        if overwrite and not resume:
            for m in RUN_MARKERS:
                target = out / m
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
    except BaseException:
        lock.release()
        raise
    return lock


def prepare_run_folder(out_dir: str | os.PathLike) -> Path:
    """``out_dir``, created, without the ``.<name>.tmp-*`` / ``.<name>.old-*`` folders of a save that was killed."""
    check_out_dir(str(out_dir))                 # the config's own check, for callers that built no config
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for parent in (out, out / "checkpoints"):
        if parent.is_dir():
            for stale in list(parent.glob(".*.tmp-*")) + list(parent.glob(".*.old-*")):
                shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    return out


def commit_checkpoint(folder: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to fill a temporary sibling of ``folder``, fsync it, and swap it into place in one step."""
    with atomic_folder(folder, durable=True) as tmp:
        write(tmp)
    return Path(folder)


class TrainingStopped(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run at a step boundary, after saving a resumable ``last/``."""

    def __init__(self, message: str, signum: Optional[int] = signal.SIGINT):
        super().__init__(message)
        signum = signal.SIGTERM if signum is None else signum   # a rank stopped because another was signalled
        self.exit_code = 128 + int(signum)          # 130 for SIGINT, 143 for SIGTERM, as a shell reports them


class StopOnSignals:
    """``with StopOnSignals() as stop:`` ... ``if stop.requested: save, raise TrainingStopped(..., stop.signum)``.

    The first SIGINT/SIGTERM only sets ``requested``; the previous handlers come back at once, so a second
    signal stops the process the usual way. Outside the main thread (where Python cannot set handlers) it
    does nothing.
    """

    def __init__(self):
        self.signum: Optional[int] = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
            for sig in self._previous:
                signal.signal(sig, self._request)
        return self

    def _request(self, signum, frame) -> None:
        self.signum = signum
        self._restore()

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def __exit__(self, *exc) -> None:
        self._restore()


class LogWindow:
    """Sums of per-step statistics (tensors, on any device) and counts since the last metrics row."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0
        self.counts: dict[str, int] = {}
        self._seconds_before = 0.0
        self._t0 = time.perf_counter()

    def add(self, stats: dict[str, torch.Tensor], **counts: int) -> None:
        for k, v in stats.items():
            v = v.detach().float()
            self.sums[k] = v if k not in self.sums else self.sums[k] + v
        for k, n in counts.items():
            self.counts[k] = self.counts.get(k, 0) + int(n)
        self.steps += 1

    def means(self, reduce: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> dict[str, float]:
        """Per-step means (one host sync for all of them); ``reduce`` sums each rank's shares first."""
        if not self.sums:
            return {}
        keys = list(self.sums)
        sums = torch.stack([self.sums[k] for k in keys])
        if reduce is not None:
            sums = reduce(sums.clone())
        return dict(zip(keys, (sums / max(self.steps, 1)).tolist()))

    @property
    def seconds(self) -> float:
        return self._seconds_before + time.perf_counter() - self._t0

    def state_dict(self) -> dict[str, Any]:
        return {"sums": {k: v.cpu() for k, v in self.sums.items()}, "steps": self.steps, "counts": dict(self.counts),
                "seconds": self.seconds}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.reset()
        self.sums = {k: v.to(device) for k, v in state.get("sums", {}).items()}
        self.steps = int(state.get("steps", 0))
        self.counts = {k: int(v) for k, v in state.get("counts", {}).items()}
        self._seconds_before = float(state.get("seconds", 0.0))


# legacy (flat) training states: which top-level keys were where the data stood, and which were bookkeeping
_LEGACY_DATA = ("epoch", "batch_in_epoch", "np_rng")
_LEGACY_EXTRA = ("best_valid", "epochs_since_best")


@dataclass
class TrainingState:
    """The one training contract of both trainers: what ``last/training_state/`` holds so that a run continues
    exactly (safetensors + JSON, nothing pickled), saved and restored here for both.

    ``parts`` are the ``state_dict`` of every stateful thing besides the model folder's weights (optimisers,
    gradient scalers, the LR schedule, and networks kept only for training, such as the GAN's discriminator);
    ``data`` says where the data stands (epoch and batch, or a numpy generator's state); ``window`` is the log
    window in progress, ``rng`` every global RNG, ``extra`` the trainer's bookkeeping (e.g. the best validation).
    """

    step: int
    parts: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    rng: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, step: int, parts: Mapping[str, Any], *, data: Optional[Mapping[str, Any]] = None,
                window: Optional["LogWindow"] = None, extra: Optional[Mapping[str, Any]] = None) -> "TrainingState":
        """The state now: each part's ``state_dict()`` (None parts are left out) and the global RNGs."""
        return cls(step=int(step), parts={k: v.state_dict() for k, v in parts.items() if v is not None},
                   data=dict(data or {}), window=window.state_dict() if window is not None else {},
                   rng=get_rng_state(), extra=dict(extra or {}))

    def save(self, directory: str | os.PathLike) -> Path:
        return save_tree({"step": self.step, "parts": self.parts, "data": self.data, "window": self.window,
                          "rng": self.rng, "extra": self.extra}, directory)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "TrainingState":
        """Read a saved state (also one written before this layout, with every entry at the top level)."""
        tree = load_tree(directory)
        if "parts" not in tree:                                       # the flat layout of older runs
            known = {"step", "rng", "window", *_LEGACY_DATA, *_LEGACY_EXTRA}
            tree = {"step": tree["step"], "rng": tree["rng"], "window": tree.get("window", {}),
                    "data": {k: tree[k] for k in _LEGACY_DATA if k in tree},
                    "extra": {k: tree[k] for k in _LEGACY_EXTRA if k in tree},
                    "parts": {k: v for k, v in tree.items() if k not in known}}
        return cls(step=int(tree["step"]), parts=dict(tree["parts"]), data=dict(tree.get("data", {})),
                   window=dict(tree.get("window", {})), rng=dict(tree["rng"]), extra=dict(tree.get("extra", {})))

    def restore(self, parts: Mapping[str, Any], *, where: str | os.PathLike, window: Optional["LogWindow"] = None,
                device: torch.device | str = "cpu") -> None:
        """Load every given part (networks strictly, naming the tensor that does not fit), the global RNGs and the
        log window; a part the state lacks is a :class:`CheckpointError` naming it."""
        for name, target in parts.items():
            if target is None:
                continue
            if name not in self.parts:
                raise CheckpointError(f"cannot resume: the training state in {where} has no {name!r}; it was saved "
                                      "by another configuration of this run: resume with the run's own config.yaml")
            if isinstance(target, torch.nn.Module):
                load_weights(target, self.parts[name], Path(where) / "state.safetensors")
            else:
                target.load_state_dict(self.parts[name])
        set_rng_state(self.rng)
        if window is not None:
            window.load_state_dict(self.window, device)


def check_resumable_config(saved: Any, current: Any, last: Path, run_config: Path, section: str = "model") -> None:
    """Refuse to resume from ``last`` when its model config differs from this run's, naming each differing key."""
    from textgen.core.config import config_to_dict

    a, b = config_to_dict(saved), config_to_dict(current)
    diff = [f"{section}.{k}: checkpoint {a.get(k)!r} vs config {b.get(k)!r}" for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]
    if diff:
        from textgen.core.checkpoint import CheckpointError

        shown = "; ".join(diff[:6]) + (f"; and {len(diff) - 6} more" if len(diff) > 6 else "")
        raise CheckpointError(f"cannot resume from {last}: the checkpoint does not match this config ({shown}); "
                              f"resume with the run's own config ({run_config})")


def check_finite(value: float, what: str, step: int, fix: str) -> float:
    """``value`` if finite; else a :class:`TrainingDiverged` for the small training loops that keep no checkpoint
    (the caption encoder, the linear probe, the attribute judge): nothing is saved, so nothing is promised."""
    if not math.isfinite(value):
        raise TrainingDiverged(f"{what} became non-finite ({value}) at step {step}; nothing was saved. {fix}")
    return value


def diverged(what: str, step: int, last: Path, fix: str) -> TrainingDiverged:
    """The error for a non-finite loss at ``step``: it names the checkpoint that is kept, or says there is none."""
    if (last / "training_state").is_dir():
        kept = f"the last good checkpoint is kept in {last} (resume from it with --resume)"
    else:
        kept = "no checkpoint had been written yet, so there is nothing to resume from (start again)"
    return TrainingDiverged(f"{what} became non-finite at step {step}; {kept}. {fix}")


# ----------------------------------------------------------------------------- torchrun

class Distributed:
    """This process's place in a ``torchrun`` job (one process, rank 0 of 1, without torchrun).

    ``torchrun --nproc_per_node N -m textgen train-vae ...`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
    :meth:`setup` then joins the process group (NCCL on GPUs, gloo on CPU) and picks ``cuda:LOCAL_RANK``.
    """

    def __init__(self):
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def setup(self, device: torch.device) -> torch.device:
        """Join the process group; the device this rank trains on."""
        if not self.enabled:
            return device
        import torch.distributed as dist

        if device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return device

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            import torch.distributed as dist

            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def average_gradients(self, module: torch.nn.Module) -> None:
        """Average ``module``'s gradients over the ranks, in one flattened all-reduce: the data parallelism of both
        trainers (each rank trains on its share of the same global batch; call after backward, before unscaling
        and clipping). Nothing in one process."""
        if not self.enabled:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = self.all_reduce_sum(torch.cat([g.reshape(-1) for g in grads])) / self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank if it is True on any (a stop request, say)."""
        if not self.enabled:
            return flag
        return bool(self.all_reduce_sum(torch.tensor([float(flag)], device=device)).item() > 0)

    def broadcast_rng(self, device: torch.device) -> None:
        """Give every rank rank 0's torch RNG state (after work that only rank 0 did, which drew from it)."""
        if not self.enabled:
            return
        import torch.distributed as dist

        comm = device if device.type == "cuda" else torch.device("cpu")    # NCCL broadcasts CUDA tensors only
        state = torch.get_rng_state().to(comm)
        dist.broadcast(state, src=0)
        torch.set_rng_state(state.cpu())
        if device.type == "cuda":
            cuda_state = torch.cuda.get_rng_state(device).to(comm)
            dist.broadcast(cuda_state, src=0)
            torch.cuda.set_rng_state(cuda_state.cpu(), device)

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


class NullLogger:
    """What ranks other than 0 log to: nothing (rank 0 writes the metrics)."""

    def log(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def micro_batches(n: int, world: int, accum: int, rank: int) -> list[slice]:
    """Rows of a global batch of ``n`` for this rank's ``accum`` micro-batches: the batch is cut into
    ``world * accum`` near-equal contiguous pieces and rank ``r`` takes pieces ``r * accum ... r * accum + accum - 1``."""
    pieces = world * accum
    bounds = [round(i * n / pieces) for i in range(pieces + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(rank * accum, (rank + 1) * accum)]
