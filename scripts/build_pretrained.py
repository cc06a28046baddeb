#!/usr/bin/env python
"""Rebuild the shipped default model ``ptb-lstm-vae`` from scratch, evaluate it, and install it into the package.

    python scripts/build_pretrained.py                        # train configs/vae/ptb_lstm_interp.yaml, eval, install
    python scripts/build_pretrained.py --from-run runs/vae/ptb_lstm_interp   # skip training: take that run's best/
    python scripts/build_pretrained.py --iw-samples 500 --force

Steps: (1) ``textgen train-vae --config configs/vae/ptb_lstm_interp.yaml`` into ``--run`` (resumable with
``--resume``); (2) the run's ``best/`` folder, weights rounded to fp16 (half the size; cast back to fp32 on
load), is written to a temporary folder; (3) ``eval-vae`` on PTB test measures THAT folder, the one users
get; (4) it replaces ``textgen/pretrained/ptb-lstm-vae`` only if its IW-NLL beats the installed model's
(recorded in its ``eval_ptb_test.json``), so the repository stores new weights only when they improve;
``--force`` installs regardless.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "textgen" / "pretrained" / "ptb-lstm-vae"
REPORT = "eval_ptb_test.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/vae/ptb_lstm_interp.yaml"))
    ap.add_argument("--run", default=str(ROOT / "runs/vae/ptb_lstm_interp"), help="run folder to train into")
    ap.add_argument("--from-run", help="use this finished run's best/ instead of training")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted training run")
    ap.add_argument("--iw-samples", type=int, default=100, help="importance samples for IW-NLL (default 100)")
    ap.add_argument("--force", action="store_true", help="install even if it does not improve IW-NLL")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for training")
    args = ap.parse_args()

    from textgen.config import load_config
    from textgen.models.vae import SentenceVAE
    from textgen.vae.evaluate import evaluate_folder, format_report, write_report
    from textgen.vae.trainer import VAERunConfig, VAETrainer

    run = Path(args.from_run or args.run)
    if not args.from_run:
        cfg = load_config(VAERunConfig, args.config, [*args.overrides, f"out_dir={run}"])
        VAETrainer(cfg, resume=args.resume).fit()
    best = run / "best"
    model = SentenceVAE.from_pretrained(best)

    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TARGET.parent) as tmp:
        staged = Path(tmp) / TARGET.name
        model.save_pretrained(staged, dtype=torch.float16)
        report = evaluate_folder(staged, "ptb:test", iw_samples=args.iw_samples)
        report["model"] = "ptb-lstm-vae"
        report["trained_from"] = str(args.config)
        print(format_report(report))
        write_report(report, staged / REPORT)
        old = TARGET / REPORT
        if old.is_file() and not args.force:
            prev = json.loads(old.read_text())
            if report["iw_nll"] >= prev["iw_nll"]:
                print(f"not installed: IW-NLL {report['iw_nll']:.2f} does not beat the shipped {prev['iw_nll']:.2f} "
                      "(use --force to install anyway)")
                return 1
        if TARGET.exists():
            shutil.rmtree(TARGET)
        shutil.move(str(staged), TARGET)
    size = sum(f.stat().st_size for f in TARGET.iterdir()) / 2**20
    print(f"installed {TARGET} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
