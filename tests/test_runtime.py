"""Runtime helpers: devices, precision policy, seeds and RNG state, metrics logging, image grids."""
import logging
import json
import random

import numpy as np
import pytest
import torch
from PIL import Image

from textgen.core.runtime import (
    autocast,
    get_rng_state,
    make_grad_scaler,
    machine_info,
    progress,
    resolve_device,
    resolve_precision,
    set_rng_state,
    set_seed,
)
from textgen.core.metrics_log import MetricsLogger
from textgen.core.pictures import save_image_grid


def test_resolve_device_cpu_and_errors():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available.*--device cpu"):
            resolve_device("cuda")


def test_precision_policy_is_fp32_on_cpu(caplog):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == torch.float32
    with caplog.at_level(logging.WARNING, logger="textgen"):
        assert resolve_precision("bf16", cpu) == torch.float32
    assert "precision=bf16 is only used on CUDA; running in fp32 on cpu" in caplog.text
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("int8", cpu)
    # fp32 autocast is a no-op: an LSTM runs and stays fp32
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    with autocast(cpu, torch.float32):
        out, _ = lstm(torch.randn(2, 3, 4))
    assert out.dtype == torch.float32


def test_grad_scaler_only_for_fp16_on_cuda():
    assert not make_grad_scaler(torch.float32, torch.device("cpu")).is_enabled()
    assert not make_grad_scaler(torch.bfloat16, torch.device("cuda")).is_enabled()


@pytest.mark.gpu
def test_cuda_autocast_and_scaler():
    dev = torch.device("cuda")
    assert resolve_precision("fp16", dev) == torch.float16
    assert make_grad_scaler(torch.float16, dev).is_enabled()
    lin = torch.nn.Linear(8, 8).to(dev)
    with autocast(dev, torch.bfloat16):
        assert lin(torch.randn(2, 8, device=dev)).dtype == torch.bfloat16


def test_set_seed_and_rng_state_round_trip():
    set_seed(123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_seed(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a

    random.gauss(0, 1)  # leaves a cached gauss value in Python's RNG state
    state = get_rng_state()
    assert all(isinstance(v, (torch.Tensor, int, float)) for v in state.values())  # no pickled objects
    first = (random.random(), random.gauss(0, 1), np.random.randn(), torch.randn(3).tolist())
    set_rng_state(state)
    assert (random.random(), random.gauss(0, 1), np.random.randn(), torch.randn(3).tolist()) == first


def test_metrics_logger_writes_csv_and_jsonl_and_resumes(tmp_path):
    log = MetricsLogger(tmp_path, tensorboard=False)
    log.log({"loss": torch.tensor(1.5), "kl": 0.25}, step=1)
    log.log({"loss": 1.0, "ppl": np.float32(3.0)}, step=2, split="valid")
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["loss"] == 1.5 and rows[1]["split"] == "valid" and rows[1]["ppl"] == 3.0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["step", "split", "time"] and {"loss", "kl", "ppl"} <= set(header)
    again = MetricsLogger(tmp_path, tensorboard=False)  # a resumed run appends
    again.log({"loss": 0.5}, step=3)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 4


def test_progress_can_be_switched_off(monkeypatch, capsys):
    monkeypatch.setenv("TEXTGEN_PROGRESS", "0")
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
    assert "x" not in capsys.readouterr().err


def test_image_grid_with_pillow(tmp_path):
    imgs = torch.linspace(-1, 1, 5 * 3 * 8 * 8).reshape(5, 3, 8, 8)
    path = save_image_grid(imgs, tmp_path / "grid.png", nrow=4, padding=2)
    im = Image.open(path)
    assert im.size == (4 * 10 + 2, 2 * 10 + 2) and im.mode == "RGB"
    arr = np.asarray(im)
    assert arr[2, 2, 0] == 0 and arr[0, 0].tolist() == [255, 255, 255]  # first value -1 -> 0; padding white
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        save_image_grid(torch.zeros(3, 8, 8), tmp_path / "bad.png")


def test_machine_info_has_what_benchmarks_print():
    info = machine_info()
    assert {"cpu", "cores", "torch", "python", "gpu"} <= set(info)


def test_bench_gan_profile_names_where_a_training_step_spends_its_time(tmp_path, capsys):
    import runpy
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1]
    cfg = yaml.safe_load((root / "configs" / "gan" / "birds32_cpu.yaml").read_text())
    cfg["model"].update(g_channels=4, d_channels=4, noise_dim=8, cond_dim=8)   # the shipped recipe, tiny
    cfg["text_encoder"]["dim"] = 16
    cfg["data"]["batch_size"] = 2
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(yaml.safe_dump(cfg))
    bench = runpy.run_path(str(root / "benchmarks" / "bench_gan.py"))
    bench["profile"](tiny, torch.device("cpu"), "fp32", steps=1)
    out = capsys.readouterr().out
    share = float(out.split("convolution ops (forward and backward): ")[1].split("%")[0])
    assert 0 < share < 100
    assert "| aten::" in out and "tiny" in out
