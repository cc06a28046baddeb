"""A run folder belongs to one run: locked for its life, never overwritten unasked, and a killed two-rename
save never costs the last complete checkpoint."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import tiny_vae_run
from textgen.core.trainer import RunFolderError, RunLock, claim_run_folder, recover_last


def test_a_second_lock_on_the_folder_is_refused_naming_the_holder(tmp_path):
    first = RunLock(tmp_path)
    with pytest.raises(RunFolderError, match=f"in use by another textgen process \\(PID {os.getpid()}\\)"):
        RunLock(tmp_path)
    first.release()
    RunLock(tmp_path).release()                       # free again once released


def test_another_process_holding_the_run_is_refused_at_once(tmp_path, capsys):
    from textgen.cli import main

    config, run = tiny_vae_run(tmp_path, "run", "train.max_steps=2", "train.epochs=1")
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from textgen.core.trainer import RunLock; "
                               f"lock = RunLock({str(run)!r}); print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.perf_counter()
        assert main(["train-vae", "--config", str(config)]) == 2
        assert time.perf_counter() - start < 10
        err = capsys.readouterr().err
        assert f"PID {holder.pid}" in err and "another out_dir" in err
        assert not (run / "metrics.jsonl").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_folder_holding_a_run_needs_resume_or_overwrite(tmp_path, capsys):
    from textgen.cli import main

    config, run = tiny_vae_run(tmp_path, "run", "train.max_steps=2", "train.epochs=1")
    assert main(["train-vae", "--config", str(config)]) == 0
    metrics = (run / "metrics.jsonl").read_bytes()
    weights = (run / "last" / "model.safetensors").read_bytes()
    capsys.readouterr()
    assert main(["train-vae", "--config", str(config), "train.max_steps=3"]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert (run / "metrics.jsonl").read_bytes() == metrics                            # nothing lost
    assert (run / "last" / "model.safetensors").read_bytes() == weights
    assert main(["train-vae", "--config", str(config), "--overwrite", "train.max_steps=3"]) == 0
    assert '"step": 3' in (run / "metrics.jsonl").read_text()
    with pytest.raises(SystemExit):                                                    # one or the other
        main(["train-vae", "--config", str(config), "--overwrite", "--resume"])


def test_resume_finds_the_checkpoint_a_killed_two_rename_save_moved_aside(tmp_path):
    from textgen.core.config import load_config
    from textgen.vae.configuration import VAERunConfig
    from textgen.vae.trainer import VAETrainer

    config, run = tiny_vae_run(tmp_path, "run", "train.max_steps=4", "train.epochs=1", "train.save_every=2")
    cfg = load_config(VAERunConfig, config)
    cfg.train.max_steps = 2
    VAETrainer(cfg).fit()
    # the fallback save was killed between its renames: last/ moved aside, the new folder half-written
    os.replace(run / "last", run / ".last.old-1234abcd")
    (run / ".last.tmp-5678ef01").mkdir()
    trainer = VAETrainer(load_config(VAERunConfig, config), resume=True)
    assert trainer.step == 2 and (run / "last").is_dir()
    trainer.fit()
    assert trainer.step == 4 and not list(run.glob(".last.*"))


def test_recover_last_leaves_a_present_last_alone(tmp_path):
    (tmp_path / "last").mkdir()
    (tmp_path / ".last.old-aa").mkdir()
    assert recover_last(tmp_path) is None and (tmp_path / ".last.old-aa").is_dir()
    lock = claim_run_folder(tmp_path / "fresh", resume=False)
    assert (tmp_path / "fresh" / ".lock").read_text().strip() == str(os.getpid())
    lock.release()
