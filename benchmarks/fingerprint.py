"""Hashes of every result table for two fixed runs: a check that a speed change is
behaviour-neutral (a benchmark companion, not a test).

Run it before and after a change (e.g. ``PYTHONPATH=/tmp/old python
benchmarks/fingerprint.py > before.txt`` on an exported older tree, then on the
working tree) and ``diff`` the outputs: identical lines mean bit-identical national,
per-LA, annual, episode and child tables for the baseline (scale 0.25, 1.5 years) and
the combined reform (scale 0.15, 1 year), seed 3.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from sim.model import CareMarketModel

ROOT = Path(__file__).resolve().parents[1]
RUNS = [(None, 0.25, 1.5), (ROOT / "scenarios" / "combined_reform.toml", 0.15, 1.0)]


def main() -> int:
    for scenario, scale, years in RUNS:
        result = CareMarketModel(scenario, seed=3, scale=scale).run(years=years)
        label = "baseline" if scenario is None else Path(scenario).stem
        tables = {name: table for name, table in vars(result).items()
                  if hasattr(table, "to_csv")}
        tables.update({f"policy:{k}": v for k, v in result.policy_tables.items()})
        for name, table in sorted(tables.items()):
            digest = hashlib.sha1(table.to_csv().encode()).hexdigest()[:12]
            print(f"{label} {name} {table.shape} {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
