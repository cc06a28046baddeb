"""What the sub-commands share: run configs from YAML + overrides, seeded generators, JSON output, sentence input."""
from __future__ import annotations

import argparse

DEVICES = ["auto", "cpu", "cuda", "mps"]


def device_option(p: argparse.ArgumentParser, default: str = "cpu") -> None:
    p.add_argument("--device", default=default, choices=DEVICES,
                   help=f"where to run (auto: CUDA if available, else Apple MPS, else CPU; default {default})")


def seed_option(p: argparse.ArgumentParser, default: int = 0, what: str = "sampling and data order") -> None:
    p.add_argument("--seed", type=int, default=default, help=f"random seed of {what} (default {default})")


def batch_size_option(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument("--batch-size", type=int, default=default,
                   help=f"items per forward pass: more is faster until memory runs out (default {default})")


def output_options(p: argparse.ArgumentParser) -> None:
    """``--quiet`` / ``--verbose``, on every command: how much of textgen's log reaches stderr."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--quiet", "-q", action="store_true", help="no progress bars or information, only warnings and errors")
    group.add_argument("--verbose", "-v", action="store_true", help="also debug messages")


def on_error_option(p: argparse.ArgumentParser, null: str = "write a NaN row (null)") -> None:
    p.add_argument("--on-error", default="raise", choices=["raise", "skip", "null"],
                   help="a line that cannot be read (empty, no known word): stop with its line number (raise, "
                        f"default), leave it out with a warning (skip) or {null}")


def training_options(p: argparse.ArgumentParser, config_example: str, override_example: str) -> None:
    """The options of every ``train-*`` command: the YAML file, the run folder, the device, resume, overrides."""
    p.add_argument("--config", required=True, help=f"YAML file, e.g. {config_example}")
    p.add_argument("--out", help="run folder (overrides out_dir)")
    p.add_argument("--device", choices=DEVICES,
                   help="where to train (overrides runtime.device; auto: CUDA if available, else CPU)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue from <out_dir>/last exactly where it stopped")
    mode.add_argument("--overwrite", action="store_true",
                      help="start afresh in an out_dir that already holds a run, replacing its checkpoints and metrics")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=f"config overrides, e.g. {override_example}")


def run_config(cls: type, args: argparse.Namespace):
    """A training run's config: the YAML file, its key=value overrides, ``--out`` as ``out_dir`` and ``--device``
    as ``runtime.device``."""
    from textgen.core.config import load_config

    overrides = list(args.overrides) + ([f"out_dir={args.out}"] if args.out else [])
    if getattr(args, "device", None):
        overrides.append(f"runtime.device={args.device}")
    return load_config(cls, args.config, overrides)


def seeded_generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def print_json(obj) -> None:
    import json

    print(json.dumps(obj, indent=2, ensure_ascii=False))
