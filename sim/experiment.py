"""Experiment files: scenarios × seeds × an optional parameter grid, checked on load.

An experiment is data (``experiments/<name>.toml``)::

    name = "example"
    description = "Does weighting distance more keep children nearer home?"
    baseline = "../scenarios/baseline.toml"   # paths are relative to this file
    scenarios = []                            # further scenario files (may be empty)
    seeds = 5                                 # or a list: [1, 2, 3]
    years = 4
    scale = 0.1                               # optional: default each scenario's own
    outcomes = ["sufficiency", "share_far_20_miles", "weekly_spend"]   # optional

    [overrides]                               # optional: applied to every run
    only_las = ["E06000001", "E06000002"]

    [grid]                                    # optional: every combination is run
    "matching.distance_weight" = [0.1, 0.5]

    [[claims]]                                # optional: claims to test (sim.claims)
    id = "H1"
    text = "RCCs without new supply leave sufficiency unchanged"
    scenario = "rcc_no_new_supply"            # an arm; compared with its reference
    outcome = "sufficiency"
    expect = "no_change"                      # increase, decrease, no_change, ...
    tolerance = 0.01

Every run of every arm uses the same seed list, so run *i* of each arm shares seed *i*
with the baseline (common random numbers) and differences are paired. Each scenario is
run at each grid point and compared with the baseline at the same grid point; the
baseline at each grid point is compared with the baseline as given (the parameter's own
effect). A grid key is a scenario parameter (``matching.distance_weight``), a top-level
field (``only_las``) or a policy parameter (``policies.rcc.capital_budget_gbp``: every
``rcc`` block of a scenario; scenarios without that policy are run without it).

Mistakes raise :class:`ExperimentError` with one line naming the file, the field and
what is allowed. Parameter *values* are checked per run, so one bad grid value fails
only its runs (recorded with the error) and the rest of the batch goes on;
:attr:`Experiment.invalid` lists them before anything runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim import __version__
from sim.claims import Claim, claim_pairs, parse_claims
from sim.errors import SimInputError
from sim.provenance import code_fingerprint

FIELDS = ("name", "description", "baseline", "scenarios", "seeds", "years", "scale",
          "outcomes", "overrides", "grid", "claims")
TOP_LEVEL_PARAMS = ("only_las", "record_every_weeks", "scale")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ExperimentError(SimInputError):
    """A malformed experiment file: printed as one line by the CLI."""


@dataclass(frozen=True)
class ScenarioSource:
    """A scenario file as read: its text is what a run's key is made from."""

    path: str
    text: str
    name: str
    label: str


@dataclass(frozen=True)
class Arm:
    """One scenario at one grid point, run on every seed."""

    label: str
    scenario: ScenarioSource
    overrides: tuple[tuple[str, Any], ...]
    """Effective overrides: fixed ``[overrides]`` plus the grid point, as applied."""
    grid_point: tuple[tuple[str, Any], ...] = ()
    reference: str | None = None
    """Label of the arm this one is compared with (``None``: the baseline itself)."""
    scale: float = 1.0
    """Share of England the arm runs at: the experiment's scale, else its scenario's."""


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs for one run; a pure function of these fields."""

    key: str
    scenario_path: str
    scenario_text: str
    overrides: tuple[tuple[str, Any], ...]
    seed: int
    years: float
    scale: float
    out: str
    label: str = ""

    def describe(self) -> dict[str, Any]:
        """The run's identity, written beside its results."""
        return {"key": self.key, "scenario_file": self.scenario_path,
                "overrides": dict(self.overrides), "seed": self.seed, "years": self.years,
                "scale": self.scale, "version": __version__, "code": code_fingerprint()}


@dataclass(frozen=True)
class Experiment:
    """A checked experiment: arms, seeds and the runs they need."""

    name: str
    description: str
    path: str
    text: str
    baseline: ScenarioSource
    scenarios: tuple[ScenarioSource, ...]
    seeds: tuple[int, ...]
    years: float
    scale: float | None
    outcomes: tuple[str, ...]
    overrides: tuple[tuple[str, Any], ...]
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    arms: tuple[Arm, ...] = ()
    invalid: dict[str, str] = field(default_factory=dict)
    """Arm label -> the one-line error its overrides raise (its runs will fail)."""
    claims: tuple[Claim, ...] = ()
    """Stakeholders' claims to test (``[[claims]]``, :mod:`sim.claims`), with their arms."""

    @property
    def default_out(self) -> Path:
        return Path("results") / self.name

    def arm(self, label: str) -> Arm:
        return next(a for a in self.arms if a.label == label)

    def tasks(self, out: str | Path) -> list[RunTask]:
        """One task per distinct run, seed-major so early results form complete pairs."""
        seen: dict[str, RunTask] = {}
        for seed in self.seeds:
            for arm in self.arms:
                task = self.task(arm, seed, out)
                seen.setdefault(task.key, task)
        return list(seen.values())

    def task(self, arm: Arm, seed: int, out: str | Path) -> RunTask:
        # Absolute paths: a Dask worker may start in another directory.
        return RunTask(run_key(arm.scenario.text, arm.overrides, seed, self.years, arm.scale),
                       str(Path(arm.scenario.path).resolve()), arm.scenario.text,
                       arm.overrides, seed, self.years, arm.scale, str(Path(out).resolve()),
                       arm.label)

    def manifest(self, out: str | Path) -> dict[str, Any]:
        """Plain data describing the experiment and which run key is which arm and seed."""
        return {
            "name": self.name, "description": self.description, "experiment_file": self.path,
            "experiment_text": self.text, "seeds": list(self.seeds), "years": self.years,
            "scale": self.scale, "outcomes": list(self.outcomes), "version": __version__,
            "code": code_fingerprint(),
            "baseline": self.baseline.label,
            "scenarios": {s.label: {"file": s.path, "name": s.name, "text": s.text}
                          for s in (self.baseline, *self.scenarios)},
            "grid": {k: list(v) for k, v in self.grid},
            "overrides": dict(self.overrides),
            "arms": [{"label": a.label, "scenario": a.scenario.label,
                      "overrides": dict(a.overrides), "grid_point": dict(a.grid_point),
                      "reference": a.reference, "scale": a.scale,
                      "invalid": self.invalid.get(a.label)} for a in self.arms],
            "runs": [{"arm": a.label, "seed": s, "key": self.task(a, s, out).key}
                     for s in self.seeds for a in self.arms],
            "claims": [c.describe() for c in self.claims],
        }


def run_key(scenario_text: str, overrides: tuple[tuple[str, Any], ...], seed: int,
            years: float, scale: float) -> str:
    """Hash of everything that determines a run, so a finished run is never redone.

    The model's code enters through :func:`~sim.provenance.code_fingerprint`, so after
    any change to the model a batch reruns instead of reusing results from the old code.
    """
    data = {"scenario": scenario_text, "overrides": sorted([k, v] for k, v in overrides),
            "seed": int(seed), "years": float(years), "scale": float(scale),
            "version": __version__, "code": code_fingerprint()}
    blob = json.dumps(data, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


# -- loading -------------------------------------------------------------------------------
def load_experiment(path: str | Path) -> Experiment:
    """Read and check an experiment file; every mistake is a one-line ExperimentError."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ExperimentError(f"{file}: no such experiment file")
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ExperimentError(f"{file}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise ExperimentError(f"{file}: not a UTF-8 text file") from None
    unknown = [k for k in data if k not in FIELDS]
    if unknown:
        raise ExperimentError(f"{file}: unknown field {unknown[0]!r} (allowed: "
                              f"{', '.join(FIELDS)})")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ExperimentError(f"{file}: name: expected letters, digits, '_', '-' or '.' "
                              f"(it names the results folder), got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ExperimentError(f"{file}: description: expected a string, got {description!r}")
    if "baseline" not in data:
        raise ExperimentError(f"{file}: baseline: required (a scenario file, relative to "
                              "the experiment file)")
    baseline = _read_scenario(data["baseline"], path, "baseline")
    raw_scenarios = data.get("scenarios", [])
    if not isinstance(raw_scenarios, list):
        raise ExperimentError(f"{file}: scenarios: expected a list of scenario files, got "
                              f"{raw_scenarios!r}")
    scenarios = tuple(_read_scenario(p, path, f"scenarios[{i}]")
                      for i, p in enumerate(raw_scenarios))
    sources = _unique_labels((baseline, *scenarios))
    baseline, scenarios = sources[0], tuple(sources[1:])
    seeds = _seeds(data.get("seeds", 3), file)
    years = _number(data.get("years", 10.0), file, "years", 0.0, 50.0, "years", open_lo=True)
    scale = data.get("scale")
    if scale is not None:
        scale = _number(scale, file, "scale", 0.001, 1.0,
                        "share of England's children and supply")
    outcomes = _outcomes(data.get("outcomes", []), file)
    overrides = _parameters(data.get("overrides", {}), file, "overrides", grid=False)
    grid = _parameters(data.get("grid", {}), file, "grid", grid=True)
    claims = parse_claims(data.get("claims", []), file, [s.label for s in sources])
    exp = Experiment(name, description, file, text, baseline, scenarios, seeds, years, scale,
                     outcomes, tuple(overrides.items()),
                     tuple((k, tuple(v)) for k, v in grid.items()), claims=claims)
    arms, invalid, claims = _arms(exp)
    return dataclasses.replace(exp, arms=tuple(arms), invalid=invalid, claims=claims)


def _read_scenario(given: Any, exp_path: Path, where: str) -> ScenarioSource:
    from sim.scenario import load_scenario

    file = str(exp_path)
    if not isinstance(given, str) or not given:
        raise ExperimentError(f"{file}: {where}: expected a scenario file path (relative to "
                              f"the experiment file), got {given!r}")
    path = Path(given)
    if not path.is_absolute():
        path = exp_path.parent / path
    if not path.is_file():
        raise ExperimentError(f"{file}: {where}: no such scenario file {str(path)!r} (paths "
                              "are relative to the experiment file)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenario = load_scenario(path)  # its own one-line errors name the scenario file
    return ScenarioSource(str(path), path.read_text(encoding="utf-8"), scenario.name,
                          scenario.name)


def _unique_labels(sources: tuple[ScenarioSource, ...]) -> list[ScenarioSource]:
    """Scenario names label arms; clashing names fall back to file stems, then numbers."""
    names = [s.name for s in sources]
    out = []
    for i, s in enumerate(sources):
        label = s.name if names.count(s.name) == 1 else Path(s.path).stem
        if label in [o.label for o in out]:
            label = f"{label}_{i}"
        out.append(dataclasses.replace(s, label=label))
    return out


def _seeds(value: Any, file: str) -> tuple[int, ...]:
    allowed = "a count >= 1 (seeds 1..n) or a list of distinct whole numbers >= 0"
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 10_000:
            raise ExperimentError(f"{file}: seeds: {value} is out of range; allowed {allowed}")
        return tuple(range(1, value + 1))
    if (isinstance(value, list) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
            and len(set(value)) == len(value)):
        return tuple(value)
    raise ExperimentError(f"{file}: seeds: expected {allowed}, got {value!r}")


def _number(value: Any, file: str, key: str, lo: float, hi: float, unit: str,
            open_lo: bool = False) -> float:
    bracket = "(" if open_lo else "["
    allowed = f"a number in {bracket}{lo:g}, {hi:g}] ({unit})"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExperimentError(f"{file}: {key}: expected {allowed}, got {value!r}")
    if value < lo or value > hi or (open_lo and value == lo):
        raise ExperimentError(f"{file}: {key}: {value!r} is out of range; allowed {allowed}")
    return float(value)


def _outcomes(value: Any, file: str) -> tuple[str, ...]:
    from sim.summary import known_outcomes

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ExperimentError(f"{file}: outcomes: expected a list of outcome names, got "
                              f"{value!r}")
    known = known_outcomes()
    for i, name in enumerate(value):
        if name not in known:
            raise ExperimentError(f"{file}: outcomes[{i}]: unknown outcome {name!r} "
                                  f"(allowed: {', '.join(known)})")
    return tuple(value)


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys from quoted (``"a.b" = v``) or nested (``[grid.a] b = v``) TOML."""
    from sim.scenario import GROUPS

    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        root = full.split(".")[0]
        depth = 2 if root in GROUPS else 3 if root == "policies" else 1
        if isinstance(value, dict) and len(full.split(".")) < depth:
            out.update(_flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def check_parameter(key: str, where: str) -> None:
    """A grid/override key must name a scenario parameter, top-level field or policy one."""
    from sim.policies import REGISTRY
    from sim.scenario import GROUPS, Scenario

    parts = key.split(".")
    if parts[0] in GROUPS:
        group = getattr(Scenario(), parts[0])
        names = [f.name for f in dataclasses.fields(group)]
        if len(parts) != 2 or parts[1] not in names:
            raise ExperimentError(f"{where}: unknown parameter {key!r} (allowed "
                                  f"{parts[0]}.<one of {', '.join(names)}>)")
    elif parts[0] == "policies":
        if len(parts) != 3 or parts[1] not in REGISTRY:
            raise ExperimentError(f"{where}: expected policies.<policy>.<parameter> with "
                                  f"<policy> one of {', '.join(sorted(REGISTRY))}, got {key!r}")
        allowed = ("start", "end", "enabled", *REGISTRY[parts[1]].defaults)
        if parts[2] not in allowed:
            raise ExperimentError(f"{where}: unknown parameter {parts[2]!r} for policy "
                                  f"{parts[1]} (allowed: {', '.join(allowed)})")
    elif len(parts) != 1 or key not in TOP_LEVEL_PARAMS:
        raise ExperimentError(
            f"{where}: unknown parameter {key!r} (allowed: <group>.<field> with group one of "
            f"{', '.join(GROUPS)}; policies.<policy>.<parameter>; "
            f"{', '.join(TOP_LEVEL_PARAMS)}; `sim params` lists them)")


def _parameters(table: Any, file: str, section: str, grid: bool) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ExperimentError(f"{file}: {section}: expected a table [{section}] of "
                              f"parameter = {'[values]' if grid else 'value'}")
    flat = _flatten(table)
    for key, value in flat.items():
        where = f"{file}: {section}.{key}"
        check_parameter(key, where)
        if grid and (not isinstance(value, list) or not value):
            raise ExperimentError(f"{where}: expected a non-empty list of values, got "
                                  f"{value!r}")
        if grid and len({json.dumps(v, sort_keys=True) for v in value}) != len(value):
            raise ExperimentError(f"{where}: values repeat; allowed distinct values")
    return flat


# -- arms ----------------------------------------------------------------------------------
def _scenario(source: ScenarioSource):
    from sim.scenario import scenario_from_dict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scenario_from_dict(tomllib.loads(source.text), source.path)


_MISSING = object()


def _current(scenario, key: str) -> list[Any]:
    """The scenario's present value(s) of a parameter (one per policy block for policies)."""
    from sim.policies import REGISTRY

    parts = key.split(".")
    if parts[0] == "policies":
        name, param = parts[1], parts[2]
        implicit = {"start": 0.0, "end": None, "enabled": True,
                    **REGISTRY[name].defaults} if name in REGISTRY else {}
        return [spec.params.get(param, implicit.get(param, _MISSING))
                for spec in scenario.policies if spec.name == name]
    value = scenario
    for part in parts:
        value = getattr(value, part, _MISSING)
    return [value]


def effective_overrides(scenario, overrides: dict[str, Any]) -> dict[str, Any]:
    """Only the overrides that change the scenario.

    A policy parameter for a policy the scenario lacks, or a value the scenario already
    has, changes nothing: dropping it lets equal arms share one set of runs.
    """
    out = {}
    for key, value in overrides.items():
        current = _current(scenario, key)
        same = bool(current) and all(
            _canonical(c) == _canonical(value) for c in current)
        if current and not same:
            out[key] = value
    return out


def _canonical(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = list(value)
    if isinstance(value, bool) or value is None or value is _MISSING:
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(float(value))
    return json.dumps(value, sort_keys=True, default=str)


def apply_overrides(scenario, overrides: dict[str, Any]):
    """The scenario with dotted parameters replaced; values checked as in a scenario file.

    A table-valued parameter (e.g. ``demand.starts_per_year``) is replaced as a whole.
    """
    from sim.policies import validate_policies
    from sim.scenario import PolicySpec

    plain = {k: v for k, v in overrides.items() if not k.startswith("policies.")}
    if plain:
        scenario = scenario.replace(**plain)
    policy = {k: v for k, v in overrides.items() if k.startswith("policies.")}
    if policy:
        specs = []
        for spec in scenario.policies:
            params = dict(spec.params)
            for key, value in policy.items():
                _, name, param = key.split(".", 2)
                if name == spec.name:
                    params[param] = value
            specs.append(PolicySpec(spec.name, params))
        scenario = dataclasses.replace(scenario, policies=tuple(specs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validate_policies(scenario)
    return scenario


def _label(source: ScenarioSource, point: dict[str, Any]) -> str:
    if not point:
        return source.label
    items = ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}"
                      for k, v in point.items())
    return f"{source.label} [{items}]"


def _arms(exp: Experiment) -> tuple[list[Arm], dict[str, str], tuple[Claim, ...]]:
    """Baseline as given, then every (scenario, grid point) with its reference arm.

    Arms whose effective overrides coincide (a policy parameter on a scenario without
    that policy) are one arm, so their runs are made once. Claims add the arms they need
    (their scenario as given and at their own grid points) and get their pairs.
    """
    fixed = dict(exp.overrides)
    keys = [k for k, _ in exp.grid]
    points = [dict(zip(keys, combo, strict=True))
              for combo in itertools.product(*(v for _, v in exp.grid))]
    arms: dict[tuple[str, str], Arm] = {}
    invalid: dict[str, str] = {}
    parsed = {s.label: _scenario(s) for s in (exp.baseline, *exp.scenarios)}

    def add(source: ScenarioSource, point: dict[str, Any], reference: str | None) -> Arm:
        scenario = parsed[source.label]
        point = effective_overrides(scenario, point)
        over = effective_overrides(scenario, {**fixed, **point})
        ident = (source.label, json.dumps(sorted(over.items()), default=str))
        if ident not in arms:
            label = _label(source, point)
            given = over.get("scale", scenario.scale)
            if isinstance(given, bool) or not isinstance(given, (int, float)):
                given = scenario.scale  # a bad override fails the arm's runs, named there
            scale = exp.scale if exp.scale is not None else given
            arms[ident] = Arm(label, source, tuple(sorted(over.items())),
                              tuple(point.items()), reference, float(scale))
            try:
                apply_overrides(scenario, over)
            except Exception as err:  # any failure here fails the arm's runs, not the batch
                invalid[label] = str(err).splitlines()[0] if str(err) else repr(err)
        return arms[ident]

    base = add(exp.baseline, {}, None)
    for point in points or [{}]:
        ref = add(exp.baseline, point, base.label)
        for source in exp.scenarios:
            add(source, point, ref.label)
    sources = {s.label: s for s in (exp.baseline, *exp.scenarios)}
    def current(label: str, key: str) -> list[Any]:
        return [v for v in _current(parsed[label], key) if v is not _MISSING]

    claims = tuple(dataclasses.replace(c, pairs=claim_pairs(c, add, sources, exp.baseline, base,
                                                            current)) for c in exp.claims)
    return list(arms.values()), invalid, claims
