"""Kills and signals at any moment: both trainers save, exit 130/143, and resume to the uninterrupted weights."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, safetensors_weights, tiny_gan_run, tiny_vae_run
from textgen.cli import main


def _rows(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _assert_clean_log(run, reference):
    """No duplicate or torn rows, and the same steps (and losses) as the uninterrupted run logged."""
    rows, ref = _rows(run), _rows(reference)
    keys = [(r["split"], r["step"]) for r in rows]
    assert len(keys) == len(set(keys)), keys
    assert keys == [(r["split"], r["step"]) for r in ref]
    for a, b in zip(rows, ref):
        for k in ("loss", "d_loss", "g_loss"):
            if k in b:
                assert a[k] == pytest.approx(b[k], rel=1e-6), (a, b)


@pytest.fixture
def vae_config(tmp_path):
    def make(name, *extra):
        return tiny_vae_run(tmp_path, name, f"data.valid={tmp_path / 'train.txt'}", "train.epochs=3",
                            "train.save_every=1", *extra)

    return make


@pytest.fixture
def gan_config(tmp_path):
    def make(name):
        return tiny_gan_run(tmp_path, name, "train.steps=6", "train.sample_every=3", "train.save_every=3")

    return make


def _signal_at(monkeypatch, trainer_cls, step, signum):
    real = trainer_cls.train_step

    def step_then_signal(self, *args):
        out = real(self, *args)
        if self.step == step:
            os.kill(os.getpid(), signum)                  # a real signal, as a shell or a scheduler sends it
        return out

    monkeypatch.setattr(trainer_cls, "train_step", step_then_signal)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_vae_signal_saves_exits_and_resumes_exactly(vae_config, monkeypatch, capsys, signum, code):
    from textgen.vae.trainer import VAETrainer

    straight_cfg, straight = vae_config("straight", "train.save_every=null")
    assert main(["train-vae", "--config", str(straight_cfg)]) == 0
    cfg, run = vae_config("stopped", "train.save_every=null")
    with monkeypatch.context() as m:
        _signal_at(m, VAETrainer, 7, signum)                 # mid-epoch, mid-log-window
        assert main(["train-vae", "--config", str(cfg)]) == code
    assert "saved a resumable checkpoint" in capsys.readouterr().err
    assert main(["train-vae", "--config", str(run / "config.yaml"), "--resume"]) == 0
    ref = safetensors_weights(straight / "last")
    assert all(torch.equal(v, ref[k]) for k, v in safetensors_weights(run / "last").items())
    _assert_clean_log(run, straight)


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_gan_signal_saves_exits_and_resumes_exactly(gan_config, monkeypatch, capsys, signum, code):
    from textgen.gan.trainer import GANTrainer

    straight_cfg, straight = gan_config("straight")
    assert main(["train-gan", "--config", str(straight_cfg)]) == 0
    cfg, run = gan_config("stopped")
    with monkeypatch.context() as m:
        _signal_at(m, GANTrainer, 4, signum)                 # between two saves, inside a log window
        assert main(["train-gan", "--config", str(cfg)]) == code
    err = capsys.readouterr().err
    assert "interrupted at step 4" in err and "--resume" in err
    assert main(["train-gan", "--config", str(run / "config.yaml"), "--resume"]) == 0
    ref = safetensors_weights(straight / "last")
    assert all(torch.equal(v, ref[k]) for k, v in safetensors_weights(run / "last").items())
    _assert_clean_log(run, straight)


def _start(cfg, resume: bool, command: str = "train-vae"):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TEXTGEN_PROGRESS": "0"}
    slow = Path(__file__).with_name("slow_saves.py")                 # every save pauses 0.2 s before its rename
    cmd = [sys.executable, str(slow), "0.2", command, "--config", str(cfg)] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_inside_a_save(proc, run, nth: int) -> None:
    """SIGKILL the process while its ``nth`` save (counted from now) sits between writing and renaming."""
    seen, deadline = set(), time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        tmps = {p.name for p in run.glob(".last.tmp-*")}
        seen |= tmps
        if len(seen) >= nth and tmps:
            proc.kill()
            proc.wait()
            return
        time.sleep(0.02)
    raise AssertionError(f"no save seen: {proc.stderr.read().decode()[-2000:] if proc.poll() is not None else ''}")


def test_sigkill_at_any_moment_even_inside_a_save_loses_nothing(vae_config):
    cfg, run = vae_config("killed")
    _, straight = vae_config("straight")
    proc = _start(cfg, resume=False)
    _kill_inside_a_save(proc, run, nth=3)                            # the 3rd save: an older last/ exists
    assert (run / "last" / "training_state").is_dir() and list(run.glob(".last.tmp-*"))
    for kill in ("anywhere", "save"):
        proc = _start(run / "config.yaml", resume=True)
        if kill == "save":
            _kill_inside_a_save(proc, run, nth=2)
        else:
            time.sleep(5.0)                                          # somewhere in start-up or a step
            proc.kill()
            proc.wait()
        assert (run / "last" / "training_state" / "state.json").is_file()   # always a complete checkpoint
    proc = _start(run / "config.yaml", resume=True)
    assert proc.wait(timeout=240) == 0, proc.stderr.read().decode()[-2000:]
    assert not list(run.glob(".last.*"))                             # stale temporary folders are gone

    from textgen.core.config import load_config
    from textgen.vae.configuration import VAERunConfig
    from textgen.vae.trainer import VAETrainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                         # as in the killed processes
    try:
        VAETrainer(load_config(VAERunConfig, str(cfg), [f"out_dir={straight}"])).fit()
    finally:
        torch.set_num_threads(threads)
    ref = safetensors_weights(straight / "last")
    assert all(torch.equal(v, ref[k]) for k, v in safetensors_weights(run / "last").items())
    _assert_clean_log(run, straight)


def test_a_torn_metrics_line_does_not_block_resume_and_is_dropped(vae_config):
    cfg, run = vae_config("torn", "train.save_every=null", "train.epochs=1")
    assert main(["train-vae", "--config", str(cfg)]) == 0
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 99, "split": "train", "loss": 1.')       # a kill in mid-write
    assert main(["train-vae", "--config", str(run / "config.yaml"), "--resume", "train.epochs=2"]) == 0
    steps = [r["step"] for r in _rows(run)]
    assert 99 not in steps and len(steps) == len(set((r["split"], r["step"]) for r in _rows(run)))


def test_stale_temporary_folders_are_removed_and_empty_out_dir_refused(vae_config, tmp_path, capsys):
    cfg, run = vae_config("stale", "train.epochs=1")
    (run / ".last.tmp-deadbeef").mkdir(parents=True)
    (run / ".best.old-cafe1234").mkdir()
    assert main(["train-vae", "--config", str(cfg)]) == 0
    assert not list(run.glob(".*.tmp-*")) and not list(run.glob(".*.old-*"))
    capsys.readouterr()
    assert main(["train-vae", "--config", str(cfg), "out_dir="]) == 2
    assert "out_dir: is empty" in capsys.readouterr().err


def test_resuming_with_another_model_config_names_the_keys_for_both_trainers(vae_config, gan_config, capsys):
    cfg, run = vae_config("mismatch", "train.epochs=1", "train.save_every=null")
    assert main(["train-vae", "--config", str(cfg)]) == 0
    assert main(["train-vae", "--config", str(run / "config.yaml"), "--resume", "model.latent_size=4"]) == 2
    assert "model.latent_size: checkpoint 8 vs config 4" in capsys.readouterr().err
    cfg, run = gan_config("gmismatch")
    assert main(["train-gan", "--config", str(cfg)]) == 0
    assert main(["train-gan", "--config", str(run / "config.yaml"), "--resume", "model.noise_dim=6"]) == 2
    assert "model.noise_dim: checkpoint 8 vs config 6" in capsys.readouterr().err


def test_the_small_training_loops_stop_on_a_non_finite_loss_and_say_nothing_was_saved():
    from textgen.core.runtime import TrainingDiverged
    from textgen.core.trainer import check_finite

    assert check_finite(1.5, "x", 3, "fix") == 1.5
    with pytest.raises(TrainingDiverged, match=r"the linear probe's loss became non-finite \(nan\) at step 7; "
                                               r"nothing was saved. Check"):
        check_finite(float("nan"), "the linear probe's loss", 7, "Check the features")
    from textgen.gan.text_encoder_training import linear_probe
    import torch

    x = torch.randn(40, 4)
    x[3, 1] = float("inf")
    with pytest.raises(TrainingDiverged, match="linear probe"):
        linear_probe(x, torch.randint(0, 2, (40,)), steps=5)


def test_gan_sigkill_after_its_text_encoder_and_before_its_first_checkpoint_resumes_exactly(gan_config):
    cfg, run = gan_config("killed")
    straight_cfg, straight = gan_config("straight")
    proc = _start(cfg, resume=False, command="train-gan")
    _kill_inside_a_save(proc, run, nth=1)                        # the first save: text_encoder/ written, no last/ yet
    assert (run / "text_encoder" / "config.json").is_file() and not (run / "last").exists()
    restart = _start(run / "config.yaml", resume=False, command="train-gan")
    assert restart.wait(timeout=120) == 2 and b"--resume" in restart.stderr.read()   # no silent restart
    proc = _start(run / "config.yaml", resume=True, command="train-gan")
    assert proc.wait(timeout=240) == 0, proc.stderr.read().decode()[-2000:]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                     # as in the killed processes
    try:
        assert main(["train-gan", "--config", str(straight_cfg)]) == 0
    finally:
        torch.set_num_threads(threads)
    ref = safetensors_weights(straight / "last")
    assert all(torch.equal(v, ref[k]) for k, v in safetensors_weights(run / "last").items())
