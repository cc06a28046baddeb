"""What the sub-commands share: run configs from YAML + overrides, seeded generators, JSON output, sentence input."""
from __future__ import annotations

import argparse


def training_options(p: argparse.ArgumentParser, config_example: str, override_example: str) -> None:
    """The options of every ``train-*`` command: the YAML file, the run folder, the device, resume, overrides."""
    p.add_argument("--config", required=True, help=f"YAML file, e.g. {config_example}")
    p.add_argument("--out", help="run folder (overrides out_dir)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"],
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


def sentences_arg(args: argparse.Namespace) -> list[str]:
    """Sentences from the command line and/or ``--file`` (one per line, blank lines skipped)."""
    sentences = list(args.sentences)
    if args.file:
        from pathlib import Path

        path = Path(args.file)
        if not path.is_file():
            raise FileNotFoundError(f"--file {path} does not exist; pass a text file with one sentence per line")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"--file {path} is not UTF-8 text ({e.reason} at byte {e.start}); convert it to UTF-8") from None
        sentences += [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise ValueError("no sentences given: pass them as arguments or with --file FILE (one per line)")
    return sentences
