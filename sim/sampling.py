"""Running the model at points of a parameter space, in parallel, on common seeds.

Shared by :mod:`sim.sensitivity` and :mod:`sim.calibrate`. A :class:`ParameterSpace`
names scenario parameters (``"matching.match_probability"``, or one entry of a table
parameter: ``"stability.breakdown_rate.la_foster"``) with ranges; a :class:`RunPlan`
says which scenario, seeds, years and scale every point is run with. Every point is run
with the same seeds (common random numbers), so differences between points are the
parameters' doing, not the draws'. Runs go through :mod:`sim.executors` (a local process
pool by default, or Dask).
"""

from __future__ import annotations

import dataclasses
import math
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError, SimInputError
from sim.scenario import GROUPS, Scenario, load_scenario


@dataclass(frozen=True)
class ParameterSpace:
    """Named scenario parameters and their ranges ``[lo, hi]``."""

    names: tuple[str, ...]
    bounds: tuple[tuple[float, float], ...]

    @classmethod
    def from_table(cls, table: Any, where: str, base: Scenario | None = None) -> ParameterSpace:
        """From a TOML table ``{"group.name" = [lo, hi], ...}``, checked against the scenario."""
        if not isinstance(table, dict) or not table:
            raise SimInputError(f"{where}: [parameters] must map parameter names to [lo, hi]")
        names, bounds = [], []
        base = base or Scenario()
        for name, rng in table.items():
            if (not isinstance(rng, list) or len(rng) != 2
                    or not all(isinstance(v, (int, float)) for v in rng) or rng[0] >= rng[1]):
                raise SimInputError(f"{where}: parameters.{name}: expected [lo, hi] with lo < hi, "
                                    f"got {rng!r}")
            for v in rng:  # both ends must be allowed values
                _check(base, name, float(v), where)
            names.append(name)
            bounds.append((float(rng[0]), float(rng[1])))
        return cls(tuple(names), tuple(bounds))

    @property
    def dim(self) -> int:
        return len(self.names)

    def salib_problem(self) -> dict[str, Any]:
        """The problem dictionary SALib's samplers and analysers take."""
        return {"num_vars": self.dim, "names": list(self.names),
                "bounds": [list(b) for b in self.bounds]}

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        lo, hi = np.array(self.bounds).T
        return (np.asarray(x, dtype=float) - lo) / (hi - lo)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        lo, hi = np.array(self.bounds).T
        return lo + np.clip(np.asarray(u, dtype=float), 0.0, 1.0) * (hi - lo)


def overrides_for(base: Scenario, names: Iterable[str], values: Iterable[float]) -> dict[str, Any]:
    """Dotted overrides for :meth:`Scenario.replace` (table entries merged into the table)."""
    out: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        parts = name.split(".")
        if len(parts) == 2:
            group, field_name = parts
            kind = _field(base, group, field_name, name).type
            out[name] = round(float(value)) if kind in (int, "int") else float(value)
        elif len(parts) == 3:
            group, field_name, key = parts
            _field(base, group, field_name, name)
            dotted = f"{group}.{field_name}"
            table = out.get(dotted) or dict(getattr(getattr(base, group), field_name))
            if key not in table:
                raise SimInputError(f"parameter {name!r}: {field_name} has no entry {key!r} "
                                    f"(has {', '.join(table)})")
            out[dotted] = {**table, key: float(value)}
        else:
            raise SimInputError(f"parameter {name!r}: expected group.name or group.name.key")
    return out


def _field(base: Scenario, group: str, name: str, full: str) -> dataclasses.Field:
    if group not in GROUPS:
        raise SimInputError(f"parameter {full!r}: unknown group {group!r} (allowed: "
                            f"{', '.join(GROUPS)})")
    fields = {f.name: f for f in dataclasses.fields(getattr(base, group))}
    if name not in fields:
        raise SimInputError(f"parameter {full!r}: unknown field {name!r} of [{group}]")
    return fields[name]


def _check(base: Scenario, name: str, value: float, where: str) -> None:
    try:
        base.replace(**overrides_for(base, [name], [value]))
    except ScenarioError as err:
        raise SimInputError(f"{where}: parameters.{name}: {err}") from None


@dataclass(frozen=True)
class RunPlan:
    """How every point is run: scenario, seeds (common to all points), years, scale."""

    scenario: str | None = None
    seeds: tuple[int, ...] = (1,)
    years: float = 1.0
    scale: float | None = None
    only_las: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()

    @classmethod
    def from_spec(cls, spec: dict[str, Any], where: str) -> RunPlan:
        """From a spec file's top-level keys (paths relative to the spec file)."""
        scenario = spec.get("scenario")
        if scenario is not None:
            path = Path(scenario)
            if not path.is_absolute() and not path.exists() and where.endswith(".toml"):
                path = Path(where).parent / path
            scenario = str(path)
        seeds = spec.get("seeds", [1])
        if not isinstance(seeds, list) or not seeds or not all(
                isinstance(s, int) and s >= 0 for s in seeds):
            raise SimInputError(f"{where}: seeds must be a list of whole numbers >= 0")
        years = spec.get("years", 1.0)
        if not isinstance(years, (int, float)) or not 0 < years <= 50:
            raise SimInputError(f"{where}: years: {years!r} is out of range; allowed (0, 50]")
        outcomes = spec.get("outcomes", [])
        if not isinstance(outcomes, list) or not all(isinstance(o, str) for o in outcomes):
            raise SimInputError(f"{where}: outcomes must be a list of measure names")
        only = spec.get("only_las", [])
        if not isinstance(only, list):
            raise SimInputError(f"{where}: only_las must be a list of LA codes or names")
        plan = cls(scenario, tuple(seeds), float(years), spec.get("scale"), tuple(only),
                   tuple(outcomes))
        plan.base()  # the scenario loads and the scale and LAs are allowed
        return plan

    def base(self) -> Scenario:
        """The scenario every point starts from."""
        sc = load_scenario(self.scenario)
        changes: dict[str, Any] = {}
        if self.scale is not None:
            changes["scale"] = self.scale
        if self.only_las:
            changes["only_las"] = list(self.only_las)
        return sc.replace(**changes) if changes else sc


@dataclass(frozen=True)
class PointTask:
    """One run: a point's parameter values on one seed (picklable, for any executor)."""

    key: str
    point: int
    seed: int
    names: tuple[str, ...]
    values: tuple[float, ...]
    plan: RunPlan


def run_point(task: PointTask) -> dict[str, float]:
    """Run one task in a worker process; returns its measures (NaN if the run failed)."""
    from sim.measures import measures
    from sim.model import CareMarketModel

    base = task.plan.base()
    scenario = base.replace(**overrides_for(base, task.names, task.values))
    result = CareMarketModel(scenario, seed=task.seed).run(years=task.plan.years)
    return measures(result, list(task.plan.outcomes))


@dataclass
class Evaluator:
    """Runs points (rows of parameter values) on every seed with an executor."""

    space: ParameterSpace
    plan: RunPlan
    executor: str | None = "pool"
    workers: int | None = None
    runs: int = 0
    seconds: float = 0.0
    log: list[dict[str, Any]] = field(default_factory=list)
    _pool: Any = None

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _executor(self):
        if self._pool is None:
            self._pool = make_executor(self.executor, self.workers)
        return self._pool

    def evaluate(self, points: np.ndarray, progress: Callable[[int, int], None] | None = None
                 ) -> pd.DataFrame:
        """One row per point: parameter values and each outcome's mean over the seeds."""
        points = np.atleast_2d(np.asarray(points, dtype=float))
        first = len(self.log)
        tasks = [PointTask(f"p{first + i}-s{seed}", first + i, seed, self.space.names,
                           tuple(float(v) for v in row), self.plan)
                 for i, row in enumerate(points) for seed in self.plan.seeds]
        start = time.perf_counter()
        results: dict[tuple[int, int], dict[str, float]] = {}
        for done, (task, value, error) in enumerate(self._executor().map(run_point, tasks), 1):
            if error is not None:
                raise SimInputError(f"a run failed ({task.key}: {error})")
            results[(task.point, task.seed)] = value
            if progress is not None:
                progress(done, len(tasks))
        self.runs += len(tasks)
        self.seconds += time.perf_counter() - start
        rows = []
        for i, row in enumerate(points):
            per_seed = [results[(first + i, s)] for s in self.plan.seeds]
            out = dict(zip(self.space.names, row.tolist(), strict=True))
            for name in self.plan.outcomes:
                vals = [r[name] for r in per_seed]
                out[name] = float(np.nanmean(vals)) if any(v == v for v in vals) else math.nan
            rows.append(out)
            self.log.append(out)
        return pd.DataFrame(rows, columns=[*self.space.names, *self.plan.outcomes])


def make_executor(name: str | None, workers: int | None):
    """An executor from :mod:`sim.executors` (pool by default)."""
    from sim.executors import make_executor as make

    return make(name or "pool", workers)


def read_spec(path: str | Path) -> dict[str, Any]:
    """A spec TOML file as a table; bad files are one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise SimInputError(f"{path}: no such spec file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise SimInputError(f"{path}: not valid TOML ({err})") from None
