"""Efficiency of the sweep machinery: the same 4 runs as one `vaediag sweep` vs 4 `vaediag study` calls in a row.

Run:  python benchmarks/bench_sweep.py --out results.json          (about 15 s per run on 2 CPU cores; 2 min in all)
      python benchmarks/bench_sweep.py --out results.json --tiny   (a quick check that it works)
      pytest benchmarks/bench_sweep.py                             ($VAEDIAG_BENCH_SWEEP_TINY=1 for the tiny size)

Both sides are CLI subprocesses on the same settings (mlp, seeds 0-3): efficiency = sequential wall / sweep wall
(1.0 = no overhead; the target is >= 0.9 on a 2-core machine, where the sweep runs one run at a time with
2 torch threads, as each study does). Also reported: Ray's start time (``ray.init`` wall, from sweep.json).
Measure on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2, 3)
SIZES = {  # train options, evaluation options
    "full": ["--epochs", "5", "--checkpoints", "5", "--train-size", "20000", "--test-size", "5000",
             "--samples", "5000", "--device", "cpu"],
    "tiny": ["--epochs", "1", "--checkpoints", "1", "--train-size", "500", "--test-size", "200",
             "--samples", "200", "--grid", "4", "--device", "cpu"],
}
TARGET = 0.9


def _vaediag(*args: str) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vaediag", *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def measure(size: str = "full", workdir: str | None = None) -> dict:
    """Wall seconds of 4 sequential studies and of the 4-run sweep, their ratio and Ray's start time."""
    from vaediag.sweep import Sweep

    opts = SIZES[size]
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        sequential = sum(_vaediag("study", "--out", f"{tmp}/study_{s}", "--seed", str(s), *opts) for s in SEEDS)
        sweep_wall = _vaediag("sweep", "--out", f"{tmp}/sweep", "--seeds", ",".join(map(str, SEEDS)), *opts)
        ray_info = Sweep(f"{tmp}/sweep").read()["ray"]
    return {"size": size, "runs": len(SEEDS), "options": opts, "sequential_seconds": sequential,
            "sweep_seconds": sweep_wall, "efficiency": sequential / sweep_wall,
            "ray_start_seconds": ray_info["start_seconds"], "cpus_per_run": ray_info["cpus_per_run"],
            "cores": os.cpu_count()}


def test_sweep_efficiency(benchmark):
    from conftest import COMPARISONS

    size = "tiny" if os.environ.get("VAEDIAG_BENCH_SWEEP_TINY") else "full"
    result = benchmark.pedantic(measure, args=(size,), rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(result)
    COMPARISONS.append(f"sweep ({size}, {result['runs']} runs): sequential studies {result['sequential_seconds']:.1f}s "
                       f"vs sweep {result['sweep_seconds']:.1f}s -> efficiency {result['efficiency']:.2f} "
                       f"(target >= {TARGET}); Ray start {result['ray_start_seconds']:.2f}s")
    if size == "full":
        assert result["efficiency"] >= TARGET, COMPARISONS[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="JSON file for the results.")
    parser.add_argument("--tiny", action="store_true", help="A quick check at a tiny size.")
    args = parser.parse_args()
    result = measure("tiny" if args.tiny else "full")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
