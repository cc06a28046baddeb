"""Memory of ``textgen generate-images`` at scale: peak resident memory as the number of images grows.

    python benchmarks/bench_generate.py                                  # birds-gan, -n 1000 / 4000 / 100000 (stopped)
    python benchmarks/bench_generate.py --model DIR --batch-size 256 --sizes 1000 10000 --stop-after 60

Each row runs the command in a fresh process on one caption with a misspelling, sampling its resident memory
from ``/proc`` every 0.25 s; a row whose ``-n`` does not finish within ``--stop-after`` seconds is stopped with
SIGINT (as a user would), and the images written until then are counted. Flat memory means the peak does not
grow with the images written.
"""
from __future__ import annotations

import argparse
import datetime as dt
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CAPTION = "a yelow bird with balck wigns and a white belly"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(model: str, n: int, batch_size: int, stop_after: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "textgen", "generate-images", CAPTION, "--model", model, "-n", str(n),
               "--batch-size", str(batch_size), "--out", str(out), "--quiet"]
        t0 = time.time()
        p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak = 0.0
        while p.poll() is None:
            peak = max(peak, _rss_mb(p.pid))
            if time.time() - t0 > stop_after:
                p.send_signal(signal.SIGINT)
                break
            time.sleep(0.25)
        err = p.communicate()[1].decode()
        seconds = time.time() - t0
        written = len(list(out.glob("000_*.png"))) if out.is_dir() else 0
        if p.returncode not in (0, 130):
            raise SystemExit(err[-2000:])
        return {"n": n, "written": written, "seconds": seconds, "peak_mb": peak, "stopped": p.returncode == 130}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="birds-gan")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 100000])
    ap.add_argument("--stop-after", type=float, default=90.0, help="seconds before a row is stopped (default 90)")
    args = ap.parse_args()
    from textgen.core.runtime import machine_info

    info = machine_info()
    print(f"# bench_generate  {dt.date.today()}  cpu={info['cpu']}  cores={info['cores']}  torch={info['torch']}  "
          f"threads={info['torch_threads']}  model={args.model}  batch={args.batch_size}")
    print("| -n | images written | seconds | images/s | peak RSS (MB) | |\n|---|---|---|---|---|---|")
    for n in args.sizes:
        r = run(args.model, n, args.batch_size, args.stop_after)
        note = "stopped (SIGINT)" if r["stopped"] else "finished"
        print(f"| {r['n']:,} | {r['written']:,} | {r['seconds']:.1f} | {r['written'] / r['seconds']:.0f} | "
              f"{r['peak_mb']:.0f} | {note} |")


if __name__ == "__main__":
    main()
