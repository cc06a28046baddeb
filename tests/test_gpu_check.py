"""benchmarks/gpu_check.sh runs in its CPU-only dry mode: every step but the CUDA ones, with real training runs.

The script's steps are also checked in the default suite: its shell parses (`bash -n`) and the commands it runs
exist with the options it passes."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow            # about 40 s of training processes: `make test-all` runs it, the 5-minute suite does not
def test_gpu_check_dry_run_trains_resumes_and_writes_its_summary(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry", str(tmp_path / "out")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert r.returncode == 0, summary + r.stdout[-2000:] + r.stderr[-2000:]
    assert "| train-vae fp32, resume | PASS | valid -ELBO" in summary
    assert "| train-gan fp32, resume | PASS |" in summary
    assert "| pytest -m gpu | SKIP |" in summary and "FAIL" not in summary


def test_gpu_check_parses_and_calls_commands_that_take_its_options():
    script = (ROOT / "benchmarks" / "gpu_check.sh").read_text()
    assert subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu_check.sh")]).returncode == 0
    from textgen.cli.main import build_parser

    parser = build_parser()
    for cmd in ("train-vae", "train-gan"):
        assert f"-m textgen {cmd} --config" in script
        args = parser.parse_args([cmd, "--config", "x.yaml", "--device", "cuda", "--resume"])
        assert args.device == "cuda" and args.resume
    for name in ("configs/vae/tiny.yaml", "configs/gan/birds32_cpu.yaml", "configs/gan/birds64.yaml"):
        assert name in script and (ROOT / name).is_file()
