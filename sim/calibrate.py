"""Fit chosen parameters to published targets, for a noisy stochastic simulator.

``sim calibrate SPEC.toml`` minimises a weighted sum of squared relative errors between
simulated measures (:mod:`sim.measures`) and published figures (``sim/data``): placement
mix, stock, distance, fostering flows. Three steps, all on the same seeds (common random
numbers, so two parameter sets are compared on the same draws and the loss surface is
smooth enough to search):

1. a Latin-hypercube design over the ranges (``design_points`` runs per seed);
2. a quadratic surrogate fitted to the design's losses (least squares on the unit
   cube), minimised within the ranges;
3. Nelder-Mead from the best point so far (``refine_evaluations`` evaluations, bounded).

The best point of all is reported with the fit of every target and written as a
parameter TOML that scenarios use with ``parameters = "FILE"`` (or ``sim run --params
FILE``). A spec::

    name = "distance"
    scenario = "../scenarios/baseline.toml"
    seeds = [1, 2]
    years = 4                       # to 31 March 2023
    scale = 0.1
    design_points = 16
    refine_evaluations = 12

    [parameters]
    "matching.match_probability" = [0.2, 0.6]
    "fostering.carers_outside_la_share" = [0.3, 0.7]

    [[targets]]
    measure = "share_far_20_miles"
    figure = "distance.over_20_miles"   # a figure in sim/data/national.toml ...
    key = "2023"                        # ... and its entry, for a table of values
    weight = 1.0
    [[targets]]
    measure = "share_outside_la"
    value = 0.41                        # or a value given directly (cite it in `source`)
    source = "DfE, CLA 2019"
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.sampling import Evaluator, ParameterSpace, RunPlan, overrides_for, read_spec


@dataclass(frozen=True)
class Target:
    """A published figure a measure should match."""

    measure: str
    value: float
    weight: float
    source: str
    label: str


@dataclass(frozen=True)
class CalibrationSpec:
    """What to fit, to which targets, and the search budget."""

    name: str
    space: ParameterSpace
    plan: RunPlan
    targets: tuple[Target, ...]
    design_points: int = 12
    refine_evaluations: int = 10
    design_seed: int = 1

    @classmethod
    def load(cls, path: str | Path) -> CalibrationSpec:
        return cls.from_dict(read_spec(path), str(path))

    @classmethod
    def from_dict(cls, spec: dict[str, Any], where: str = "<spec>") -> CalibrationSpec:
        known = {"name", "scenario", "seeds", "years", "scale", "only_las", "parameters",
                 "targets", "design_points", "refine_evaluations", "design_seed"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise SimInputError(f"{where}: unknown field {unknown[0]!r} (allowed: "
                                f"{', '.join(sorted(known))})")
        targets = tuple(_target(t, f"{where}: targets[{i}]")
                        for i, t in enumerate(spec.get("targets") or []))
        if not targets:
            raise SimInputError(f"{where}: give at least one [[targets]] table")
        plan = RunPlan.from_spec({**spec, "outcomes": sorted({t.measure for t in targets})},
                                 where)
        space = ParameterSpace.from_table(spec.get("parameters"), where, plan.base())
        budget = {k: spec.get(k, d) for k, d in (("design_points", 12),
                                                 ("refine_evaluations", 10))}
        for k, v in budget.items():
            if not isinstance(v, int) or v < 0:
                raise SimInputError(f"{where}: {k}: expected a whole number >= 0, got {v!r}")
        if budget["design_points"] < 2:
            raise SimInputError(f"{where}: design_points: at least 2")
        return cls(str(spec.get("name", Path(where).stem)), space, plan, targets,
                   budget["design_points"], budget["refine_evaluations"],
                   int(spec.get("design_seed", 1)))


def _target(raw: Any, where: str) -> Target:
    """A target from its table: a measure and a value or a national.toml figure."""
    if not isinstance(raw, dict) or not isinstance(raw.get("measure"), str):
        raise SimInputError(f"{where}: measure is required (a measure name, sim.measures)")
    weight = raw.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or weight < 0:
        raise SimInputError(f"{where}: weight must be a number >= 0")
    if "figure" in raw:
        from sim.data import load_national

        try:
            fig = load_national().figure(str(raw["figure"]))
            value = fig[raw["key"]] if "key" in raw else fig.scalar()
        except (KeyError, TypeError) as err:
            raise SimInputError(f"{where}: figure: {err}") from None
        if fig.estimate:
            raise SimInputError(f"{where}: figure {fig.name!r} is an estimate, not a target")
        source = fig.source
        label = f"{fig.name}" + (f"[{raw['key']}]" if "key" in raw else "")
    elif isinstance(raw.get("value"), (int, float)):
        value, source = float(raw["value"]), str(raw.get("source", ""))
        label = raw["measure"]
    else:
        raise SimInputError(f"{where}: give figure (a sim/data figure name) or value")
    if value == 0:
        raise SimInputError(f"{where}: a target of 0 cannot be fitted as a relative error")
    return Target(raw["measure"], float(value), float(weight), source,
                  str(raw.get("label", label)))


def loss(values: dict[str, float] | pd.Series, targets: tuple[Target, ...]) -> float:
    """Weighted sum of squared relative errors (NaN measures count as 100% off)."""
    total = 0.0
    for t in targets:
        v = float(values[t.measure])
        err = 1.0 if math.isnan(v) else (v - t.value) / t.value
        total += t.weight * err * err
    return total


def _quadratic_features(u: np.ndarray) -> np.ndarray:
    """1, u_i, u_i^2 and u_i u_j for a surrogate on the unit cube."""
    u = np.atleast_2d(u)
    cols = [np.ones(len(u)), *u.T, *(u ** 2).T]
    cols += [u[:, i] * u[:, j] for i, j in itertools.combinations(range(u.shape[1]), 2)]
    return np.column_stack(cols)


def surrogate_minimum(u: np.ndarray, y: np.ndarray, start: np.ndarray) -> np.ndarray | None:
    """Minimum within the unit cube of a quadratic least-squares fit (ridge-damped)."""
    from scipy.optimize import minimize

    x = _quadratic_features(u)
    if len(u) < 3:
        return None
    ridge = 1e-3 * np.eye(x.shape[1])
    coef = np.linalg.solve(x.T @ x + ridge, x.T @ y)
    res = minimize(lambda p: float((_quadratic_features(p) @ coef)[0]), start,
                   bounds=[(0.0, 1.0)] * u.shape[1], method="L-BFGS-B")
    return np.clip(res.x, 0.0, 1.0)


@dataclass
class CalibrationResult:
    """The best parameters found, the fit of each target and the search history."""

    spec: CalibrationSpec
    best: dict[str, float]
    best_loss: float
    default_loss: float
    fit: pd.DataFrame
    history: pd.DataFrame
    runs: int
    seconds: float
    out: Path | None = None


def calibrate(spec: CalibrationSpec, out: str | Path | None = None,
              executor: str | None = "pool", workers: int | None = None,
              progress: bool = False) -> CalibrationResult:
    """Run the three-step search and (with ``out``) write the fit and the parameter file."""
    from scipy.optimize import minimize
    from scipy.stats import qmc

    space = spec.space
    base = spec.plan.base()
    default = np.array([_current(base, n) for n in space.names])
    stage: list[str] = []
    hook = _progress if progress else None
    with Evaluator(space, spec.plan, executor, workers) as ev:

        def run(points: np.ndarray, label: str) -> np.ndarray:
            frame = ev.evaluate(points, hook)
            stage.extend([label] * len(frame))
            return np.array([loss(r, spec.targets) for _, r in frame.iterrows()])

        # 1. The default point and a Latin-hypercube design, in one parallel batch.
        lhs = qmc.LatinHypercube(d=space.dim, seed=spec.design_seed).random(spec.design_points)
        points = np.vstack([np.clip(default, *np.array(space.bounds).T),
                            space.from_unit(lhs)])
        losses = run(points, "design")
        stage[0] = "default"
        default_loss = float(losses[0])
        u_all = space.to_unit(points)
        # 2. The quadratic surrogate's minimum.
        best_u = u_all[int(np.argmin(losses))]
        guess = surrogate_minimum(u_all, losses, best_u)
        if guess is not None:
            losses = np.append(losses, run(space.from_unit(guess)[None, :], "surrogate"))
            u_all = np.vstack([u_all, guess])
        # 3. Nelder-Mead on the common-seed loss, from the best point so far.
        if spec.refine_evaluations > 0:
            cache: dict[tuple, float] = {}

            def objective(u: np.ndarray) -> float:
                key = tuple(np.round(np.clip(u, 0, 1), 6))
                if key not in cache:
                    cache[key] = float(run(space.from_unit(np.array(key))[None, :], "refine")[0])
                return cache[key]

            start = u_all[int(np.argmin(losses))]
            minimize(objective, start, method="Nelder-Mead", bounds=[(0.0, 1.0)] * space.dim,
                     options={"maxfev": spec.refine_evaluations, "xatol": 1e-3, "fatol": 1e-6,
                              "initial_simplex": _simplex(start)})
            if cache:
                u_all = np.vstack([u_all, np.array(list(cache))])
                losses = np.append(losses, list(cache.values()))
        history = pd.DataFrame(ev.log)
        runs, seconds = ev.runs, ev.seconds
    history.insert(0, "stage", stage)
    history["loss"] = [loss(r, spec.targets) for _, r in history.iterrows()]
    i_best = int(history["loss"].idxmin())
    best = {n: float(history.at[i_best, n]) for n in space.names}
    fit = _fit_table(spec, history.iloc[0], history.loc[i_best])
    result = CalibrationResult(spec, best, float(history.at[i_best, "loss"]), default_loss,
                               fit, history, runs, seconds)
    if out is not None:
        result.out = write_result(result, out)
    return result


def _simplex(start: np.ndarray, step: float = 0.15) -> np.ndarray:
    """An initial simplex around ``start`` inside the unit cube."""
    pts = [start]
    for i in range(len(start)):
        p = start.copy()
        p[i] = p[i] + step if p[i] + step <= 1 else p[i] - step
        pts.append(p)
    return np.array(pts)


def _current(base: Any, name: str) -> float:
    parts = name.split(".")
    value = getattr(getattr(base, parts[0]), parts[1])
    return float(value[parts[2]] if len(parts) == 3 else value)


def _fit_table(spec: CalibrationSpec, default: pd.Series, best: pd.Series) -> pd.DataFrame:
    rows = []
    for t in spec.targets:
        rows.append({"target": t.label, "measure": t.measure, "published": t.value,
                     "default": float(default[t.measure]), "calibrated": float(best[t.measure]),
                     "error_pct": 100 * (float(best[t.measure]) - t.value) / t.value,
                     "weight": t.weight, "source": t.source})
    return pd.DataFrame(rows)


def parameter_toml(result: CalibrationResult) -> str:
    """The calibrated values as a parameter file (``[group]`` tables and a ``[meta]``)."""
    base = result.spec.plan.base()
    overrides = overrides_for(base, list(result.best), list(result.best.values()))
    groups: dict[str, dict[str, Any]] = {}
    for dotted, value in overrides.items():
        group, name = dotted.split(".", 1)
        groups.setdefault(group, {})[name] = value
    lines = [f"# Calibrated by `sim calibrate` ({result.spec.name}), "
             f"{dt.date.today().isoformat()}.",
             "# Use in a scenario: parameters = \"<this file>\"; or: sim run --params <file>",
             "", "[meta]", f"name = {json.dumps(result.spec.name)}",
             f"loss = {result.best_loss:.6g}", f"default_loss = {result.default_loss:.6g}",
             f"runs = {result.runs}", f"seeds = {list(result.spec.plan.seeds)}",
             f"years = {result.spec.plan.years:g}",
             f"targets = {json.dumps([t.label for t in result.spec.targets])}"]
    for group, values in groups.items():
        lines += ["", f"[{group}]"]
        for name, value in values.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {_num(v)}" for k, v in value.items())
                lines.append(f"{name} = {{ {inner} }}")
            else:
                lines.append(f"{name} = {_num(value)}")
    return "\n".join(lines) + "\n"


def _num(v: Any) -> str:
    return str(v) if isinstance(v, int) else f"{float(v):.6g}"


def write_result(result: CalibrationResult, out: str | Path) -> Path:
    """``calibrated.toml``, ``fit.csv`` and ``history.csv`` in ``out``."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "calibrated.toml").write_text(parameter_toml(result), encoding="utf-8")
    result.fit.to_csv(folder / "fit.csv", index=False)
    result.history.to_csv(folder / "history.csv", index=False)
    return folder


def _progress(done: int, total: int) -> None:
    print(f"\r  runs {done}/{total}", end="" if done < total else "\n", file=sys.stderr,
          flush=True)


def calibrate_command(args: Any) -> int:
    """``sim calibrate SPEC.toml``: search, print the fit, write the parameter file."""
    spec = CalibrationSpec.load(args.spec)
    out = args.out or f"results/calibrate/{spec.name}"
    print(f"{spec.name}: {spec.space.dim} parameters, {len(spec.targets)} targets, "
          f"{len(spec.plan.seeds)} seed(s); design {spec.design_points} + surrogate + "
          f"refine {spec.refine_evaluations} evaluations")
    res = calibrate(spec, out, args.executor, args.workers, progress=not args.quiet)
    print(f"\n{'parameter':<44}{'calibrated':>12}   range")
    for (name, value), (lo, hi) in zip(res.best.items(), spec.space.bounds, strict=True):
        print(f"{name:<44}{value:>12.4g}   [{lo:g}, {hi:g}]")
    print(f"\n{'target':<44}{'published':>11}{'default':>11}{'calibrated':>12}{'error %':>9}")
    for r in res.fit.itertuples():
        print(f"{r.target[:43]:<44}{r.published:>11.4g}{r.default:>11.4g}{r.calibrated:>12.4g}"
              f"{r.error_pct:>9.1f}")
    print(f"\nloss {res.default_loss:.4g} (default) -> {res.best_loss:.4g}; {res.runs} runs in "
          f"{res.seconds:.1f} s; written to {res.out}/calibrated.toml (use: parameters = "
          "\"...\" in a scenario, or sim run --params), fit.csv, history.csv")
    return 0
