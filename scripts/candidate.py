#!/usr/bin/env python
"""Training that accumulates through the repository: one committed candidate folder per long run.

A long run (the broad-English VAE) needs more CPU-hours than a session, and run folders do not survive a
new machine. So each session trains one *stage* that warm-starts every weight from the committed candidate
(``candidates/<name>/``, fp16) and writes its result back over it; git keeps the history.

    python scripts/candidate.py save runs/vae/en_broad              # after a stage: best/ (else last/) -> candidate
    python scripts/candidate.py show                                # the stages so far and the next command

``save`` writes the run's weights in fp16 (cast back to fp32 on load) and ``candidate.json``: every stage so
far (config, seed, steps, CPU threads, wall time, the run's last validation row) and the command that trains
the next stage. The folder is replaced in one rename, so a kill leaves the old candidate or the new one.
A candidate becomes the shipped default only through ``scripts/build_pretrained.py`` (its install rule).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = ROOT / "candidates"
INFO = "candidate.json"


def _metrics(run: Path) -> list[dict]:
    """The run's metrics.jsonl rows (a torn last line, from a kill, is skipped)."""
    rows = []
    path = run / "metrics.jsonl"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def _last_valid(rows: list[dict]) -> dict:
    """The last validation row (true ELBO, KL, ... at the end of the stage), or {}."""
    return next((r for r in reversed(rows) if r.get("split") == "valid"), {})


def _wall_seconds(rows: list[dict]) -> float:
    """Wall seconds of the stage: from its first to its last metrics row (pauses included; 0 without rows)."""
    times = [float(r["time"]) for r in rows if isinstance(r.get("time"), (int, float))]
    return max(times) - min(times) if times else 0.0


def save(args) -> int:
    import yaml

    from textgen.core.checkpoint import atomic_folder
    from textgen.vae.modeling import SentenceVAE

    run = Path(args.run)
    folder = run / args.checkpoint if args.checkpoint else next(
        (run / c for c in ("best", "last") if (run / c / "model.safetensors").is_file()), None)
    if folder is None or not (folder / "model.safetensors").is_file():
        raise SystemExit(f"error: {run} has no best/ or last/ model folder; train a stage first")
    config_file = run / "config.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    target = CANDIDATES / args.name
    previous = json.loads((target / INFO).read_text(encoding="utf-8")) if (target / INFO).is_file() else {}
    stages = list(previous.get("stages", []))
    rows = _metrics(run)
    train = config.get("train", {})
    stage = {
        "stage": len(stages) + 1,
        "date": dt.date.today().isoformat(),
        "run": str(run),
        "checkpoint": folder.name,
        "init_from": train.get("init_from"),
        "seed": config.get("runtime", {}).get("seed"),
        "max_steps": train.get("max_steps"),
        "free_bits": train.get("free_bits"),
        "threads": args.threads,
        "train_seconds": round(_wall_seconds(rows), 1),
        "valid": _last_valid(rows),
        "note": args.note,
    }
    stages.append(stage)
    info = {
        "name": args.name,
        "config": args.config,
        "stages": stages,
        "steps_total": sum(int(s.get("max_steps") or 0) for s in stages),
        "cpu_hours_total": round(sum(s["train_seconds"] * (s["threads"] or 1) for s in stages) / 3600, 2),
        "next": (f"textgen train-vae --config {args.config} --overwrite runtime.seed={len(stages) + 1} && "
                 f"python scripts/candidate.py save {run}"),
    }
    model = SentenceVAE.from_pretrained(folder)
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp, dtype=torch.float16)
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"saved stage {stage['stage']} of {args.name} ({folder}) to {target}")
    print(f"next stage: {info['next']}")
    return 0


def show(args) -> int:
    path = CANDIDATES / args.name / INFO
    if not path.is_file():
        raise SystemExit(f"error: {path} does not exist; the first stage starts from the shipped model: "
                         f"textgen train-vae --config configs/vae/en_broad.yaml train.init_from=en-lstm-vae")
    info = json.loads(path.read_text(encoding="utf-8"))
    print("| stage | date | steps | seed | train (h) | valid -ELBO | KL |")
    print("|---|---|---|---|---|---|---|")
    for s in info["stages"]:
        v = s.get("valid", {})
        print(f"| {s['stage']} | {s['date']} | {s['max_steps']} | {s['seed']} | {s['train_seconds'] / 3600:.2f} | "
              f"{v.get('nll_bound', float('nan')):.2f} | {v.get('kl', float('nan')):.2f} |")
    print(f"next stage: {info['next']}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("save", help="write a run's result over the committed candidate (fp16)")
    p.add_argument("run", help="the stage's run folder (out_dir)")
    p.add_argument("--name", default="en-lstm-vae", help="candidate folder under candidates/ (default en-lstm-vae)")
    p.add_argument("--config", default="configs/vae/en_broad.yaml", help="the recipe the next stage trains")
    p.add_argument("--checkpoint", help="best or last (default: best/ if there, else last/)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads the stage trained with (for CPU-hours)")
    p.add_argument("--note", default="", help="a line on this stage, kept in candidate.json")
    p.set_defaults(func=save)
    p = sub.add_parser("show", help="the stages so far and the next command")
    p.add_argument("--name", default="en-lstm-vae")
    p.set_defaults(func=show)
    args = ap.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
