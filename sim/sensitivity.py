"""Global sensitivity analysis with SALib: Morris screening and Sobol indices.

``sim sensitivity SPEC.toml`` samples named scenario parameters over their ranges
(SALib's Morris trajectories or Saltelli's design for Sobol indices), runs every sample
on the same seeds in parallel (:mod:`sim.sampling`), and writes a table of indices per
outcome and parameter and a figure. A spec::

    name = "distance-drivers"
    scenario = "../scenarios/baseline.toml"   # optional; default the built-in baseline
    method = "morris"            # or "sobol"
    samples = 10                 # Morris trajectories, or Sobol's base sample (power of 2)
    seeds = [1, 2]               # common random numbers: every sample runs on these seeds
    years = 2
    scale = 0.1
    only_las = []                # optional: a region's LAs for quick runs
    outcomes = ["share_far_20_miles", "sufficiency", "weekly_spend"]

    [parameters]                 # name = [lo, hi]
    "matching.match_probability" = [0.2, 0.6]
    "stability.breakdown_rate.la_foster" = [0.2, 0.5]

Morris needs ``samples x (parameters + 1)`` sample points; Sobol (first and total order)
``samples x (parameters + 2)``; each is run once per seed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.sampling import Evaluator, ParameterSpace, RunPlan, read_spec

METHODS = ("morris", "sobol")


@dataclass(frozen=True)
class SensitivitySpec:
    """A sensitivity analysis: what to vary, how to sample, what to measure."""

    name: str
    method: str
    samples: int
    space: ParameterSpace
    plan: RunPlan
    levels: int = 4
    sample_seed: int = 1

    @classmethod
    def load(cls, path: str | Path) -> SensitivitySpec:
        where = str(path)
        spec = read_spec(path)
        return cls.from_dict(spec, where)

    @classmethod
    def from_dict(cls, spec: dict[str, Any], where: str = "<spec>") -> SensitivitySpec:
        known = {"name", "scenario", "method", "samples", "seeds", "years", "scale",
                 "only_las", "outcomes", "parameters", "levels", "sample_seed"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise SimInputError(f"{where}: unknown field {unknown[0]!r} (allowed: "
                                f"{', '.join(sorted(known))})")
        method = spec.get("method", "morris")
        if method not in METHODS:
            raise SimInputError(f"{where}: method: {method!r} is not allowed "
                                f"({', '.join(METHODS)})")
        samples = spec.get("samples", 8)
        if not isinstance(samples, int) or samples < 2:
            raise SimInputError(f"{where}: samples: expected a whole number >= 2, got {samples!r}")
        if method == "sobol" and samples & (samples - 1):
            raise SimInputError(f"{where}: samples: Sobol needs a power of 2, got {samples}")
        plan = RunPlan.from_spec(spec, where)
        if not plan.outcomes:
            raise SimInputError(f"{where}: outcomes: name at least one measure (sim.measures)")
        space = ParameterSpace.from_table(spec.get("parameters"), where, plan.base())
        levels = spec.get("levels", 4)
        if not isinstance(levels, int) or levels < 2 or levels % 2:
            raise SimInputError(f"{where}: levels: expected an even whole number >= 2")
        return cls(str(spec.get("name", Path(where).stem)), method, samples, space, plan,
                   levels, int(spec.get("sample_seed", 1)))

    def design(self) -> np.ndarray:
        """The sample points (rows), from SALib."""
        problem = self.space.salib_problem()
        if self.method == "morris":
            from SALib.sample import morris

            return morris.sample(problem, self.samples, num_levels=self.levels,
                                 seed=self.sample_seed)
        from SALib.sample import sobol

        return sobol.sample(problem, self.samples, calc_second_order=False,
                            seed=self.sample_seed)


def analyse(spec: SensitivitySpec, points: np.ndarray, values: pd.DataFrame) -> pd.DataFrame:
    """Tidy indices: one row per outcome and parameter."""
    problem = spec.space.salib_problem()
    rows = []
    for outcome in spec.plan.outcomes:
        y = values[outcome].to_numpy(dtype=float)
        if np.isnan(y).any():  # a measure undefined at some points (e.g. no homes)
            y = np.where(np.isnan(y), np.nanmean(y), y)
        if spec.method == "morris":
            from SALib.analyze import morris

            res = morris.analyze(problem, points, y, num_levels=spec.levels, seed=spec.sample_seed)
            for i, name in enumerate(spec.space.names):
                rows.append({"outcome": outcome, "parameter": name, "mu": res["mu"][i],
                             "mu_star": res["mu_star"][i], "sigma": res["sigma"][i],
                             "mu_star_conf": res["mu_star_conf"][i]})
        else:
            from SALib.analyze import sobol

            res = sobol.analyze(problem, y, calc_second_order=False, seed=spec.sample_seed)
            for i, name in enumerate(spec.space.names):
                rows.append({"outcome": outcome, "parameter": name, "S1": res["S1"][i],
                             "S1_conf": res["S1_conf"][i], "ST": res["ST"][i],
                             "ST_conf": res["ST_conf"][i]})
    table = pd.DataFrame(rows)
    key = "mu_star" if spec.method == "morris" else "ST"
    # Rank within each outcome, most influential first (Morris: mu* scaled by its largest).
    table["rank"] = table.groupby("outcome")[key].rank(ascending=False, method="min").astype(int)
    return table.sort_values(["outcome", "rank"]).reset_index(drop=True)


def _unit(outcome: str) -> str:
    """The unit a measure is in, for axis labels (shares are fractions, not percentages)."""
    base = outcome.removesuffix("_england")
    if base.startswith("share_") or base.endswith("_share") or base == "sufficiency":
        return "share, 0-1"
    if "spend" in base or base.startswith(("mean_price", "unit_cost")):
        return "£/week"
    if "distance" in base:
        return "miles"
    return "count"


def plot(spec: SensitivitySpec, table: pd.DataFrame, path: Path) -> Path:
    """One panel per outcome, parameters ranked: Morris mu* (bar, with its 95% interval)
    beside sigma (diamond), or Sobol first-order and total indices as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = list(spec.plan.outcomes)
    ncols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 0.9 + 0.42 * nrows
                                                    * (table["parameter"].nunique() + 3)),
                             squeeze=False)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        t = table[table["outcome"] == outcome]
        if spec.method == "morris":
            t = t.sort_values("mu_star")
            y = np.arange(len(t))
            ax.barh(y, t["mu_star"], xerr=t["mu_star_conf"], color="#4a7fb0",
                    label="μ* with 95% interval")
            ax.plot(t["sigma"], y, "D", color="black", markersize=4,
                    label="σ (non-linearity, interactions)")
            ax.set_xlim(left=0)
            ax.set_xlabel(f"mean |change| across the parameter's range ({_unit(outcome)})",
                          fontsize=8)
        else:
            y = np.arange(len(t))
            ax.barh(y - 0.2, t["S1"], 0.4, xerr=t["S1_conf"], label="first order S1")
            ax.barh(y + 0.2, t["ST"], 0.4, xerr=t["ST_conf"], label="total ST")
            ax.set_xlabel("Sobol index (share of the outcome's variance)", fontsize=8)
        ax.set_yticks(y, [p.split(".", 1)[-1] for p in t["parameter"]], fontsize=7)
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title(outcome, fontsize=9)
    fig.suptitle(f"{spec.name}: {spec.method} ({len(spec.plan.seeds)} seed(s), "
                 f"{spec.plan.years:g} years, scale {spec.plan.scale:g})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@dataclass
class SensitivityResult:
    """What a sensitivity analysis produced."""

    spec: SensitivitySpec
    points: pd.DataFrame
    indices: pd.DataFrame
    runs: int
    seconds: float
    out: Path | None = None


def run_sensitivity(spec: SensitivitySpec, out: str | Path | None = None,
                    executor: str | None = "pool", workers: int | None = None,
                    progress: bool = False) -> SensitivityResult:
    """Sample, run (in parallel, on common seeds), analyse, and write table and figure."""
    design = spec.design()
    with Evaluator(spec.space, spec.plan, executor, workers) as ev:
        values = ev.evaluate(design, _progress if progress else None)
        runs, seconds = ev.runs, ev.seconds
    indices = analyse(spec, design, values)
    result = SensitivityResult(spec, values, indices, runs, seconds)
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        values.to_csv(folder / "samples.csv", index=False)
        indices.to_csv(folder / "indices.csv", index=False)
        plot(spec, indices, folder / "indices.png")
        meta = {"name": spec.name, "method": spec.method, "samples": spec.samples,
                "levels": spec.levels, "parameters": dict(zip(spec.space.names,
                                                              spec.space.bounds, strict=True)),
                "plan": {"scenario": spec.plan.scenario, "seeds": spec.plan.seeds,
                         "years": spec.plan.years, "scale": spec.plan.scale,
                         "only_las": spec.plan.only_las, "outcomes": spec.plan.outcomes},
                "runs": runs, "seconds": round(seconds, 1),
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        (folder / "sensitivity.json").write_text(json.dumps(meta, indent=2, default=list))
        result.out = folder
    return result


def _progress(done: int, total: int) -> None:
    print(f"\r  runs {done}/{total}", end="" if done < total else "\n", file=sys.stderr,
          flush=True)


def sensitivity_command(args: Any) -> int:
    """``sim sensitivity SPEC.toml``: print the indices and where they were written."""
    spec = SensitivitySpec.load(args.spec)
    out = args.out or f"results/sensitivity/{spec.name}"
    n_points = len(spec.design())
    print(f"{spec.name}: {spec.method} over {spec.space.dim} parameters, {n_points} samples x "
          f"{len(spec.plan.seeds)} seed(s) = {n_points * len(spec.plan.seeds)} runs")
    res = run_sensitivity(spec, out, args.executor, args.workers, progress=not args.quiet)
    cols = (["mu_star", "mu_star_conf", "sigma"] if spec.method == "morris"
            else ["S1", "S1_conf", "ST", "ST_conf"])
    for outcome, t in res.indices.groupby("outcome", sort=False):
        print(f"\n{outcome}")
        print(f"  {'parameter':<44}" + "".join(f"{c:>13}" for c in cols))
        for _, r in t.iterrows():
            print(f"  {r['parameter']:<44}" + "".join(f"{r[c]:>13.4g}" for c in cols))
    print(f"\n{res.runs} runs in {res.seconds:.1f} s; written to {res.out}/ (indices.csv, "
          "samples.csv, indices.png, sensitivity.json)")
    return 0
