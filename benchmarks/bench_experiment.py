"""Batch throughput of the experiment layer, and the Dask executor's overhead.

Runs the same batch of national baseline runs (one arm, ``--runs`` seeds) with the
local process pool and with a Dask LocalCluster of the same size, each into a fresh
temporary results folder, and reports national runs per minute, wall time including
the executor's start-up, and Dask's overhead against the pool. Results are identical
whichever executor makes them (tests/test_experiment.py checks it); only time differs.
With ``--repeats``, executors alternate and the fastest batch of each is reported (the
least disturbed by other work on a shared machine).

    python benchmarks/bench_experiment.py --scale 0.1 --years 2 --runs 6 --workers 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _experiment(folder: Path, scale: float, years: float, runs: int) -> Path:
    path = folder / "bench.toml"
    path.write_text(f'name = "bench"\nbaseline = "{REPO / "scenarios" / "baseline.toml"}"\n'
                    f"seeds = {runs}\nyears = {years}\nscale = {scale}\n", encoding="utf-8")
    return path


def _time(executor_name: str, workers: int, path: Path, out: Path) -> dict[str, float]:
    from sim.batch import run_experiment
    from sim.executors import make_executor
    from sim.experiment import load_experiment

    exp = load_experiment(path)
    start = time.perf_counter()
    executor = make_executor(executor_name, workers)
    ready = time.perf_counter()
    with executor:
        report = run_experiment(exp, out, executor, progress=False)
    end = time.perf_counter()
    if report.failed or report.done != len(exp.seeds):
        sys.exit(f"error: {executor_name}: {report.failed} runs failed: {report.failures}")
    return {"startup": ready - start, "batch": end - ready, "total": end - start,
            "runs": report.done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="share of England (0, 1]")
    parser.add_argument("--years", type=float, default=2.0, help="years per run")
    parser.add_argument("--runs", type=int, default=6, help="national runs per batch")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--executors", nargs="+", default=["pool", "dask"],
                        choices=("inprocess", "pool", "dask"))
    parser.add_argument("--repeats", type=int, default=1,
                        help="batches per executor, alternating; the fastest is reported")
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = _experiment(Path(tmp), args.scale, args.years, args.runs)
        for i in range(args.repeats):
            for name in args.executors:
                r = _time(name, args.workers, path, Path(tmp) / f"out_{name}_{i}")
                if name not in rows or r["total"] < rows[name]["total"]:
                    rows[name] = r
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.runs} national baseline runs, scale {args.scale:g}, {args.years:g} years, "
          f"{args.workers} workers on {cores} cores; fastest of {args.repeats}")
    print("| executor | start-up | batch | total | runs/minute (total) | runs/minute (batch) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['startup']:.1f} s | {r['batch']:.1f} s | {r['total']:.1f} s | "
              f"{60 * r['runs'] / r['total']:.1f} | {60 * r['runs'] / r['batch']:.1f} |")
    if "pool" in rows and "dask" in rows:
        pool, dask = rows["pool"], rows["dask"]
        print(f"Dask overhead vs the pool: {dask['total'] - pool['total']:+.1f} s in total "
              f"({100 * (dask['total'] / pool['total'] - 1):+.0f}%), of which start-up "
              f"{dask['startup'] - pool['startup']:+.1f} s; per run "
              f"{(dask['batch'] - pool['batch']) / args.runs:+.2f} s")


if __name__ == "__main__":
    main()
