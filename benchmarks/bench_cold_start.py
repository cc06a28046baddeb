"""Cold start of the command line, as a user meets it: `textgen --help`, every `textgen CMD --help`, and
`textgen interpolate` with the shipped default model, end to end.

    python benchmarks/bench_cold_start.py                   # 7 runs of each command, median
    python benchmarks/bench_cold_start.py --model DIR --runs 11

Each run is a fresh process (`python -m textgen ...`), so it pays the whole price: Python start-up, the
imports, (for interpolate) torch, loading the folder, encoding, decoding and printing. Help must not import
torch: the table gives `python -c "import torch"` for scale (the floor of any command that runs a model),
`textgen --help`, the slowest `textgen CMD --help` (and which), and interpolate.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen.core.runtime import machine_info  # noqa: E402


def timed(cmd: list[str], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return statistics.median(times), min(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ptb-lstm-vae")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    info = machine_info()
    print(f"# bench_cold_start  {dt.date.today()}  cpu={info['cpu']}  cores={info['cores']}  torch={info['torch']}  "
          f"model={args.model}  median of {args.runs} fresh processes")
    print("| command | median (s) | min (s) | max (s) |")
    print("|---|---|---|---|")

    def row(name: str, cmd: list[str]) -> None:
        med, lo, hi = timed(cmd, args.runs)
        print(f"| {name} | {med:.2f} | {lo:.2f} | {hi:.2f} |", flush=True)

    row('python -c "import torch"', [py, "-c", "import torch"])
    row("textgen --help", [py, "-m", "textgen", "--help"])
    helps = {c: timed([py, "-m", "textgen", c, "--help"], args.runs) for c in commands()}
    slowest = max(helps, key=lambda c: helps[c][0])
    med, lo, hi = helps[slowest]
    print(f"| textgen CMD --help, slowest of {len(helps)} ({slowest}) | {med:.2f} | {lo:.2f} | {hi:.2f} |")
    row("textgen interpolate A B (8 steps, greedy)",
        [py, "-m", "textgen", "interpolate", "i want to talk to you", "she did n't want to be with him",
         "--model", args.model])


def commands() -> list[str]:
    import argparse

    from textgen.cli.main import build_parser

    [sub] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


if __name__ == "__main__":
    main()
