"""The GAN trained in stages (docs/gan.md, "Training in stages"): a committed caption-encoder folder that no stage
retrains, and a candidate folder (fp16 G, EMA-G, D, E and the step) that ``train.init_from`` continues from."""
from __future__ import annotations

import argparse
import hashlib
import json

import pytest
import torch

from conftest import safetensors_weights, tiny_gan_run
from textgen.core.checkpoint import CheckpointError
from textgen.core.config import load_config
from textgen.core.trainer import TrainingState
from textgen.gan.configuration import GANRunConfig
from textgen.gan.modeling import TextToImageGAN
from textgen.gan.trainer import GANTrainer

STAGE = ("train.recon=10", "train.latent=0.5", "train.damsm=1", "train.save_every=2", "train.sample_every=2")


def trainer(yaml, **kwargs) -> GANTrainer:
    return GANTrainer(load_config(GANRunConfig, yaml), **kwargs)


def save(tool, run, name, note="", config="configs/gan/birds32_real_stage.yaml"):
    return tool.save(argparse.Namespace(run=str(run), name=name, config=config, checkpoint=None, threads=2, note=note))


def train_text_encoder(tmp_path, name, seed=0):
    """Stage 0: ``textgen train-text-encoder`` on the tiny birds (rendered by tiny_gan_run)."""
    from textgen.cli import main

    tiny_gan_run(tmp_path, "render")                                  # renders tmp_path/birds once
    out = tmp_path / name
    assert main(["train-text-encoder", "--data", str(tmp_path / "birds"), "--out", str(out), "--size", "32",
                 "--steps", "3", "--dim", "16", "--min-freq", "1", "--batch-size", "8", "--device", "cpu",
                 "--seed", str(seed), "--quiet"]) == 0
    return out


def digest(folder):
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


@pytest.fixture
def no_encoder_training(monkeypatch):
    """Any attempt to train a caption encoder inside train-gan fails the test."""
    import textgen.gan.trainer as mod

    def refuse(*args, **kwargs):
        raise AssertionError("the caption encoder was retrained")

    monkeypatch.setattr(mod, "train_caption_encoder", refuse)


def test_two_stages_continue_through_the_candidate(tmp_path, candidate_tool, monkeypatch, capsys, no_encoder_training):
    monkeypatch.setattr(candidate_tool, "CANDIDATES", tmp_path / "candidates")
    encoder = train_text_encoder(tmp_path, "te")
    assert save(candidate_tool, encoder, "tiny-te") == 0                              # stage 0: the caption encoder
    te = tmp_path / "candidates" / "tiny-te"
    assert (te / "image_encoder" / "model.safetensors").is_file() and digest(te) == digest(encoder)
    assert "train.init_from=null" in json.loads((te / "candidate.json").read_text())["next"]
    te_digest = digest(te)

    first, run1 = tiny_gan_run(tmp_path, "stage1", "train.steps=4", f"text_encoder.path={te}", *STAGE)
    trainer(first).fit()
    assert save(candidate_tool, run1, "tiny-gan", "first") == 0
    folder = tmp_path / "candidates" / "tiny-gan"
    info = json.loads((folder / "candidate.json").read_text())
    assert info["step"] == 4 and info["stages"][0]["steps"] == [0, 4] and info["stages"][0]["note"] == "first"
    assert "--overwrite train.steps=8 " in info["next"] and f"save {run1} --name tiny-gan" in info["next"]
    assert f" out_dir={run1} " in info["next"]             # it trains into the folder it then saves from
    assert info["next"] in capsys.readouterr().out
    weights = safetensors_weights(folder)
    state = TrainingState.load(folder / "training_state")
    assert state.step == 4 and set(state.parts) == {"D", "E"}                      # no optimiser state
    tensors = [*weights.values(), *state.parts["D"].values(), *state.parts["E"].values()]
    assert all(t.dtype == torch.float16 for t in tensors if t.is_floating_point())
    TextToImageGAN.from_pretrained(folder).embed(["a red bird"])                   # generates as any GAN folder

    # stage 2 starts from exactly the fp16-rounded weights of stage 1 and continues its step counter
    second, run2 = tiny_gan_run(tmp_path, "stage2", "train.steps=8", f"text_encoder.path={te}",
                                f"train.init_from={folder}", *STAGE)
    t2 = trainer(second)
    assert t2.step == t2.init_step == 4
    g1, s1 = safetensors_weights(run1 / "last"), TrainingState.load(run1 / "last" / "training_state").parts
    model = t2.model
    for prefix, net in (("generator.", model.generator), ("generator_ema.", model.generator_ema)):
        for k, v in net.state_dict().items():
            assert torch.equal(v, g1[prefix + k].half().float()), prefix + k
    assert not all(torch.equal(v, g1["generator." + k]) for k, v in model.generator.state_dict().items())  # rounded
    for part, net in (("D", model.discriminator), ("E", model.posterior_encoder)):
        for k, v in net.state_dict().items():
            assert torch.equal(v, s1[part][k].half().float()), f"{part}.{k}"
    t2.fit()
    rows = [json.loads(line) for line in (run2 / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [6, 8]
    assert sorted(p.name for p in (run2 / "samples").iterdir()) == ["step_000006.png", "step_000008.png"]
    assert not (run2 / "text_encoder").exists() and digest(te) == te_digest      # the encoder was read, not trained

    assert save(candidate_tool, run2, "tiny-gan", "second") == 0
    info = json.loads((folder / "candidate.json").read_text())
    assert [s["steps"] for s in info["stages"]] == [[0, 4], [4, 8]] and info["stages"][1]["init_from"] == str(folder)
    assert "train.steps=12 " in info["next"]
    assert TrainingState.load(folder / "training_state").step == 8
    assert not any(p.name.startswith(".") for p in (tmp_path / "candidates").iterdir())   # no temporary left
    capsys.readouterr()
    assert candidate_tool.show(argparse.Namespace(name="tiny-gan")) == 0
    shown = capsys.readouterr().out
    assert "| 2 |" in shown and "| 4-8 |" in shown and info["next"] in shown


def test_a_candidate_that_does_not_fit_is_refused(tmp_path, candidate_tool, monkeypatch):
    monkeypatch.setattr(candidate_tool, "CANDIDATES", tmp_path / "candidates")
    first, run1 = tiny_gan_run(tmp_path, "stage1", "train.steps=2", "train.save_every=2")
    trainer(first).fit()
    assert save(candidate_tool, run1, "tiny-gan") == 0
    folder = tmp_path / "candidates" / "tiny-gan"

    def stage(name, *overrides):
        return trainer(tiny_gan_run(tmp_path, name, f"train.init_from={folder}", "train.steps=4", *overrides)[0])

    with pytest.raises(CheckpointError, match=r"does not fit this config \(model.g_channels: 4 there, 8 here\).*set "
                                              "those keys as it has them"):
        stage("wide", "model.g_channels=8")
    with pytest.raises(ValueError, match=r"is at step 2 and train.steps=2 is the step this run stops at.*"
                                         "set train.steps=2\\+N"):
        stage("done", "train.steps=2")
    other = train_text_encoder(tmp_path, "other-te", seed=1)
    with pytest.raises(CheckpointError, match="trained with another text encoder than text_encoder.path"):
        stage("other", f"text_encoder.path={other}")
    with pytest.raises(FileNotFoundError, match="train.init_from=.*does not exist.*train.init_from=null"):
        stage("nope", f"train.init_from={tmp_path / 'nope'}")
    TextToImageGAN.from_pretrained(folder).save_pretrained(tmp_path / "model_only")   # generation-only folder
    with pytest.raises(CheckpointError, match="no training_state/ with the discriminator"):
        stage("model-only", f"train.init_from={tmp_path / 'model_only'}")
    assert not (tmp_path / "wide").exists() and not (tmp_path / "done").exists()   # refused before any folder
    stage("own").fit()                                 # the candidate's own text encoder when none is given
    resumed = trainer(tiny_gan_run(tmp_path, "own", f"train.init_from={folder}", "train.steps=6")[0], resume=True)
    assert (resumed.step, resumed.init_step) == (4, 2)                            # a stage resumes as any run
    resumed.fit()
    state = TrainingState.load(tmp_path / "own" / "last" / "training_state")
    assert (state.step, state.extra["init_step"]) == (6, 2)


def test_a_run_given_a_caption_encoder_folder_never_trains_one(tmp_path, no_encoder_training):
    encoder = train_text_encoder(tmp_path, "te")
    before = digest(encoder)
    yaml, run = tiny_gan_run(tmp_path, "given", "train.steps=2", f"text_encoder.path={encoder}")
    trainer(yaml).fit()
    assert digest(encoder) == before and not (run / "text_encoder").exists()
    assert digest(run / "last" / "text_encoder") == before                        # the run's model carries it
    missing, _ = tiny_gan_run(tmp_path, "missing", "train.steps=2", f"text_encoder.path={tmp_path / 'typo'}")
    with pytest.raises(FileNotFoundError, match="typo does not exist; a run given one never trains one"):
        trainer(missing)
    assert not (tmp_path / "missing").exists()                                    # refused before any work
