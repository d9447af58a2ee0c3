"""CPU instructions per simulated year, counted by Valgrind (a benchmark, not a test).

Wall time on a shared or virtual machine drifts by 30% or more from hour to hour, so a
change that saves 5% cannot be seen by timing it. The number of instructions the
interpreter executes does not drift: for the same code, scenario, seed and
``PYTHONHASHSEED`` it is the same on every run. This script counts them with Valgrind's
cachegrind tool (about 50 times slower than a normal run) for two processes, one that
only builds the model and one that builds it and runs ``--years``, and prints the
difference: the instructions spent on the simulated years alone.

Run: ``python benchmarks/bench_instructions.py`` (scale 0.1, one year; about 90 s), or
``--scale 0.05`` for a quicker check. Repeat runs of the same code differ by about 1%
(allocation addresses change hash collisions and garbage collection), so only larger
differences mean anything. Measure a change at the scale it is meant for: at scale 0.1
each LA has a tenth of the vacancies, so the placement search walks further than at full
scale and a change to the search can look worse there and better at ``--scale 1
--years 0.25`` (about 10 minutes). Needs ``valgrind`` on PATH. Compare two commits by
running it in a checkout of each; the model's results should be unchanged too
(``benchmarks/fingerprint.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

CHILD = r"""
import sys
from sim.model import CareMarketModel
model = CareMarketModel(None, seed=int(sys.argv[3]), scale=float(sys.argv[1]))
if float(sys.argv[2]):
    model.run(years=float(sys.argv[2]))
"""


def instructions(scale: float, years: float, seed: int) -> int:
    """Instructions executed by a fresh process that builds and runs the model."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-c", CHILD, str(scale), str(years), str(seed)],
        capture_output=True, text=True, env=env, check=True)
    match = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if match is None:
        raise SystemExit(f"error: no instruction count in valgrind's output:\n{out.stderr}")
    return int(match.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--years", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("error: valgrind not found on PATH (apt-get install valgrind)")
    with ThreadPoolExecutor(2) as pool:  # the two counts are independent
        build, total = pool.map(lambda y: instructions(args.scale, y, args.seed),
                                (0.0, args.years))
    run = total - build
    print(f"scale {args.scale}, {args.years:g} year(s), seed {args.seed}, "
          f"PYTHONHASHSEED=0, Python {sys.version.split()[0]}")
    print(f"build: {build / 1e9:.3f} G instructions")
    print(f"run:   {run / 1e9:.3f} G instructions ({run / 1e9 / args.years:.3f} G per year)")


if __name__ == "__main__":
    main()
