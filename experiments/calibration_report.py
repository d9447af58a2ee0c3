"""Baseline against published figures: the table in the README.

Runs the built-in baseline at full scale for several seeds and writes, under
``results/calibration/``: ``calibration.csv`` (each published figure, its role —
calibration or validation — and the simulated mean with its range over seeds),
``la_fit.csv`` (per-LA simulated vs published children looked after and placement
mix, first seed) and ``fit_summary.csv``; it prints the table as Markdown.

    python experiments/calibration_report.py --seeds 1 2 3 --years 4
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.model import CareMarketModel
from sim.validation import fit_summary, la_fit_table

OUT = Path(__file__).resolve().parent.parent / "results" / "calibration"

# (measure, published value, unit, role, source)
TARGETS = [
    ("children looked after, 31 March 2023", 83_760, "children", "calibration", "DfE CLA 2023"),
    ("starts, year to March 2023", 33_000, "children", "input", "DfE CLA 2023"),
    ("ceased, year to March 2023", 31_680, "children", "calibration", "DfE CLA 2023"),
    ("3+ placements in the year, 2023", 10.0, "%", "calibration", "DfE CLA 2023"),
    ("siblings separated, 2023", 37.0, "%", "calibration", "Children's Commissioner 2023"),
    ("children's homes, 2023", 2_880, "homes", "calibration", "Ofsted 2023"),
    ("private home price, 2020-21", 3_830, "£/week", "calibration", "CMA 2022"),
    ("IFA price, 2020-21", 820, "£/week", "calibration", "CMA 2022"),
    ("children's home margin, 2020-21", 22.6, "%", "calibration", "CMA 2022"),
    ("IFA margin, 2020-21", 19.0, "%", "calibration", "CMA 2022"),
    ("placed > 20 miles, 2019-23", 21.0, "%", "calibration", "DfE CLA 2019-23"),
    ("placed outside own LA", 41.0, "%", "calibration", "DfE CLA 2019"),
    ("median distance, foster care", 5.5, "miles", "validation", "DfE CLA 2015"),
    ("median distance, children's homes", 17.8, "miles", "validation", "DfE CLA 2015"),
    ("children in homes > 20 miles", 49.0, "%", "validation", "DfE CLA 2024"),
    ("aged 16+, 31 March", 25.0, "%", "validation", "DfE CLA 2022"),
    ("aged 10-15, 31 March", 39.0, "%", "validation", "DfE CLA 2022"),
]


def one_run(seed: int, years: float) -> tuple[list[float], pd.DataFrame]:
    result = CareMarketModel(None, seed=seed, scale=1.0).run(years=years)
    n = result.national
    a = result.annual_national().set_index("year")
    last = a.index.max()
    window = n.iloc[52:157]
    values = [
        a.loc[last, "children_in_care"], a.loc[last, "starts"], a.loc[last, "ceased"],
        100 * a.loc[last, "share_3plus_placements"], 100 * a.loc[last, "share_siblings_separated"],
        n["homes_open"].iloc[-1], window["mean_price_private_home"].mean(),
        window["mean_price_ifa"].mean(), 100 * window["margin_homes"].mean(),
        100 * window["margin_ifa"].mean(), 100 * n["share_far_20_miles"].iloc[52:].mean(),
        100 * n["share_outside_la"].iloc[52:].mean(), a.loc[last, "median_distance_foster"],
        a.loc[last, "median_distance_homes"], 100 * a.loc[last, "share_homes_far_20_miles"],
        100 * a.loc[last, "share_age_16_17"], 100 * a.loc[last, "share_age_10_15"],
    ]
    return [float(v) for v in values], la_fit_table(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--years", type=float, default=4.0)
    args = parser.parse_args()
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        runs = list(pool.map(one_run, args.seeds, [args.years] * len(args.seeds)))
    values = np.array([r[0] for r in runs])
    rows = []
    for (measure, published, unit, role, source), col in zip(TARGETS, values.T, strict=True):
        rows.append({"measure": measure, "role": role, "unit": unit, "published": published,
                     "simulated_mean": col.mean(), "simulated_min": col.min(),
                     "simulated_max": col.max(), "source": source})
    table = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / "calibration.csv", index=False)
    fit = runs[0][1]
    fit.to_csv(OUT / "la_fit.csv", index=False)
    fit_summary(fit).to_csv(OUT / "fit_summary.csv", index=False)
    (OUT / "run.json").write_text(json.dumps({
        "scenario": "baseline (built-in)", "scale": 1.0, "seeds": args.seeds,
        "years": args.years, "version": __version__, "la_fit_year": fit.attrs.get("year"),
    }, indent=2))
    print("| measure | role | published | simulated (mean, range over seeds) |")
    print("|---|---|---|---|")
    for r in rows:
        fmt = "{:,.0f}" if abs(r["published"]) >= 100 else "{:.1f}"
        print(f"| {r['measure']} | {r['role']} | {fmt.format(r['published'])} {r['unit']} | "
              f"{fmt.format(r['simulated_mean'])} ({fmt.format(r['simulated_min'])}-"
              f"{fmt.format(r['simulated_max'])}) |")
    print()
    print(f"Per-LA fit at 31 March {fit.attrs.get('year')} (seed {args.seeds[0]}):")
    print()
    print("| measure | median absolute error | correlation across LAs |")
    print("|---|---|---|")
    for r in fit_summary(fit).itertuples():
        print(f"| {r.measure} | {r.median_abs_error:.1f} {r.unit} | {r.correlation:.3f} |")


if __name__ == "__main__":
    main()
