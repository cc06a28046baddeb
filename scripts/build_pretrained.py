#!/usr/bin/env python
"""Rebuild a shipped default model from scratch, check it, and install it into the package.

    python scripts/build_pretrained.py --model en-lstm-vae --from-run candidates/en-lstm-vae   # install the candidate
    python scripts/build_pretrained.py --model en-lstm-vae --resume            # continue the interrupted stage
    python scripts/build_pretrained.py --model ptb-lstm-vae   # train configs/vae/ptb_lstm_interp.yaml
    python scripts/build_pretrained.py --model en-sentiment-cvae   # configs/vae/en_sentiment_cvae.yaml, from en-lstm-vae
    python scripts/build_pretrained.py --model birds-gan      # train configs/gan/birds32_cpu.yaml
    python scripts/build_pretrained.py --model birds-gan --from-run runs/gan/birds32_cpu

A VAE recipe: (0) what it reads is built first if missing (en-lstm-vae: ``textgen prepare-corpus english
--out data/english``, paths relative to the working directory, as in the configs); (1) each training stage runs in order, ``textgen train-vae
--config STAGE`` into the config's ``out_dir`` (en-lstm-vae: the auto-encoder pre-training, then the VAE that
starts from its encoder, Li et al. 2019; a stage whose run has finished is skipped, an interrupted one
continues with ``--resume``); (2) the last stage's ``best/`` folder, weights rounded to fp16 (half the size; cast back to fp32
on load), is written to a temporary folder; (3) ``eval-vae`` on the recipe's held-out test split measures THAT
folder, the one users get; (4) it replaces ``textgen/pretrained/<name>`` only if its IW-NLL beats the
installed model's (recorded in its report file), so the repository stores new weights only when they improve;
``--force`` installs regardless. en-sentiment-cvae (a conditional VAE) is measured by ``eval-transfer`` as
well and installed by its transfer accuracy and BLEU to the source instead (``transfer_install_decision``,
both models measured on the valid split with one classifier; the test report is written after).
en-lstm-vae is trained in stages across sessions into ``candidates/en-lstm-vae`` (``scripts/candidate.py``) and
installed from there (``--from-run`` takes a model folder too) by the targets it is trained for:
``bench_interpolation`` on the valid split, for it and for the installed model (``target_install_decision``);
its sampling prior is fitted first (``textgen fit-prior`` on training sentences, the recipe's ``prior``).

birds-gan: (1) ``textgen train-gan --config configs/gan/<recipe>.yaml`` into ``--run`` (resumable);
(2) the run's ``last/`` folder (or ``--checkpoint checkpoints/step_XXXXXX``: G, EMA-G, the caption encoder) in
fp16 goes to a temporary folder; (3) a captioned sample grid is drawn from THAT folder (``samples.png``
beside the weights) and eval-gan's judge measures its attribute accuracy on ``--eval-captions`` grammar
captions and the held-out CUB classes, the background shares and FID on 2,048 images (``eval_attributes.json``,
judge trained on the run's data folder, or ``--eval-data``); (4) it replaces ``textgen/pretrained/birds-gan``
only if, against the installed model measured again by the same judge, captions and real images, it finds at
most 2 points fewer stated attributes, has no worse FID and no worse background coverage, and is better in one
of the three (``gan_install_decision``); ``--force`` regardless.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import torch

from textgen.gan.eval.judge import JUDGE_STEPS

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "textgen" / "pretrained"
# A VAE recipe: what to build if missing ({path: textgen command}), the training stages in order (configs;
# every stage but the last writes where its config says), the held-out split the installed folder is measured on.
# en-lstm-vae's sampling prior: a mixture fitted to the posterior means of 40,000 training sentences took the
# stage-2 candidate's prior samples from 3.48x to 1.75x real sentences' LM perplexity on valid (1.84x fitted to
# z ~ q(z|x)); on stage 3, 150 components gave 1.71x against 1.94x for 50 (500 samples);
# docs/experiments/en_vae_broad.md
PRIOR_COMPONENTS = 150
# ... drawn from at a reduced temperature (each component's spread x 0.9; Kingma & Dhariwal 2018): on stage 4, 500
# prior samples went from 1.60x to 1.43x real sentences' LM perplexity on valid with the same distinct-2 (0.88;
# real sentences 0.89); 300 components instead of 150 gave 1.60x again
PRIOR_TEMPERATURE = 0.9
CVAE_GUIDANCE = 4.0
RECIPES = {
    # the broad-English default is trained in stages across sessions (configs/vae/en_broad.yaml, scripts/candidate.py)
    # and installed from its committed candidate by the targets it is trained for, measured on the valid split
    "en-lstm-vae": {
        "prepare": {"data/english/train.jsonl": ["prepare-corpus", "english", "--out", "data/english"]},
        "stages": ["configs/vae/en_broad.yaml"], "run": "runs/vae/en_broad",
        "eval": "data/english/test.jsonl", "eval_sentences": 1000, "report": "eval_english_test.json",
        "targets": {"valid": "data/english/valid.jsonl", "lm": "runs/vae/en_lm/best", "report": "eval_targets_valid.json"},
        # its sampling prior: a Gaussian mixture fitted to the codes of training sentences (textgen fit-prior)
        "prior": {"data": "data/english/train.jsonl", "components": PRIOR_COMPONENTS, "sentences": 40000,
                  "temperature": PRIOR_TEMPERATURE}},
    "ptb-lstm-vae": {"prepare": {}, "stages": ["configs/vae/ptb_lstm_interp.yaml"], "run": "runs/vae/ptb_lstm_interp",
                     "eval": "ptb:test", "eval_sentences": None, "report": "eval_ptb_test.json"},
    # the conditional default starts from the installed en-lstm-vae (init_from) and is installed by its transfer
    # scores (eval-transfer on the same held-out split, separate classifier, LM baseline if its run is there)
    "en-sentiment-cvae": {
        "prepare": {"data/english/train.jsonl": ["prepare-corpus", "english", "--out", "data/english"]},
        "stages": ["configs/vae/en_sentiment_cvae.yaml"], "run": "runs/vae/en_sentiment_cvae",
        "eval": "data/english/test.jsonl", "eval_sentences": 1000, "report": "eval_english_test.json",
        "transfer": {"train_data": "data/english/train.jsonl", "lm": "runs/vae/en_lm/best",
                     "valid": "data/english/valid.jsonl", "report": "eval_transfer.json"},
        # its label guidance weight, kept in the folder (condition.guidance), chosen on 150 valid sentences:
        # docs/experiments/cvae_guidance.md
        "guidance": CVAE_GUIDANCE},
    "birds-gan": {"config": "configs/gan/birds32_cpu.yaml", "run": "runs/gan/birds32_cpu"},
}
GAN_REPORT = "eval_attributes.json"
GAN_CAPTIONS = ["a red bird with black wings", "this small bird has a blue crown and a white belly",
                "a yellow bird with a short black bill", "this bird is mostly green with an orange breast",
                "a white bird with grey wings and a long orange beak"]


def _install(staged: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.move(str(staged), target)
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 2**20
    print(f"installed {target} ({size:.1f} MB)")


def _textgen(*argv: str) -> None:
    print("$ textgen " + " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "textgen", *argv], check=True)


def build_vae(args, target: Path) -> int:
    from textgen.core.config import load_config
    from textgen.vae.modeling import SentenceVAE
    from textgen.vae.evaluate import evaluate_folder, format_report, write_report
    from textgen.vae.configuration import VAERunConfig
    from textgen.vae.trainer import VAETrainer, training_finished

    recipe = RECIPES[args.model]
    run = Path(args.from_run or args.run)
    if not args.from_run:
        for needed, command in ({} if args.stages else recipe["prepare"]).items():   # the recipe's own inputs
            if not Path(needed).exists():
                _textgen(*[str(ROOT / c) if c.startswith("configs/") else c for c in command])
        stages = args.stages or [str(ROOT / c) for c in recipe["stages"]]
        for i, stage in enumerate(stages):
            last = i == len(stages) - 1
            cfg = load_config(VAERunConfig, stage, [*args.overrides, f"out_dir={run}"] if last else [])
            if training_finished(cfg):
                print(f"stage {i + 1}/{len(stages)}: {cfg.out_dir} has finished; skipped")
                continue
            print(f"stage {i + 1}/{len(stages)}: {stage} -> {cfg.out_dir}", flush=True)
            VAETrainer(cfg, resume=args.resume).fit()
    source = run / args.checkpoint if (run / args.checkpoint / "config.json").is_file() else run   # a run, or a folder

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        if "prior" in recipe:                  # the sampling prior, fitted to this model's codes of training sentences
            prior, fitted = recipe["prior"], Path(tmp) / "with-prior"
            components, sentences = args.prior_sizes or (prior["components"], prior["sentences"])
            _textgen("fit-prior", "--model", str(source), "--data", args.prior_data or prior["data"], "--out",
                     str(fitted), "--components", str(components), "--num-sentences", str(sentences),
                     "--temperature", str(prior.get("temperature", 1.0)), "--quiet")
            source = fitted
        model = SentenceVAE.from_pretrained(source)
        if "guidance" in recipe:               # a decoding setting chosen on valid after training, kept in the folder
            model.config.condition.guidance = recipe["guidance"]
        staged = Path(tmp) / target.name
        model.save_pretrained(staged, dtype=torch.float16)
        report = evaluate_folder(staged, args.eval_data or recipe["eval"], iw_samples=args.iw_samples,
                                 num_sentences=recipe["eval_sentences"])
        report["model"] = target.name
        report["trained_from"] = [Path(c).name for c in (args.stages or recipe["stages"])]
        print(format_report(report))
        write_report(report, staged / recipe["report"])
        if "transfer" in recipe:
            return _check_transfer_and_install(args, recipe, staged, target)
        if "targets" in recipe:
            return _check_targets_and_install(args, recipe, staged, target)
        old = target / recipe["report"]
        if old.is_file() and not args.force:
            prev = json.loads(old.read_text())
            if report["iw_nll"] >= prev["iw_nll"]:
                print(f"not installed: IW-NLL {report['iw_nll']:.2f} does not beat the shipped {prev['iw_nll']:.2f} "
                      "(use --force to install anyway)")
                return 1
        _install(staged, target)
    return 0


def weigh(checks: list[tuple[str, float, float, float, bool, str]]) -> tuple[bool, str]:
    """The install rule shared by every shipped model: a candidate replaces the installed one when no measure is
    worse than the installed one's by more than its slack, and at least one is better. ``checks`` holds
    ``(name, candidate, installed, slack, higher_is_better, format)`` per measure; returns (install?, why)."""
    for name, v, v0, slack, higher, fmt in checks:
        if (v < v0 - slack) if higher else (v > v0 + slack):
            by = f"more than {slack:{fmt}} " if slack else ""
            return False, f"{name} {v:{fmt}} is {by}{'below' if higher else 'worse than'} the installed {v0:{fmt}}"
    if not any((v > v0) if higher else (v < v0) for _, v, v0, _, higher, _ in checks):
        return False, f"it does not beat the installed model on {', '.join(c[0] for c in checks)}"
    return True, ", ".join(f"{name} {v:{fmt}} vs {v0:{fmt}}" for name, v, v0, _, _, fmt in checks)


def transfer_install_decision(new: dict, old: dict) -> tuple[bool, str]:
    """Whether a candidate conditional VAE replaces the installed one: at most 2 points lower transfer accuracy
    and at most 2 BLEU lower content preservation (sacreBLEU), and better in one of the two (eval-transfer
    reports of the same held-out sentences and classifier, both measured now). IW-NLL alone would keep a model
    that ignores its label."""
    return weigh([("transfer accuracy", new["transfer_accuracy"], old["transfer_accuracy"], 0.02, True, ".1%"),
                  ("BLEU to the source", new["bleu"], old["bleu"], 2.0, True, ".1f")])


def _check_transfer_and_install(args, recipe: dict, staged: Path, target: Path) -> int:
    """The install rule above on the valid split, both models measured now by the same classifier (a stored
    report may come from another build of the corpus); then eval-transfer on the test split for the folder."""
    from textgen.vae.transfer_eval import evaluate_transfer, format_transfer_report

    spec = recipe["transfer"]
    lm = spec["lm"] if Path(spec["lm"], "config.json").is_file() else None
    if lm is None:
        print(f"note: no LM baseline at {spec['lm']} (textgen train-vae --config configs/vae/en_lm.yaml): "
              "fluency is not measured")

    def measure(folder: Path, data: str) -> dict:
        report = evaluate_transfer(folder, data, spec["train_data"], lm=lm, num_sentences=args.transfer_sentences)
        print(f"$ eval-transfer {folder} on {data}:\n{format_transfer_report(report)}", flush=True)
        return report

    decision = None
    if (target / "config.json").is_file() and not args.force:
        valid = args.valid_data or spec["valid"]
        decision = transfer_install_decision(measure(staged, valid), measure(target, valid))
        if not decision[0]:
            return _decide_and_install(decision, staged, target)
    report = measure(staged, args.eval_data or recipe["eval"])
    report["model"] = target.name
    (staged / spec["report"]).write_text(json.dumps(report, indent=2) + "\n")
    return _decide_and_install(decision, staged, target)


def _decide_and_install(decision: Optional[tuple[bool, str]], staged: Path, target: Path) -> int:
    """Install ``staged`` unless the install rule's ``(ok, why)`` says no (None: nothing to compare, or --force)."""
    if decision is not None:
        ok, why = decision
        if not ok:
            print(f"not installed: {why} (use --force to install anyway)")
            return 1
        print(f"installing: {why}")
    _install(staged, target)
    return 0


def target_install_decision(new: dict, old: dict) -> tuple[bool, str]:
    """Whether a candidate sentence VAE replaces the installed one, by what it is trained for (bench_interpolation
    reports of both on the same valid sentences): no collapse (KL >= 10, every unit active) and no fluency worse
    than 1.5x real sentences are required; then at most 1 point fewer exact reconstructions of <= 12 words, at most
    2 points more WER and at most 2 points more non-caption paths through a bird caption, and better in one.
    IW-NLL alone would keep a model whose code carries too little to bring a sentence back."""
    d = new["density"]
    if d["kl"] < 10 or d["au"] < d["latent_size"]:
        return False, f"collapse: KL {d['kl']:.2f}, {d['au']} of {d['latent_size']} units active (need KL >= 10, all)"
    for name in ("inner path points", "prior samples"):
        if "fluency" in new:
            ratio = new["fluency"][name]["median"] / new["fluency"]["held-out real sentences"]["median"]
            if ratio > 1.5:
                return False, f"{name}: median LM perplexity {ratio:.2f}x of real sentences (need <= 1.5x)"

    def through(report: dict) -> float:
        return report["paths"]["plain_through_caption"] / max(report["paths"]["plain"], 1)

    short = "<= 12 words"
    return weigh([("exact reconstruction (<= 12 words)", new["reconstruction"][short]["exact"],
                   old["reconstruction"][short]["exact"], 0.01, True, ".1%"),
                  ("WER (<= 12 words)", new["reconstruction"][short]["wer"], old["reconstruction"][short]["wer"],
                   0.02, False, ".1%"),
                  ("non-caption paths through a caption", through(new), through(old), 0.02, False, ".1%")])


def _bench(args, folder: Path, data: str, lm: Optional[str], out: Path) -> dict:
    """bench_interpolation on ``folder`` (the same sentences, paths and seed for every model), as a dict."""
    short, long_, paths, prior, iw = args.bench_sizes
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_interpolation.py"), "--model", str(folder), "--data", data,
           "--short", str(short), "--long", str(long_), "--paths", str(paths), "--prior", str(prior),
           "--real", str(max(prior, 100)), "--iw-sentences", str(iw), "--iw-samples", str(min(args.iw_samples, 20)),
           "--json", str(out)] + (["--lm", lm] if lm else [])
    print("$ " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def _check_targets_and_install(args, recipe: dict, staged: Path, target: Path) -> int:
    """bench_interpolation on the valid split for the staged folder and the installed one, then the rule above."""
    spec = recipe["targets"]
    valid = args.valid_data or spec["valid"]
    lm = spec["lm"] if Path(spec["lm"], "config.json").is_file() else None
    if lm is None:
        print(f"note: no LM baseline at {spec['lm']} (textgen train-vae --config configs/vae/en_lm.yaml "
              "tokenizer.path=...): fluency is not measured")
    new = _bench(args, staged, valid, lm, staged / spec["report"])
    decision = None
    if (target / "config.json").is_file() and not args.force:
        with tempfile.TemporaryDirectory() as tmp:
            decision = target_install_decision(new, _bench(args, target, valid, lm, Path(tmp) / "installed.json"))
    return _decide_and_install(decision, staged, target)


ATTRIBUTE_SLACK = 0.02        # a candidate may find up to 2 points fewer stated attributes if it wins elsewhere


def gan_install_metrics(pipe, data_dir, args) -> dict:
    """What the install rule weighs, for one model: stated attributes (grammar captions, and held-out CUB
    classes when the caption file is there), the background shares (scene coverage) and FID."""
    from textgen.gan.eval.attributes import evaluate_attributes
    from textgen.gan.eval.fid import InceptionFeatures, evaluate_fid
    from textgen.data.images import ImageCaptionData

    cub = Path(args.cub_captions) if args.cub_captions and Path(args.cub_captions).is_file() else None
    report = evaluate_attributes(pipe, data_dir, num_captions=args.eval_captions, images_per_caption=2,
                                 cub_captions_file=cub, classifier_steps=args.judge_steps,
                                 diversity_captions=args.diversity_captions, show_progress=False)
    data = ImageCaptionData.load(data_dir, image_size=pipe.image_size)
    report["fid"] = evaluate_fid(pipe, data, Path(data_dir), InceptionFeatures(pipe.device),
                                 min(args.fid_images, len(data) // 2))
    return report


def _tv(report: dict) -> float:
    """The background TV distance from real renders; 0 when not measured (``--diversity-captions 0``), so that
    the rule then weighs attributes and FID only."""
    return report["scene"]["labels"]["background"]["tv_distance"] if "scene" in report else 0.0


def summarise(report: dict) -> str:
    cub = f", held-out CUB {report['cub']['accuracy']:.1%}" if "cub" in report else ""
    return (f"stated attributes {report['grammar']['accuracy']:.1%} (grammar){cub}; FID {report['fid']['fid']:.1f}; "
            f"background TV {_tv(report):.2f}")


def gan_install_decision(new: dict, old: dict) -> tuple[bool, str]:
    """Whether a candidate GAN replaces the installed one, and why. It must (1) find at most
    :data:`ATTRIBUTE_SLACK` fewer stated attributes on grammar captions, (2) have no worse FID and (3) no worse
    background coverage (total variation distance of the background shares from real renders), and be better in
    at least one of the three. Attributes alone would keep a model that draws every bird on foliage."""
    return weigh([("stated attributes", new["grammar"]["accuracy"], old["grammar"]["accuracy"], ATTRIBUTE_SLACK, True,
                   ".1%"),
                  ("FID", new["fid"]["fid"], old["fid"]["fid"], 0.0, False, ".1f"),
                  ("background TV distance", _tv(new), _tv(old), 0.0, False, ".2f")])


def build_gan(args, target: Path) -> int:
    from textgen.core.config import load_config
    from textgen.gan.text_encoder_training import REPORT_FILE
    from textgen.gan.configuration import GANRunConfig
    from textgen.gan.trainer import GANTrainer
    from textgen.gan.modeling import TextToImageGAN
    from textgen.gan.pipeline import TextToImagePipeline

    run = Path(args.from_run or args.run)
    if not args.from_run:
        cfg = load_config(GANRunConfig, args.config, [*args.overrides, f"out_dir={run}"])
        GANTrainer(cfg, resume=args.resume).fit()
    source = run / (args.checkpoint if args.checkpoint != "best" else "last")   # a GAN run keeps last/ only
    model = TextToImageGAN.from_pretrained(source)

    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        model.save_pretrained(staged, dtype=torch.float16)
        for report in (source / "text_encoder" / REPORT_FILE, run / "text_encoder" / REPORT_FILE):
            if report.is_file():                            # the caption encoder's retrieval scores travel along
                shutil.copy(report, staged / "text_encoder" / REPORT_FILE)
                break
        pipe = TextToImagePipeline.from_pretrained(staged)
        out = pipe(GAN_CAPTIONS, num_images_per_prompt=6, generator=torch.Generator().manual_seed(0))
        out.grid().save(staged / "samples.png")
        data_dir = args.eval_data or load_config(GANRunConfig, run / "config.yaml").data.path
        new = gan_install_metrics(pipe, data_dir, args)
        new["model"] = str(source)
        (staged / GAN_REPORT).write_text(json.dumps(new, indent=2) + "\n")
        print(f"candidate: {summarise(new)}")
        # the installed model is measured again by the same judge, captions and real sets: a stored number may
        # come from an older judge (JUDGE_RECIPE) or another data folder, and would not compare
        old = None
        if (target / "config.json").is_file():
            old = gan_install_metrics(TextToImagePipeline.from_pretrained(target), data_dir, args)
            print(f"installed: {summarise(old)}")
        if old is not None and not args.force:
            ok, why = gan_install_decision(new, old)
            if not ok:
                print(f"not installed: {why} (same judge, captions and real images); --force to install anyway")
                return 1
            print(f"installing: {why}")
        if target.exists() and old is None and not args.force:
            print(f"not installed: {target} holds no model to compare with; --force to replace it")
            return 1
        (staged / "build.json").write_text(json.dumps({"model": target.name, "trained_from": str(args.config),
                                                       "run": str(run), "checkpoint": str(source)}, indent=2) + "\n")
        _install(staged, target)
    print(f"sample grid: {target / 'samples.png'}")
    return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")      # the trainers' lines (the textgen logger)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="en-lstm-vae", choices=sorted(RECIPES), help="which shipped model to build")
    ap.add_argument("--config", help="GAN: training config (default: the model's recipe)")
    ap.add_argument("--stages", nargs="+", help="VAE: training configs in order (default: the model's recipe)")
    ap.add_argument("--run", help="run folder to train into (default: runs/...)")
    ap.add_argument("--from-run", help="use this finished run instead of training")
    ap.add_argument("--checkpoint", default="best", help="checkpoint of the run to ship: best (VAE), last, or a GAN's checkpoints/step_XXXXXX")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted training run")
    ap.add_argument("--eval-data", help="VAE: held-out corpus to measure on (default: the recipe's test split); "
                    "GAN: the synthetic-birds folder of the judge and the real images (default: the run's data)")
    ap.add_argument("--iw-samples", type=int, default=100, help="VAE: importance samples for IW-NLL (default 100)")
    ap.add_argument("--valid-data", help="en-lstm-vae, en-sentiment-cvae: the split the install rule measures on "
                                         "(default: the recipe's valid)")
    ap.add_argument("--bench-sizes", type=int, nargs=5, default=[100, 40, 200, 500, 500],
                    metavar=("SHORT", "LONG", "PATHS", "PRIOR", "IW"),
                    help="en-lstm-vae: bench_interpolation sizes of the install rule (per source: <= 12 and 13-30 "
                         "words; paths, prior samples, IW sentences; default: the targets' 200 paths and 500 "
                         "prior samples)")
    ap.add_argument("--prior-data", help="en-lstm-vae: training sentences its sampling prior is fitted to "
                                         "(default: the recipe's)")
    ap.add_argument("--prior-sizes", type=int, nargs=2, metavar=("COMPONENTS", "SENTENCES"),
                    help=f"en-lstm-vae: mixture components and sentences of the sampling prior (default "
                         f"{PRIOR_COMPONENTS} 40000)")
    ap.add_argument("--transfer-sentences", type=int, default=500,
                    help="conditional VAE: held-out sentences eval-transfer rewrites (default 500)")
    ap.add_argument("--eval-captions", type=int, default=300, help="GAN: grammar captions for the attribute check")
    ap.add_argument("--judge-steps", type=int, default=JUDGE_STEPS, help="GAN: judge training steps when not cached")
    ap.add_argument("--fid-images", type=int, default=2048, help="GAN: generated images for FID (default 2048)")
    ap.add_argument("--diversity-captions", type=int, default=20,
                    help="GAN: captions for the variety checks; the background shares need > 0 (default 20)")
    ap.add_argument("--cub-captions", default=str(ROOT.parent / "shared" / "data" / "cub_captions_train.jsonl.gz"),
                    help="GAN: real CUB captions; their held-out classes are scored too when the file exists")
    ap.add_argument("--force", action="store_true", help="install even if it does not improve on the shipped one")
    ap.add_argument("--install-dir", default=str(PRETRAINED), help="where shipped models live (default: the package's)")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides for training")
    args = ap.parse_args()
    recipe = RECIPES[args.model]
    if "config" in recipe:
        args.config = args.config or str(ROOT / recipe["config"])
    args.run = args.run or recipe["run"]
    target = Path(args.install_dir) / args.model
    target.parent.mkdir(parents=True, exist_ok=True)
    return (build_gan if args.model == "birds-gan" else build_vae)(args, target)


if __name__ == "__main__":
    sys.exit(main())
