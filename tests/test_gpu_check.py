"""benchmarks/gpu_check.sh runs in its CPU-only dry mode: every step but the CUDA ones, with real training runs."""
import os
import subprocess
import sys

from conftest import ROOT


def test_gpu_check_dry_run_trains_resumes_and_writes_its_summary(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(["bash", "benchmarks/gpu_check.sh", "--dry", str(tmp_path / "out")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert r.returncode == 0, summary + r.stdout[-2000:] + r.stderr[-2000:]
    assert "| train-vae fp32, resume | PASS | valid -ELBO" in summary
    assert "| train-gan fp32, resume | PASS |" in summary
    assert "| pytest -m gpu | SKIP |" in summary and "FAIL" not in summary
