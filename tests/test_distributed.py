"""torchrun for real on CPU (gloo): 2 processes equal 1 process with the same global batch, and grad_accum too."""
import os
import socket
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, safetensors_weights, tiny_gan_run, tiny_vae_run
from textgen.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def config(tmp_path):
    """A deterministic tiny run (an auto-encoder, no dropout): the ranks' shares add up to the global batch exactly."""
    def make(name, *extra):
        return tiny_vae_run(tmp_path, name, "data.valid=null", "model.mode=ae", "train.epochs=2", *extra)

    return make


def _torchrun(cfg, *args, nproc=2, command="train-vae"):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TEXTGEN_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "textgen", command, "--config", str(cfg), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _close(a, b, atol=2e-5):
    return all(torch.allclose(v, b[k], atol=atol) for k, v in a.items())


def test_two_gloo_processes_equal_one_with_the_same_global_batch_and_resume_in_one(config):
    one_cfg, one = config("one")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                                                    # as each torchrun worker
    try:
        assert main(["train-vae", "--config", str(one_cfg)]) == 0
    finally:
        torch.set_num_threads(threads)
    two_cfg, two = config("two")
    r = _torchrun(two_cfg)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("finished; checkpoints in") == 1                      # rank 0 reports, the other is quiet
    assert _close(safetensors_weights(two / "last"), safetensors_weights(one / "last"))
    rows = (two / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == len((one / "metrics.jsonl").read_text().splitlines())  # one log, from rank 0
    # the same effective batch on fewer devices: one process, two micro-batches of 4
    acc_cfg, acc = config("accum", "train.grad_accum=2")
    assert main(["train-vae", "--config", str(acc_cfg)]) == 0
    assert _close(safetensors_weights(acc / "last"), safetensors_weights(one / "last"))
    # a 2-process checkpoint resumes in one process
    assert main(["train-vae", "--config", str(two / "config.yaml"), "--resume", "train.epochs=3"]) == 0
    longer_cfg, longer = config("longer", "train.epochs=3")
    assert main(["train-vae", "--config", str(longer_cfg)]) == 0
    assert _close(safetensors_weights(two / "last"), safetensors_weights(longer / "last"))


def test_a_batch_too_small_for_the_ranks_is_refused(config, capsys):
    cfg, _ = config("small", "data.batch_size=2", "train.grad_accum=4")
    assert main(["train-vae", "--config", str(cfg)]) == 2
    assert "must be at least 1 processes x train.grad_accum=4" in capsys.readouterr().err


def test_train_gan_on_two_gloo_processes_equals_one_process(tmp_path):
    """The GAN's ranks take their shares of one global batch (images, captions and noise drawn once) and average
    their gradients: with no batch-coupled term (no DAMSM, no GAN-INT) the weights equal a 1-process run's."""
    def make(name):
        return tiny_gan_run(tmp_path, name, "train.steps=4", "train.sample_every=4", "train.save_every=4")

    one_cfg, one = make("one")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["train-gan", "--config", str(one_cfg)]) == 0
    finally:
        torch.set_num_threads(threads)
    two_cfg, two = make("two")
    r = _torchrun(two_cfg, command="train-gan")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("finished; model in") == 1
    assert _close(safetensors_weights(two / "last"), safetensors_weights(one / "last"), atol=1e-4)
