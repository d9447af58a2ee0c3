"""Model speed and memory by scale (a benchmark, not a test).

For each scale, a fresh Python process builds ``CareMarketModel`` (baseline scenario)
and runs it for ``--years``; the geography cache is warmed first, so each process reads
the cache but shares nothing else. Reported per scale: children at the start and end,
build time, run time, peak resident memory of the process (``ru_maxrss``) and events
per second of run time, where events = starts + ceased + placement moves + breakdowns
(the last row of the national table).

Run: ``python benchmarks/bench_model.py`` (scales 0.1, 0.5, 1.0; 10 years), or e.g.
``python benchmarks/bench_model.py --scales 0.05 --years 1`` for a quick check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
scale, years, seed = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
scenario = sys.argv[4] or None
t0 = time.perf_counter()
from sim.model import CareMarketModel
t1 = time.perf_counter()
model = CareMarketModel(scenario, seed=seed, scale=scale)
t2 = time.perf_counter()
start_children = len(model.children)
c2 = time.process_time()
result = model.run(years=years)
t3 = time.perf_counter()
c3 = time.process_time()
last = result.national.iloc[-1]
events = {k: int(last[k]) for k in ("starts", "ceased", "moves", "breakdowns")}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rss_mb = rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes vs KiB
print(json.dumps({
    "import_s": t1 - t0, "build_s": t2 - t1, "run_s": t3 - t2, "run_cpu_s": c3 - c2,
    "children_start": start_children, "children_end": int(last["children_in_care"]),
    "weeks": int(model.week), "events": events, "peak_rss_mb": rss_mb,
}))
sys.stdout.flush()
import gc; gc.freeze()  # exit as the `sim` command does (sim.cli.console)
"""


def warm_geography_cache() -> float:
    """Make sure the on-disk geography cache exists (a cold build takes seconds)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from sim.geography import load_geography; "
                    "load_geography()"], check=True)
    return time.perf_counter() - start


def measure(scale: float, years: float, seed: int, scenario: str) -> dict:
    """Build and run one model in a fresh process; returns its measurements."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(scale), str(years), str(seed), scenario],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"scale {scale}: the benchmark process failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["scale"] = scale
    out["wall_s"] = wall
    out["n_events"] = sum(out["events"].values())
    out["events_per_s"] = out["n_events"] / out["run_s"] if out["run_s"] > 0 else float("nan")
    return out


def _scales(values: list[str]) -> list[float]:
    scales = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            scale = float(part)
            if not 0 < scale <= 1:
                raise SystemExit(f"error: --scales: {part} is out of range; allowed (0, 1]")
            scales.append(scale)
    return scales


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", nargs="+", default=["0.1", "0.5", "1.0"],
                        help="scales to measure, e.g. --scales 0.1 0.5 or 0.1,0.5 "
                        "(default 0.1 0.5 1.0)")
    parser.add_argument("--years", type=float, default=10.0,
                        help="years to simulate (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--scenario", default="",
                        help="scenario TOML file (default: the built-in baseline)")
    args = parser.parse_args(argv)
    scales = _scales(args.scales)
    if not 0 < args.years <= 50:
        raise SystemExit(f"error: --years: {args.years} is out of range; allowed (0, 50]")

    warm = warm_geography_cache()
    print(f"care-market-sim model benchmark: {args.scenario or 'baseline'}, seed {args.seed}, "
          f"{args.years:g} years; Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"geography cache warmed in {warm:.1f} s; each scale runs in a fresh process")
    header = (f"{'scale':>6} {'children':>17} {'build s':>8} {'run s':>8} {'run cpu':>8} "
              f"{'wall s':>8} "
              f"{'peak MB':>8} {'events':>10} {'events/s':>10}")
    print(header)
    print("-" * len(header))
    for scale in scales:
        r = measure(scale, args.years, args.seed, args.scenario)
        children = f"{r['children_start']:,} -> {r['children_end']:,}"
        print(f"{scale:>6g} {children:>17} {r['build_s']:>8.2f} {r['run_s']:>8.2f} "
              f"{r['run_cpu_s']:>8.2f} {r['wall_s']:>8.2f} {r['peak_rss_mb']:>8.0f} "
              f"{r['n_events']:>10,} "
              f"{r['events_per_s']:>10,.0f}", flush=True)
    print("build, run: model construction and run(years), timed inside the process\n"
          "run cpu: the run's CPU time (steadier than wall time on a shared machine)\n"
          "wall: the whole process including imports; peak MB: its ru_maxrss\n"
          "events: starts + ceased + placement moves + breakdowns; events/s: per second "
          "of run time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
