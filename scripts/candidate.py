#!/usr/bin/env python
"""Training that accumulates through the repository: one committed candidate folder per long run.

A long run (the broad-English VAE, the real-caption birds GAN) needs more CPU-hours than a session, and run
folders do not survive a new machine. So each session trains one *stage* that warm-starts every weight from the
committed candidate (``candidates/<name>/``, fp16) and writes its result back over it; git keeps the history.

    python scripts/candidate.py save runs/vae/en_broad              # after a stage: best/ (else last/) -> candidate
    python scripts/candidate.py show                                # the stages so far and the next command
    python scripts/candidate.py save runs/te/birds32_real           # a caption encoder -> birds-caption-encoder
    python scripts/candidate.py save runs/gan/birds32_real_stage    # a GAN stage's last/ -> birds-gan
    python scripts/candidate.py show --name birds-gan

``save`` tells the three apart by what the folder holds: a sentence-VAE run, a train-gan run (its ``last/``), or a
caption encoder (``train-text-encoder --out``). A GAN candidate is a model folder (fp16 G and EMA-G, the text
encoder) with ``training_state/`` holding fp16 D and E and the step: what ``train.init_from`` continues from
(``textgen.gan.trainer.save_stage_folder``; no optimiser state, which would more than double it). A caption
encoder is copied as it is (fp32, with its image half for DAMSM), once: every GAN stage reads that same encoder.

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


DEFAULTS = {   # per kind of folder: (candidate name, the config that trains the next stage)
    "sentence-vae": ("en-lstm-vae", "configs/vae/en_broad.yaml"),
    "text-to-image-gan": ("birds-gan", "configs/gan/birds32_real_stage.yaml"),
    "caption-encoder": ("birds-caption-encoder", "configs/gan/birds32_real_stage.yaml"),
}
FIRST_STAGE = {   # what `show` suggests where a candidate does not exist yet
    "en-lstm-vae": "the first stage starts from the shipped model: "
                   "textgen train-vae --config configs/vae/en_broad.yaml train.init_from=en-lstm-vae",
    "birds-caption-encoder": "train it first: stage 0 of docs/gan.md (Training in stages)",
    "birds-gan": "the first stage starts without one: "
                 "textgen train-gan --config configs/gan/birds32_real_stage.yaml --overwrite train.init_from=null",
}


def _kind(run: Path, checkpoint: str | None) -> str:
    """What ``run`` holds: a caption encoder folder, a train-gan run, or (otherwise) a sentence-VAE run."""
    from textgen.core.checkpoint import model_type_of

    if (run / "config.json").is_file() and model_type_of(run) == "caption-encoder":
        return "caption-encoder"
    last = run / (checkpoint or "last")
    if (last / "config.json").is_file() and model_type_of(last) == "text-to-image-gan":
        return "text-to-image-gan"
    return "sentence-vae"


def save(args) -> int:
    """Write the result of a stage (or a caption encoder) over its candidate; names and configs default by kind."""
    run = Path(args.run)
    kind = _kind(run, args.checkpoint)
    name, config = DEFAULTS[kind]
    args.name, args.config = args.name or name, args.config or config
    write = {"sentence-vae": _save_vae, "text-to-image-gan": _save_gan, "caption-encoder": _save_caption_encoder}
    return write[kind](args)


def _history(run: Path, name: str) -> tuple[dict, Path, list[dict], list[dict]]:
    """The run's resolved config, the candidate folder, the stages it already holds and the run's metrics rows."""
    import yaml

    config_file = run / "config.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    target = CANDIDATES / name
    previous = json.loads((target / INFO).read_text(encoding="utf-8")) if (target / INFO).is_file() else {}
    return config, target, list(previous.get("stages", [])), _metrics(run)


def _next_command(train: str, args, run: Path, override: str) -> str:
    """The command of the next stage: train ``args.config`` with ``override`` into this stage's run folder (named
    as ``out_dir`` when the config's own differs), then save that folder over this same candidate."""
    import yaml

    path = Path(args.config) if Path(args.config).is_file() else ROOT / args.config
    config = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    out_dir = "" if Path(str(config.get("out_dir", ""))) == run else f" out_dir={run}"
    save = f"python scripts/candidate.py save {run} --name {args.name}"
    if args.config != DEFAULTS[_KIND_OF_TRAIN[train]][1]:
        save += f" --config {args.config}"
    return f"textgen {train} --config {args.config} --overwrite {override}{out_dir} && {save}"


_KIND_OF_TRAIN = {"train-vae": "sentence-vae", "train-gan": "text-to-image-gan"}


def _save_vae(args) -> int:
    from textgen.core.checkpoint import atomic_folder
    from textgen.vae.modeling import SentenceVAE

    run = Path(args.run)
    folder = run / args.checkpoint if args.checkpoint else next(
        (run / c for c in ("best", "last") if (run / c / "model.safetensors").is_file()), None)
    if folder is None or not (folder / "model.safetensors").is_file():
        raise SystemExit(f"error: {run} has no best/ or last/ model folder; train a stage first")
    config, target, stages, rows = _history(run, args.name)
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
        "next": _next_command("train-vae", args, run, f"runtime.seed={len(stages) + 1}"),
    }
    model = SentenceVAE.from_pretrained(folder)
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp, dtype=torch.float16)
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"saved stage {stage['stage']} of {args.name} ({folder}) to {target}")
    print(f"next stage: {info['next']}")
    return 0


def _save_gan(args) -> int:
    """A GAN stage's ``last/`` over the candidate: fp16 G, EMA-G, D and E, the text encoder, the step; and the
    command of the next stage, which continues the step counter by as many steps as this stage trained."""

    from textgen.core.checkpoint import TRAINING_STATE_DIR, atomic_folder
    from textgen.core.trainer import TrainingState
    from textgen.gan.trainer import save_stage_folder

    run = Path(args.run)
    last = run / (args.checkpoint or "last")
    if not (last / TRAINING_STATE_DIR).is_dir():
        raise SystemExit(f"error: {last} has no {TRAINING_STATE_DIR}/ (D and the step); save from the run's last/")
    state = TrainingState.load(last / TRAINING_STATE_DIR)
    start, end = int(state.extra.get("init_step", 0)), state.step
    config, target, stages, rows = _history(run, args.name)
    stages.append({
        "stage": len(stages) + 1,
        "date": dt.date.today().isoformat(),
        "run": str(run),
        "init_from": config.get("train", {}).get("init_from"),
        "seed": config.get("runtime", {}).get("seed"),
        "steps": [start, end],                    # from the candidate's step to this stage's last step
        "threads": args.threads,
        "train_seconds": round(_wall_seconds(rows), 1),
        "last": next((r for r in reversed(rows) if "d_loss" in r), {}),
        "note": args.note,
    })
    info = {
        "name": args.name,
        "kind": "text-to-image-gan",
        "config": args.config,
        "step": end,
        "stages": stages,
        "cpu_hours_total": round(sum(s["train_seconds"] * (s["threads"] or 1) for s in stages) / 3600, 2),
        "next": _next_command("train-gan", args, run, f"train.steps={end + max(end - start, 1)}"),
    }
    with atomic_folder(target) as tmp:
        save_stage_folder(last, tmp, dtype=torch.float16)
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"saved stage {len(stages)} of {args.name} (steps {start:,} to {end:,}, {last}) to {target}")
    print(f"next stage: {info['next']}")
    return 0


def _save_caption_encoder(args) -> int:
    """A trained caption encoder (``train-text-encoder --out``), copied as it is: weights, tokenizer, its image half
    (the DAMSM loss needs it) and its training report; the next command trains the GAN's first stage with it."""
    import shutil

    import yaml

    from textgen.core.checkpoint import atomic_folder
    from textgen.gan.text_encoders import load_text_encoder

    run = Path(args.run)
    encoder = load_text_encoder(run, "caption")                 # refuses a folder that does not load
    if encoder.tokenizer is None:
        raise SystemExit(f"error: {run} has no tokenizer files; save the folder train-text-encoder wrote")
    config_file = Path(args.config) if Path(args.config).is_absolute() else ROOT / args.config
    out_dir = yaml.safe_load(config_file.read_text(encoding="utf-8")).get("out_dir", "runs/gan")
    report = run / "training_report.json"
    info = {
        "name": args.name,
        "kind": "caption-encoder",
        "date": dt.date.today().isoformat(),
        "source": str(run),
        "threads": args.threads,
        "report": json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {},
        "note": args.note,
        "next": (f"textgen train-gan --config {args.config} --overwrite train.init_from=null && "
                 f"python scripts/candidate.py save {out_dir} --name {DEFAULTS['text-to-image-gan'][0]}"),
    }
    target = CANDIDATES / args.name
    with atomic_folder(target) as tmp:
        shutil.copytree(run, tmp, dirs_exist_ok=True)
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"saved the caption encoder {run} to {target}")
    print(f"next: {info['next']}")
    return 0


def show(args) -> int:
    path = CANDIDATES / args.name / INFO
    if not path.is_file():
        first = FIRST_STAGE.get(args.name, "see docs/training.md and docs/gan.md")
        raise SystemExit(f"error: {path} does not exist; {first}")
    info = json.loads(path.read_text(encoding="utf-8"))
    if info.get("kind") == "caption-encoder":
        r = info.get("report", {})
        print(f"caption encoder from {info['source']} ({info['date']}): {r.get('steps')} steps, held-out R@1 "
              f"{r.get('r_at_1', float('nan')):.1%}, R@5 {r.get('r_at_5', float('nan')):.1%}")
        print(f"next: {info['next']}")
        return 0
    if info.get("kind") == "text-to-image-gan":
        print("| stage | date | steps | seed | train (h) | D loss | G loss |")
        print("|---|---|---|---|---|---|---|")
        for s in info["stages"]:
            last = s.get("last", {})
            print(f"| {s['stage']} | {s['date']} | {s['steps'][0]:,}-{s['steps'][1]:,} | {s['seed']} | "
                  f"{s['train_seconds'] / 3600:.2f} | {last.get('d_loss', float('nan')):.3f} | "
                  f"{last.get('g_loss', float('nan')):.3f} |")
        print(f"next stage: {info['next']}")
        return 0
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
    p.add_argument("run", help="the stage's run folder (out_dir), or a caption encoder (train-text-encoder --out)")
    p.add_argument("--name", help="candidate folder under candidates/ (default: en-lstm-vae for a VAE run, birds-gan "
                   "for a GAN run, birds-caption-encoder for a caption encoder)")
    p.add_argument("--config", help="the recipe the next stage trains (default: configs/vae/en_broad.yaml for a VAE, "
                   "configs/gan/birds32_real_stage.yaml for the GAN)")
    p.add_argument("--checkpoint", help="VAE: best or last (default: best/ if there, else last/); GAN: last")
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
