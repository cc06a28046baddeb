"""The VAE trainer end to end on a tiny corpus: run folder, checkpoints, exact resume, NaN stop, eval-vae."""
import dataclasses
import json
import math

import pytest
import torch

from conftest import tiny_vae_run
from textgen.core.checkpoint import CheckpointError
from textgen.cli import main
from textgen.core.config import ConfigError, load_config
from textgen.vae.modeling import SentenceVAE
from textgen.core.runtime import TrainingDiverged
from textgen.vae.configuration import VAERunConfig
from textgen.vae.trainer import VAETrainer

SENTENCES = [
    "the cat sat on the mat .", "a dog ran in the park .", "the bird sang a song .",
    "we like to read books .", "she said it was fine .", "the market fell on monday .",
    "he bought two new cars .", "prices rose in october .", "the company sold its unit .",
    "they want to talk to you .", "i want to be with you .", "the fund rose N % .",
]


@pytest.fixture()
def corpus(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(SENTENCES * 4) + "\n\n", encoding="utf-8")  # a blank line is skipped
    valid = tmp_path / "valid.txt"
    valid.write_text("\n".join(SENTENCES[:6]) + "\n", encoding="utf-8")
    return train, valid


def tiny_config(tmp_path, corpus, name="run", *overrides):
    train, valid = corpus
    base = [
        f"data.train={train}", f"data.valid={valid}", "data.test=null", "data.batch_size=8",
        "model.embed_size=16", "model.hidden_size=32", "model.latent_size=8", "model.z_concat_input=true",
        "model.word_dropout=0.2", "model.dropout=0.1",
        "train.epochs=2", "train.log_every=2", "train.kl.kind=linear", "train.kl.warmup_steps=6",
        "train.free_bits=0.1", "runtime.device=cpu", "runtime.progress=false", f"out_dir={tmp_path / name}",
    ]
    return load_config(VAERunConfig, None, base + list(overrides))


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_train_writes_run_folder_and_loadable_checkpoints(tmp_path, corpus):
    cfg = tiny_config(tmp_path, corpus)
    trainer = VAETrainer(cfg)
    valid = trainer.fit()
    run = tmp_path / "run"
    assert {"config.yaml", "metrics.jsonl", "metrics.csv", "best", "last"} <= {p.name for p in run.iterdir()}
    assert (run / "last" / "training_state" / "state.safetensors").is_file()
    assert not (run / "best" / "training_state").exists()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"train", "valid"}
    assert all(math.isfinite(r["loss"]) for r in rows if r["split"] == "train")
    assert valid["nll_bound"] == pytest.approx(valid["rec"] + valid["kl"])
    model = SentenceVAE.from_pretrained(run / "last")
    assert model.config.vocab_size == model.tokenizer.vocab_size == trainer.tokenizer.vocab_size
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def test_training_reduces_loss(tmp_path, corpus):
    cfg = tiny_config(tmp_path, corpus, "learn", "train.epochs=15", "model.word_dropout=0.0", "optim.lr=0.01")
    trainer = VAETrainer(cfg)
    before = trainer.validate()
    after = trainer.fit()
    assert after["nll_bound"] < 0.6 * before["nll_bound"], (before, after)


def test_resume_is_exact_across_epoch_and_mid_epoch(tmp_path, corpus):
    straight = VAETrainer(tiny_config(tmp_path, corpus, "straight"))
    straight.fit()

    # stop after one epoch, then resume
    VAETrainer(tiny_config(tmp_path, corpus, "epochs", "train.epochs=1")).fit()
    resumed = VAETrainer(tiny_config(tmp_path, corpus, "epochs"), resume=True)
    assert resumed.epoch == 1 and resumed.step == resumed.batches_per_epoch
    resumed.fit()

    # stop in the middle of the first epoch (max_steps), then resume
    VAETrainer(tiny_config(tmp_path, corpus, "mid", "train.max_steps=3")).fit()
    mid = VAETrainer(tiny_config(tmp_path, corpus, "mid"), resume=True)
    assert (mid.epoch, mid.batch_in_epoch, mid.step) == (0, 3, 3)
    mid.fit()

    ref = weights(straight.model)
    for other in (resumed, mid):
        assert other.step == straight.step
        for k, v in weights(other.model).items():
            assert torch.equal(v, ref[k]), k


def test_resume_with_mismatched_config_is_clear(tmp_path, corpus):
    VAETrainer(tiny_config(tmp_path, corpus, "r", "train.epochs=1")).fit()
    with pytest.raises(CheckpointError, match=r"model.latent_size: checkpoint 8 vs config 4"):
        VAETrainer(tiny_config(tmp_path, corpus, "r", "model.latent_size=4"), resume=True)
    with pytest.raises(CheckpointError, match="cannot resume"):
        VAETrainer(tiny_config(tmp_path, corpus, "never"), resume=True)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path, corpus, monkeypatch):
    cfg = tiny_config(tmp_path, corpus, "nan", "train.epochs=3")
    trainer = VAETrainer(cfg)
    import textgen.vae.trainer as trainer_mod

    real_loss = trainer_mod.vae_loss
    poison_from = trainer.batches_per_epoch + 1  # poison the second epoch

    def poisoned(out, **kw):
        terms = real_loss(out, **kw)
        if trainer.step >= poison_from:
            terms.loss = terms.loss * float("nan")
            terms.rec = terms.rec * float("nan")
        return terms

    monkeypatch.setattr(trainer_mod, "vae_loss", poisoned)
    with pytest.raises(TrainingDiverged, match=r"non-finite at step \d+.*last good checkpoint is kept"):
        trainer.fit()
    good = SentenceVAE.from_pretrained(tmp_path / "nan" / "last")
    assert all(torch.isfinite(v).all() for v in good.state_dict().values() if v.is_floating_point())


def test_lm_baseline_and_transformer_train(tmp_path, corpus):
    lm = VAETrainer(tiny_config(tmp_path, corpus, "lm", "model.mode=lm", "train.epochs=1"))
    v = lm.fit()
    assert v["kl"] == 0.0
    tr = VAETrainer(tiny_config(tmp_path, corpus, "tr", "model.encoder=transformer", "model.decoder=transformer",
                                "model.num_heads=2", "model.ff_size=32", "model.max_length=32", "train.epochs=1"))
    assert math.isfinite(tr.fit()["nll_bound"])


def test_cli_train_and_eval_vae(tmp_path, corpus, capsys):
    train, valid = corpus
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        f"model: {{embed_size: 16, hidden_size: 32, latent_size: 8}}\n"
        f"data: {{train: {train}, valid: {valid}, test: null, batch_size: 8}}\n"
        f"train: {{epochs: 2, log_every: 2}}\nruntime: {{device: cpu, progress: false}}\n"
    )
    out = tmp_path / "cli_run"
    assert main(["train-vae", "--config", str(cfg), "--out", str(out)]) == 0
    assert (out / "best" / "model.safetensors").is_file()
    report = tmp_path / "report.json"
    assert main(["eval-vae", "--model", str(out / "best"), "--data", str(valid), "--iw-samples", "20",
                 "--out", str(report), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "IW-NLL" in printed and "active units" in printed
    r = json.loads(report.read_text())
    assert r["num_sentences"] == 6 and r["iw_samples"] == 20
    # Burda et al.: the IW bound is tighter than the ELBO (up to Monte-Carlo noise)
    assert r["iw_nll"] <= r["nll"] + 0.5
    assert "true-posterior KL" in printed and "IW-NLL as k grows" in printed
    assert main(["eval-vae", "--model", str(out / "best"), "--data", str(valid), "--iw-samples", "5",
                 "--num-sentences", "4", "--quiet", "--recon-max-words", "0"]) == 0
    first4 = json.loads((out / "best" / f"eval_{str(valid).replace('/', '_')}_first4.json").read_text())
    assert first4["num_sentences"] == 4 and first4["first_sentences"] == 4
    assert main(["eval-vae", "--model", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["eval-vae", "--model", str(out), "--quiet"]) == 2
    assert "looks like a run folder" in capsys.readouterr().err


def test_ctrl_c_saves_a_resumable_checkpoint_and_resume_is_exact(tmp_path, corpus, monkeypatch):
    import os
    import signal

    from textgen.vae.trainer import TrainingInterrupted

    straight = VAETrainer(tiny_config(tmp_path, corpus, "straight"))
    straight.fit()

    trainer = VAETrainer(tiny_config(tmp_path, corpus, "int"))
    real_step = trainer.train_step

    def step_then_signal(*args):
        out = real_step(*args)
        if trainer.step == 4:  # a real SIGINT in the middle of the first epoch, as Ctrl-C sends it
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(trainer, "train_step", step_then_signal)
    before = signal.getsignal(signal.SIGINT)     # default_int_handler, or SIG_IGN in a background job
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 5 .*--resume"):
        trainer.fit()
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored to what they were
    resumed = VAETrainer(tiny_config(tmp_path, corpus, "int"), resume=True)
    assert (resumed.epoch, resumed.step) == (0, 5)
    resumed.fit()
    ref = weights(straight.model)
    for k, v in weights(resumed.model).items():
        assert torch.equal(v, ref[k]), k


def test_save_every_writes_mid_epoch_checkpoints(tmp_path, corpus, monkeypatch):
    trainer = VAETrainer(tiny_config(tmp_path, corpus, "se", "train.save_every=2", "train.epochs=1"))
    saves = []
    real_save = trainer.save_checkpoint
    monkeypatch.setattr(trainer, "save_checkpoint",
                        lambda name, **kw: saves.append((name, trainer.step, kw["with_state"])) or real_save(name, **kw))
    trainer.fit()
    n = trainer.batches_per_epoch  # 6 batches: mid-epoch saves at steps 2 and 4, then the epoch end's
    assert n == 6
    assert [s for s in saves if s[0] == "last"] == [("last", 2, True), ("last", 4, True), ("last", 6, True)]


def test_eval_scores_long_sentences_whole_for_recurrent_models(tmp_path, corpus):
    from textgen.vae.evaluate import evaluate_folder

    cfg = tiny_config(tmp_path, corpus, "short", "tokenizer.max_length=5", "train.epochs=1")
    VAETrainer(cfg).fit()
    long = tmp_path / "long.txt"
    long.write_text("the cat sat on the mat .\nthe market fell on monday .\n", encoding="utf-8")
    r = evaluate_folder(tmp_path / "short" / "best", str(long), show_progress=False)
    assert r["num_truncated"] == 0 and r["num_tokens"] == 8 + 7  # words + <eos>, trained on 5-token cuts


def test_build_pretrained_installs_a_vae_only_when_it_improves(model_dir, tmp_path):
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(model_dir, tmp_path / "run" / "best")
    cmd = [sys.executable, str(root / "scripts" / "build_pretrained.py"), "--model", "ptb-lstm-vae",
           "--from-run", str(tmp_path / "run"), "--install-dir", str(tmp_path / "pre"), "--iw-samples", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr
    shipped = tmp_path / "pre" / "ptb-lstm-vae"
    report = json.loads((shipped / "eval_ptb_test.json").read_text())
    assert report["num_sentences"] == 3761 and report["iw_nll"] <= report["nll"] + 1e-6
    from textgen.pipelines import SentenceVAEPipeline

    assert SentenceVAEPipeline.from_pretrained(shipped, show_progress=False).model.config.latent_size == 8
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=root)            # the same model: not better
    assert r.returncode == 1 and "does not beat" in r.stdout


def test_a_conditional_vae_is_installed_by_its_transfer_scores(build_tool):
    def report(acc, bleu, legacy=None):
        return {"transfer_accuracy": acc, "bleu": bleu, "bleu_textgen_legacy": legacy}

    installed = report(0.70, 30.0)
    decide = build_tool.transfer_install_decision
    assert decide(report(0.80, 28.5), installed)[0]                    # 10 points more transferred, 1.5 BLEU less
    assert "BLEU" in decide(report(0.90, 27.0), installed)[1]          # more than 2 BLEU lost
    assert "accuracy" in decide(report(0.67, 40.0), installed)[1]      # more than 2 points less transferred
    assert decide(report(0.70, 31.0), installed)[0]
    ok, why = decide(installed, installed)
    assert not ok and "does not beat" in why


def test_build_pretrained_trains_a_two_stage_recipe_and_installs_its_last_stage(tmp_path, corpus):
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from textgen.core.config import config_to_dict

    root = Path(__file__).resolve().parents[1]
    ae = tiny_config(tmp_path, corpus, "stage1", "train.kl.kind=constant", "train.kl.value=0", "train.free_bits=0",
                     "train.max_steps=4")
    vae = tiny_config(tmp_path, corpus, "ignored", f"train.init_from={tmp_path / 'stage1' / 'last'}",
                      "train.init_parts=encoder", "train.max_steps=4")
    stages = []
    for name, cfg in (("s1.yaml", ae), ("s2.yaml", vae)):
        (tmp_path / name).write_text(yaml.safe_dump(config_to_dict(cfg)))
        stages.append(str(tmp_path / name))
    cmd = [sys.executable, str(root / "scripts" / "build_pretrained.py"), "--model", "en-lstm-vae", "--stages", *stages,
           "--run", str(tmp_path / "final"), "--install-dir", str(tmp_path / "pre"), "--eval-data", str(corpus[1]),
           "--iw-samples", "2", "--valid-data", str(corpus[1]), "--bench-sizes", "3", "3", "2", "2", "3",
           "--prior-data", str(corpus[0]), "--prior-sizes", "2", "30"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "stage 1/2" in r.stdout and "stage 2/2" in r.stdout and "warm start (encoder)" in r.stdout + r.stderr
    shipped = tmp_path / "pre" / "en-lstm-vae"
    report = json.loads((shipped / "eval_english_test.json").read_text())
    assert report["trained_from"] == ["s1.yaml", "s2.yaml"] and report["num_sentences"] == 6
    assert (tmp_path / "stage1" / "best").is_dir() and not (tmp_path / "ignored").exists()
    installed = SentenceVAE.from_pretrained(shipped)
    assert installed.config.latent_size == 8 and installed.config.latent_prior_components == 2   # its fitted prior
    assert "fitted a 2-component Gaussian mixture to 30 codes" in r.stdout
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)         # again: nothing left to train
    assert "stage 1/2" in r.stdout and r.stdout.count("has finished; skipped") == 2
    assert r.returncode == 1 and "not installed" in r.stdout                    # the same weights: not installed


def test_the_broad_vae_is_installed_by_its_targets_not_its_likelihood(build_tool):
    def report(exact, wer, through, kl=150.0, au=64, prior=1.0):
        real = {"median": 50.0}
        return {"reconstruction": {"<= 12 words": {"exact": exact, "wer": wer}},
                "paths": {"plain": 50, "plain_through_caption": through},
                "density": {"kl": kl, "au": au, "latent_size": 64, "iw_nll": 180.0},
                "fluency": {"held-out real sentences": real, "inner path points": {"median": 40.0},
                            "prior samples": {"median": 50.0 * prior}}}

    decide = build_tool.target_install_decision
    installed = report(0.11, 0.72, 14, kl=31.0)
    assert decide(report(0.30, 0.50, 2), installed)[0]                    # far better, despite a worse IW-NLL
    ok, why = decide(report(0.30, 0.50, 2, au=60), installed)
    assert not ok and "collapse" in why
    ok, why = decide(report(0.30, 0.50, 2, prior=1.6), installed)
    assert not ok and "prior samples" in why and "1.60x" in why
    ok, why = decide(report(0.09, 0.50, 2), installed)
    assert not ok and "exact reconstruction" in why
    ok, why = decide(installed, installed)
    assert not ok and "does not beat" in why


def test_warm_start_from_the_lm_starts_the_vae_decoder_as_the_lm(tmp_path, corpus):
    from textgen.vae.warm_start import warm_start

    VAETrainer(tiny_config(tmp_path, corpus, "lm", "model.mode=lm", "train.epochs=2", "optim.lr=0.01")).fit()
    lm = SentenceVAE.from_pretrained(tmp_path / "lm" / "best")
    # z at every step and as the initial state: both entry points must start silent
    vae_cfg = tiny_config(tmp_path, corpus, "vae", "model.z_init_state=true", "model.z_concat_input=true",
                          f"train.init_from={tmp_path / 'lm' / 'best'}", "train.max_steps=1")
    trainer = VAETrainer(vae_cfg)
    assert trainer.tokenizer.vocab_size == lm.tokenizer.vocab_size
    assert trainer.tokenizer.encode("the cat sat") == lm.tokenizer.encode("the cat sat")
    vae = trainer.model.eval()
    batch = lm.tokenizer.encode_batch(SENTENCES, add_bos=False, add_eos=True)
    ids, lengths = batch.input_ids, batch.lengths
    z = torch.randn(len(SENTENCES), vae.config.latent_size) * 3
    torch.testing.assert_close(vae.log_likelihood(z, ids, lengths), lm.log_likelihood(None, ids, lengths))

    fresh = SentenceVAE(vae.config)
    report = warm_start(fresh, lm)
    assert report.exact and report.widened == ["decoder.rnn.weight_ih_l0"]
    assert set(report.zeroed) == {"decoder.z_to_state.weight", "decoder.z_to_state.bias"}
    assert report.fresh and all(n.startswith("encoder.") for n in report.fresh)
    # training moves away from the LM: z now changes the likelihood
    trainer.fit()
    vae = trainer.model.eval()
    assert not torch.allclose(vae.log_likelihood(z, ids, lengths), vae.log_likelihood(-z, ids, lengths))


def test_warm_start_refuses_a_different_decoder_and_a_second_tokenizer(tmp_path, corpus):
    VAETrainer(tiny_config(tmp_path, corpus, "lm", "model.mode=lm", "train.max_steps=1")).fit()
    src = tmp_path / "lm" / "last"
    with pytest.raises(ValueError, match=r"differs in size.*decoder.rnn.weight_hh_l0.*hidden_size"):
        VAETrainer(tiny_config(tmp_path, corpus, "big", "model.hidden_size=48", f"train.init_from={src}"))
    with pytest.raises(ValueError, match="lstm decoder, this model a gru one; set model.decoder=lstm"):
        VAETrainer(tiny_config(tmp_path, corpus, "gru", "model.decoder=gru", f"train.init_from={src}"))
    with pytest.raises(ValueError, match="brings its own tokenizer; remove tokenizer.path"):
        VAETrainer(tiny_config(tmp_path, corpus, "tok", f"tokenizer.path={src}", f"train.init_from={src}"))
    with pytest.raises(CheckpointError, match="does not exist"):
        VAETrainer(tiny_config(tmp_path, corpus, "none", f"train.init_from={tmp_path / 'nope'}"))


def test_encoder_warm_start_from_an_autoencoder_keeps_its_codes_and_resets_the_decoder(tmp_path, corpus):
    """Li et al. (2019): the VAE's q(z|x) starts as the AE's encoder (same mu), the decoder starts fresh."""
    from textgen.vae.warm_start import warm_start

    VAETrainer(tiny_config(tmp_path, corpus, "ae", "model.mode=ae", "train.kl.kind=constant", "train.kl.value=0",
                           "train.free_bits=0", "train.epochs=2", "optim.lr=0.01")).fit()
    ae = SentenceVAE.from_pretrained(tmp_path / "ae" / "best").eval()
    trainer = VAETrainer(tiny_config(tmp_path, corpus, "li", f"train.init_from={tmp_path / 'ae' / 'best'}",
                                     "train.init_parts=encoder", "train.max_steps=2"))
    vae = trainer.model.eval()
    assert trainer.tokenizer.encode("the cat sat") == ae.tokenizer.encode("the cat sat")
    batch = ae.tokenizer.encode_batch(SENTENCES, add_bos=False, add_eos=True)
    with torch.no_grad():
        mu_vae, logvar = vae.encode(batch.input_ids, batch.lengths)
        mu_ae, none = ae.encode(batch.input_ids, batch.lengths)
    assert none is None and logvar is not None
    torch.testing.assert_close(mu_vae, mu_ae)

    # the decoder is not the AE's: only the encoder side is copied
    fresh = SentenceVAE(vae.config)
    report = warm_start(fresh, ae, parts="encoder")
    assert not report.exact and not report.zeroed
    assert set(report.widened) == {"encoder.head.weight", "encoder.head.bias"}
    assert "embedding.weight" in report.copied and all(n.startswith("encoder.") for n in report.copied
                                                        if n != "embedding.weight")
    assert report.fresh and all(n.startswith("decoder.") for n in report.fresh)
    ae_state = ae.state_dict()
    for name, value in vae.state_dict().items():
        if name.startswith("decoder.rnn.") or name.startswith("decoder.z_to_state."):
            assert not torch.equal(value, ae_state[name]), name


def test_encoder_warm_start_refuses_an_lm_a_frozen_fresh_decoder_and_a_different_encoder(tmp_path, corpus):
    from textgen.vae.warm_start import warm_start

    VAETrainer(tiny_config(tmp_path, corpus, "lm", "model.mode=lm", "train.max_steps=1")).fit()
    VAETrainer(tiny_config(tmp_path, corpus, "vae", "train.max_steps=1")).fit()
    lm, vae = tmp_path / "lm" / "last", tmp_path / "vae" / "last"
    with pytest.raises(ValueError, match="source has mode=lm and no encoder"):
        VAETrainer(tiny_config(tmp_path, corpus, "a", f"train.init_from={lm}", "train.init_parts=encoder"))
    with pytest.raises(ValueError, match=r"encoder_hidden_size=32 there, 24 here. Set model.encoder_hidden_size=32"):
        VAETrainer(tiny_config(tmp_path, corpus, "b", f"train.init_from={vae}", "train.init_parts=encoder",
                               "model.encoder_hidden_size=24"))
    # the decoder is fresh, so it may grow, as long as the encoder keeps the source's effective size
    VAETrainer(tiny_config(tmp_path, corpus, "b2", f"train.init_from={vae}", "train.init_parts=encoder",
                           "model.hidden_size=48", "model.encoder_hidden_size=32", "train.max_steps=1"))
    with pytest.raises(ValueError, match="this model has mode=lm and no encoder"):
        warm_start(SentenceVAE(dataclasses.replace(SentenceVAE.from_pretrained(vae).config, mode="lm")),
                   SentenceVAE.from_pretrained(vae), parts="encoder")
    with pytest.raises(ValueError, match="encoder='lstm' there, 'gru' here. Set model.encoder=lstm"):
        VAETrainer(tiny_config(tmp_path, corpus, "c", f"train.init_from={vae}", "train.init_parts=encoder",
                               "model.encoder=gru"))
    with pytest.raises(ConfigError, match="freshly initialised decoder"):
        tiny_config(tmp_path, corpus, "d", f"train.init_from={vae}", "train.init_parts=encoder",
                    "train.freeze_decoder=true", "train.kl.kind=constant", "train.free_bits=0")
    with pytest.raises(ConfigError, match="set train.init_from"):
        tiny_config(tmp_path, corpus, "e", "train.init_parts=encoder")
    source = SentenceVAE.from_pretrained(vae)
    with pytest.raises(ValueError, match="deterministic auto-encoder"):
        warm_start(SentenceVAE(dataclasses.replace(source.config, mode="ae")), source, parts="encoder")
    # same-shaped tensors with another meaning are refused too: a [CLS] encoder into a mean-pooling one
    cls_cfg = dataclasses.replace(source.config, encoder="transformer", pooling="cls")
    with pytest.raises(ValueError, match="pooling='cls' there, 'mean' here. Set model.pooling=cls"):
        warm_start(SentenceVAE(dataclasses.replace(cls_cfg, pooling="mean")), SentenceVAE(cls_cfg), parts="encoder")
    assert warm_start(SentenceVAE(cls_cfg), SentenceVAE(cls_cfg), parts="encoder").copied


def test_encoder_warm_started_run_resumes_exactly(tmp_path, corpus):
    VAETrainer(tiny_config(tmp_path, corpus, "src", "train.max_steps=3")).fit()
    assert_stop_after_one_epoch_and_resume_is_exact(tmp_path, corpus, "li", f"train.init_from={tmp_path / 'src' / 'last'}",
                                                    "train.init_parts=encoder")


def test_warm_started_run_resumes_exactly(tmp_path, corpus):
    VAETrainer(tiny_config(tmp_path, corpus, "lm", "model.mode=lm", "train.max_steps=3")).fit()
    assert_stop_after_one_epoch_and_resume_is_exact(tmp_path, corpus, "warm", f"train.init_from={tmp_path / 'lm' / 'last'}")


def test_freeze_decoder_trains_the_encoder_alone_and_tightens_the_elbo(tmp_path, corpus):
    VAETrainer(tiny_config(tmp_path, corpus, "vae", "train.epochs=3", "optim.lr=0.01")).fit()
    src = tmp_path / "vae" / "last"
    trainer = VAETrainer(tiny_config(tmp_path, corpus, "refine", f"train.init_from={src}", "train.freeze_decoder=true",
                                     "train.free_bits=0", "train.kl.kind=constant", "train.epochs=3", "optim.lr=0.01"))
    before = trainer.validate()
    after = trainer.fit()
    source = SentenceVAE.from_pretrained(src).state_dict()
    refined = trainer.model.state_dict()
    for name, value in refined.items():
        if name.startswith("decoder.") or name == "embedding.weight":
            assert torch.equal(value, source[name]), name
    assert any(not torch.equal(refined[n], source[n]) for n in refined if n.startswith("encoder.rnn"))
    # p(x, z) is fixed, so a better ELBO can only come from a q(z|x) closer to the true posterior
    assert after["nll_bound"] < before["nll_bound"], (before, after)
    with pytest.raises(ValueError, match="freeze_decoder trains the encoder alone.*mode='lm'"):
        VAETrainer(tiny_config(tmp_path, corpus, "lmf", "model.mode=lm", "train.freeze_decoder=true",
                               f"train.init_from={src}"))
    with pytest.raises(ValueError, match="freeze_decoder.*set train.init_from"):
        tiny_config(tmp_path, corpus, "nofrom", "train.freeze_decoder=true")


def test_frozen_decoder_sees_no_dropout_and_a_frozen_run_resumes_exactly(tmp_path, corpus, monkeypatch):
    VAETrainer(tiny_config(tmp_path, corpus, "vae", "train.max_steps=3", "model.decoder_layers=2")).fit()
    args = (f"train.init_from={tmp_path / 'vae' / 'last'}", "train.freeze_decoder=true", "model.decoder_layers=2",
            "model.word_dropout=0.5", "model.dropout=0.5", "model.embed_dropout=0.5")
    trainer = VAETrainer(tiny_config(tmp_path, corpus, "frozen", *args))
    seen = []
    monkeypatch.setattr("textgen.vae.modeling.word_dropout", lambda *a, **k: seen.append(1) or a[0])
    trainer.train_step(*next(iter_batches(trainer)))
    assert not seen                                           # no word dropout on the fixed decoder's inputs
    assert all(not m.training for m in trainer.model.decoder.modules() if not isinstance(m, torch.nn.RNNBase))
    assert trainer.model.decoder.rnn.training and trainer.model.decoder.rnn.dropout == 0.0
    assert trainer.model.encoder.training
    monkeypatch.undo()

    # resuming needs only the run folder, not the model it started from
    assert_stop_after_one_epoch_and_resume_is_exact(
        tmp_path, corpus, "frozen", *args, before_resume=lambda: (tmp_path / "vae" / "last").rename(tmp_path / "gone"))


def assert_stop_after_one_epoch_and_resume_is_exact(tmp_path, corpus, name, *args, before_resume=lambda: None):
    """Train 2 epochs straight; train 1, stop, resume to 2: the weights must be bit-identical."""
    straight = VAETrainer(tiny_config(tmp_path, corpus, f"{name}_straight", *args))
    straight.fit()
    VAETrainer(tiny_config(tmp_path, corpus, f"{name}_split", *args, "train.epochs=1")).fit()
    before_resume()
    resumed = VAETrainer(tiny_config(tmp_path, corpus, f"{name}_split", *args), resume=True)
    resumed.fit()
    for k, v in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[k], v, rtol=0, atol=0)


def iter_batches(trainer):
    from textgen.data.splits import split_loader

    return ((b["input_ids"], b["lengths"]) for b in split_loader(trainer.splits["train"], 8,
                                                                  pad_id=trainer.tokenizer.pad_id, shuffle=False))


def test_warm_start_of_a_transformer_vae_starts_as_the_transformer_lm():
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.vae.warm_start import warm_start

    torch.manual_seed(0)
    common = dict(vocab_size=30, embed_size=16, hidden_size=16, num_heads=2, ff_size=32, max_length=16,
                  encoder="transformer", decoder="transformer", decoder_layers=2)
    lm = SentenceVAE(SentenceVAEConfig(mode="lm", **common)).eval()
    vae = SentenceVAE(SentenceVAEConfig(mode="vae", latent_size=4, z_mode="memory", z_add_embeddings=True, **common))
    report = warm_start(vae, lm)
    assert report.exact
    assert {"decoder.z_embed.weight", "decoder.blocks.1.cross.proj.weight"} <= set(report.zeroed)
    assert {"embedding.weight", "decoder.ln_f.weight"} <= set(report.copied)
    ids = torch.randint(4, 30, (3, 7))
    lengths = torch.tensor([7, 5, 2])
    z = torch.randn(3, 4) * 3
    torch.testing.assert_close(vae.eval().log_likelihood(z, ids, lengths), lm.log_likelihood(None, ids, lengths))
    # a z prefix token shifts every position: no longer the LM
    prefixed = SentenceVAE(SentenceVAEConfig(mode="vae", latent_size=4, z_mode="prefix", **common))
    assert not warm_start(prefixed, lm).exact


def test_warm_start_refuses_different_tying_and_notices_unused_source_tensors():
    from textgen.vae.configuration import SentenceVAEConfig
    from textgen.vae.warm_start import warm_start

    common = dict(vocab_size=30, embed_size=16, hidden_size=16, latent_size=4, decoder="lstm")
    untied = SentenceVAE(SentenceVAEConfig(mode="lm", tie_embeddings=False, **common))
    with pytest.raises(ValueError, match="tie_embeddings=False, this model True; set model.tie_embeddings=false"):
        warm_start(SentenceVAE(SentenceVAEConfig(mode="vae", tie_embeddings=True, **common)), untied)
    with pytest.raises(ValueError, match="share_embeddings=True, this model False"):
        warm_start(SentenceVAE(SentenceVAEConfig(share_embeddings=False, **common)), SentenceVAE(SentenceVAEConfig(**common)))
    # a source VAE whose z enters through the initial state, into a model that only concatenates z: not exact
    src = SentenceVAE(SentenceVAEConfig(z_init_state=True, z_concat_input=True, **common))
    dst = SentenceVAE(SentenceVAEConfig(z_init_state=False, z_concat_input=True, **common))
    report = warm_start(dst, src)
    assert not report.exact and "decoder.rnn.weight_ih_l0" in report.copied


def test_importance_weighted_training_learns_and_resumes_exactly(tmp_path, corpus, monkeypatch):
    from textgen.vae.objective import iwae_loss
    iw = ("train.iw_samples=3", "train.kl.kind=constant", "train.kl.value=1.0", "train.free_bits_mode=total")
    trainer = VAETrainer(tiny_config(tmp_path, corpus, "iw", *iw, "train.epochs=6", "model.word_dropout=0.0", "optim.lr=0.01"))
    import textgen.vae.trainer as trainer_module

    samples = []
    spy = lambda out, **kw: samples.append(out.z.size(0)) or iwae_loss(out, **kw)  # noqa: E731
    monkeypatch.setattr(trainer_module, "iwae_loss", spy)
    before = trainer.validate()
    after = trainer.fit()
    assert samples and set(samples) == {3}                   # every step scored the IW bound of 3 samples
    assert after["iw_nll"] < 0.8 * before["iw_nll"], (before, after)
    assert after["iw_nll"] <= after["nll_bound"] + 0.5       # validated on the bound it trains (and the ELBO)
    rows = [json.loads(x) for x in (tmp_path / "iw" / "metrics.jsonl").read_text().splitlines()]
    assert all("iw_bound" in r for r in rows if r["split"] == "train")
    monkeypatch.undo()
    assert_stop_after_one_epoch_and_resume_is_exact(tmp_path, corpus, "iw_resume", *iw)
    with pytest.raises(ConfigError, match="iw_samples.*kind: constant, value: 1.0"):
        tiny_config(tmp_path, corpus, "iw_beta", "train.iw_samples=3")      # the tiny config anneals beta
    with pytest.raises(ValueError, match="iw_samples=3 needs a VAE.*mode='ae'"):
        VAETrainer(tiny_config(tmp_path, corpus, "iw_ae", *iw, "model.mode=ae"))
    with pytest.raises(ConfigError, match="iw_samples.*Use iw_samples=1 with freeze_decoder"):
        tiny_config(tmp_path, corpus, "iw_frozen", *iw, "train.freeze_decoder=true", f"train.init_from={tmp_path}")


def test_compare_nll_pairs_the_same_sentences_and_refuses_another_tokenizer(tmp_path, corpus):
    from textgen.vae.evaluate import compare_nll, evaluate_folder

    VAETrainer(tiny_config(tmp_path, corpus, "lm", "model.mode=lm", "train.max_steps=3")).fit()
    VAETrainer(tiny_config(tmp_path, corpus, "vae", "train.max_steps=3")).fit()
    lm, vae, valid = tmp_path / "lm" / "last", tmp_path / "vae" / "last", str(corpus[1])
    r = compare_nll([lm, vae, lm], valid, iw_samples=5, device="cpu")["models"]
    assert [m["mode"] for m in r] == ["lm", "vae", "lm"] and all(m["num_sentences"] == 6 for m in r)
    exact = evaluate_folder(lm, valid, device="cpu", show_progress=False, recon_max_words=0)["nll"]
    assert r[0]["nll"] == pytest.approx(exact)                                 # an LM's NLL is exact
    assert r[2]["diff"] == 0 and r[2]["diff_se"] == 0 and r[2]["better_fraction"] == 0
    assert r[1]["diff"] == pytest.approx(r[1]["nll"] - r[0]["nll"]) and r[1]["diff_se"] > 0
    out = tmp_path / "compare.json"
    assert main(["compare-nll", str(lm), str(vae), "--data", valid, "--iw-samples", "5", "--device", "cpu",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["models"][0]["nll"] == pytest.approx(exact)
    VAETrainer(tiny_config(tmp_path, corpus, "other", "model.mode=lm", "tokenizer.min_freq=5", "train.max_steps=1")).fit()
    with pytest.raises(ValueError, match="another tokenizer"):
        compare_nll([lm, tmp_path / "other" / "last"], valid, iw_samples=5, device="cpu")


def test_conditional_vae_trains_on_labelled_rows_and_evaluates_with_their_labels(tmp_path, capsys):
    """A cVAE run reads model.condition's column, skips rows without a known label (saying how many), trains,
    saves a folder with its labels, and eval-vae scores held-out sentences under their own labels."""
    import json

    from textgen.cli import main
    from textgen.vae.modeling import SentenceVAE

    rows = [{"text": f"the film was {w} and the plot was {w} .", "label": lab}
            for w, lab in (("good", "positive"), ("great", "positive"), ("bad", "negative"), ("awful", "negative"))] * 6
    rows += [{"text": "see you tomorrow .", "label": None}, {"text": "a red bird .", "label": "neutral"}]
    corpus = tmp_path / "labelled.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    yaml, run = tiny_vae_run(tmp_path, "cvae", f"data.train={corpus}", f"data.valid={corpus}", "train.epochs=2",
                             "model.condition.labels=[negative,positive]", "model.condition.size=4")
    assert main(["train-vae", "--config", str(yaml)]) == 0
    err = capsys.readouterr().err                                  # a warning of the textgen logger
    assert "warning: 2 train sentences skipped: their 'label' is not one of the model's labels (negative, positive)" in err
    model = SentenceVAE.from_pretrained(run / "last")
    assert model.labels == ["negative", "positive"]
    report = tmp_path / "eval.json"
    assert main(["eval-vae", "--model", str(run / "last"), "--data", str(corpus), "--iw-samples", "4",
                 "--out", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["num_sentences"] == 24 and r["iw_nll"] > 0 and r["kl"] >= 0
    nolabel = tmp_path / "plain.txt"
    nolabel.write_text("the film was good .\n")
    assert main(["eval-vae", "--model", str(run / "last"), "--data", str(nolabel)]) == 2
    assert "has no column 'label'" in capsys.readouterr().err
