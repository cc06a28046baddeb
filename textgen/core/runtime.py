"""Runtime helpers shared by every trainer: devices, mixed precision, seeds and RNG states, progress bars, random
draws on any device, and the machine description benchmarks print. (Metrics logs: :mod:`textgen.core.metrics_log`;
pictures: :mod:`textgen.core.pictures`; atomic files: :mod:`textgen.core.files`.)

One mixed-precision idiom for the whole project (as in nanoGPT)::

    device = resolve_device("auto")
    dtype = resolve_precision("auto", device)          # bf16 on CUDA, fp32 on CPU/MPS
    scaler = make_grad_scaler(dtype, device)          # enabled only for fp16
    with autocast(device, dtype):
        loss = model(batch).loss
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)                        # unscale before clipping
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer); scaler.update()

Autocast is off on the CPU on purpose: bf16 on this kind of CPU is about 10x slower
than fp32 and ``nn.LSTM`` does not support it there.
"""
from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from typing import Any, Iterable, Mapping, Optional

import numpy as np
import torch

__all__ = [
    "resolve_device",
    "resolve_precision",
    "autocast",
    "make_grad_scaler",
    "set_seed",
    "get_rng_state",
    "set_rng_state",
    "generator_state",
    "set_generator_state",
    "progress",
    "progress_enabled",
    "machine_info",
    "TrainingDiverged",
]


class TrainingDiverged(RuntimeError):
    """A training loss became NaN or infinite; the run stopped and its last good checkpoint is kept.
    Raised by every textgen trainer; the CLI prints its message and exits with status 1."""


PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")


# ----------------------------------------------------------------------------- devices and precision

def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU. Asking for a device that is absent is an error."""
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)} (or cuda:N)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} was asked for but CUDA is not available "
            f"(torch {torch.__version__}); use --device cpu or auto, or install a CUDA build of torch"
        )
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} was asked for but MPS is not available; use --device cpu or auto")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The compute dtype for autocast. ``auto``: bf16 on CUDA (fp16 if the GPU lacks bf16), else fp32.

    Low precision is only honoured on CUDA; on CPU and MPS it falls back to fp32 with a warning,
    because bf16 on CPU is slow and breaks ``nn.LSTM``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if device.type != "cuda":
        if precision in ("bf16", "fp16"):
            from textgen.core.logs import warn

            warn(f"precision={precision} is only used on CUDA; running in fp32 on {device.type}")
        return torch.float32
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Autocast context for ``dtype`` on ``device``; a no-op for fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def make_grad_scaler(dtype: torch.dtype, device: torch.device) -> torch.amp.GradScaler:
    """A GradScaler that is enabled only for fp16 on CUDA (bf16 and fp32 need none)."""
    enabled = dtype == torch.float16 and device.type == "cuda"
    return torch.amp.GradScaler("cuda", enabled=enabled)


# ----------------------------------------------------------------------------- randomness

def set_seed(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices). ``deterministic`` also asks torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)


def get_rng_state() -> dict[str, Any]:
    """All RNG states as tensors and primitives (safe to store without pickling objects)."""
    np_state = np.random.get_state()
    state = {
        "python": _python_rng_to_tensor(random.getstate()),
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_has_gauss": int(np_state[3]),
        "numpy_gauss": float(np_state[4]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.stack([s for s in torch.cuda.get_rng_state_all()])
    return state


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A numpy ``Generator``'s (PCG64) state as primitives a training state can store (128-bit ints as strings)."""
    st = rng.bit_generator.state
    return {"state": str(st["state"]["state"]), "inc": str(st["state"]["inc"]),
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def set_generator_state(rng: np.random.Generator, state: Mapping[str, Any]) -> None:
    """Inverse of :func:`generator_state`."""
    rng.bit_generator.state = {"bit_generator": "PCG64",
                               "state": {"state": int(state["state"]), "inc": int(state["inc"])},
                               "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`get_rng_state`."""
    random.setstate(_python_rng_from_tensor(state["python"]))
    np.random.set_state(
        ("MT19937", state["numpy_keys"].numpy().astype(np.uint32), int(state["numpy_pos"]),
         int(state["numpy_has_gauss"]), float(state["numpy_gauss"]))
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def _python_rng_to_tensor(st: tuple) -> torch.Tensor:
    version, internal, gauss = st
    gauss_flag = 0 if gauss is None else 1
    gauss_bits = 0 if gauss is None else int(np.float64(gauss).view(np.int64))
    return torch.tensor([version, *internal, gauss_flag, gauss_bits], dtype=torch.int64)


def _python_rng_from_tensor(t: torch.Tensor) -> tuple:
    values = [int(v) for v in t.tolist()]
    version, internal, gauss_flag, gauss_bits = values[0], values[1:-2], values[-2], values[-1]
    gauss = float(np.int64(gauss_bits).view(np.float64)) if gauss_flag else None
    return (version, tuple(internal), gauss)


# ----------------------------------------------------------------------------- progress bars

def progress_enabled(requested: bool = True) -> bool:
    """Bars are shown when asked for, unless ``TEXTGEN_PROGRESS=0`` (tests) or the output is not a TTY in CI."""
    env = os.environ.get("TEXTGEN_PROGRESS")
    if env is not None:
        return env not in ("0", "false", "False", "")
    return requested


def progress(iterable: Iterable | None = None, *, enabled: bool = True, **kwargs: Any):
    """A tqdm bar that tests and scripts can switch off (``enabled=False`` or ``TEXTGEN_PROGRESS=0``)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("leave", False)
    return tqdm(iterable, disable=not progress_enabled(enabled), **kwargs)


# ----------------------------------------------------------------------------- random draws on any device

def _draw_device(generator: Optional[torch.Generator], device: torch.device) -> torch.device:
    return generator.device if generator is not None else device


def randn(shape, *, device: torch.device, dtype: torch.dtype = torch.float32,
          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``torch.randn`` drawn where ``generator`` lives (a CPU generator works for CUDA tensors too), on ``device``."""
    return torch.randn(shape, device=_draw_device(generator, device), dtype=dtype, generator=generator).to(device)


def rand(shape, *, device: torch.device, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``torch.rand``, drawn where ``generator`` lives, on ``device``."""
    return torch.rand(shape, device=_draw_device(generator, device), generator=generator).to(device)


def multinomial(probs: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One sample per row of ``probs`` (B, V) -> (B,); with a generator on another device, sampled there."""
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.float().to(generator.device), 1, generator=generator)[:, 0].to(probs.device)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


# ----------------------------------------------------------------------------- machine description

def machine_info() -> dict[str, str]:
    """What benchmarks print beside their numbers: CPU model, cores, GPU, versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
    }
    return info
