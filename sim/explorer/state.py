"""The explorer's configuration as plain data: presets, scenarios, TOML and paired runs.

Nothing here imports Solara, so everything the page does to a configuration is tested
without a browser. An :class:`ExplorerConfig` is what the page holds: an RCC (a preset
or a list of LAs), the other policies switched on with the parameters changed in the
page, the run area, scale, years and seeds. :meth:`ExplorerConfig.check` turns it into
the configured scenario and its baseline (the same file without ``[[policies]]``),
raising the model's one-line :class:`~sim.errors.ScenarioError` for impossible values;
:meth:`ExplorerConfig.to_toml` writes a scenario file that ``sim run`` accepts and
:func:`from_toml` reads one back. :func:`run_comparison` runs both arms on the same
seeds, and :class:`Comparison` gives paired differences with 95% t-intervals.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import time
import tomllib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.errors import ScenarioError, SimInputError
from sim.geography import load_geography

RUN_START = 2019.25
"""31 March 2019, week 0 of every run: a policy starting then is on for the whole run."""
WEEKS_PER_YEAR = 52.1775
SOURCE = "explorer"
"""How the page's own configuration is named in error messages."""
MEMBERSHIP_KEYS = ("preset", "members", "members_file", "cooperative_name")
"""RCC parameters set by the cooperative chooser, not by the generic parameter widgets."""
MAX_SEEDS = 20
MAX_YEARS = 20.0
MAX_NEIGHBOURS = 30
AREAS = {
    "neighbours": "RCC members and their nearest neighbours",
    "members": "RCC members only",
    "england": "All 152 LAs (slow at scale 1)",
    "listed": "The LAs listed in the imported file",
}
_EXPLORER_LINE = re.compile(r"^#\s*explorer:\s*(.*)$", re.MULTILINE)


class ExplorerError(SimInputError):
    """Bad input in the page (no LAs chosen, unreadable seeds, …): shown as a message."""


class RunCancelled(Exception):
    """Raised from the progress callback when the user presses Cancel."""


# -- presets and LAs -------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """A ready-made cooperative: a pathfinder, one region, or one RCC per region."""

    key: str
    label: str
    members: tuple[str, ...]
    """ONS codes of every member."""
    policy_preset: str = ""
    """The rcc policy's own ``preset`` value, where it has one; else ``members`` is written."""
    cooperative_name: str = ""
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """The cooperatives (name, ONS codes): one, or nine for ``regions``."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@functools.cache
def presets() -> dict[str, Preset]:
    """The pathfinders (DfE, November 2024), one RCC for each region, and all nine."""
    from sim.data import load_national
    from sim.policies.rcc import PATHFINDER_PRESETS

    published = load_national().policies
    geo = load_geography()
    out: dict[str, Preset] = {}
    for key in PATHFINDER_PRESETS:
        codes = tuple(published.rcc_pathfinders[key])
        name = published.rcc_pathfinder_names[key]
        out[key] = Preset(key, f"{name} pathfinder ({len(codes)} LAs)", codes, key, name,
                          ((name, codes),))
    for region in geo.regions:
        codes = tuple(la.ons_code for la in geo.in_region(region))
        name = f"{region} RCC"
        out[f"region_{_slug(region)}"] = Preset(
            f"region_{_slug(region)}", f"{region} region ({len(codes)} LAs)", codes, "", name,
            ((name, codes),))
    groups = tuple((f"{r} RCC", tuple(la.ons_code for la in geo.in_region(r)))
                   for r in geo.regions)
    out["regions"] = Preset("regions", "One RCC per region: all England (9 RCCs, 152 LAs)",
                            tuple(la.ons_code for la in geo.las), "regions", "", groups)
    return out


def la_options() -> list[tuple[str, str]]:
    """Every LA as (ONS code, "Name (Region)"), by name, for the searchable list."""
    las = sorted(load_geography().las, key=lambda la: la.name)
    return [(la.ons_code, f"{la.name} ({la.region})") for la in las]


def la_code(text: str, where: str = "members") -> str:
    """The ONS code of an LA given by ONS code, DfE code or name; one-line error if unknown."""
    return load_geography().la(text, where).ons_code


@functools.cache
def _distances() -> np.ndarray:
    return load_geography().centroid_distance_matrix()


def nearest_neighbours(codes: Sequence[str], k: int) -> tuple[str, ...]:
    """The ``k`` non-member LAs whose centroids are nearest to any member's, nearest first."""
    geo = load_geography()
    idx = sorted({geo.la(c).index for c in codes})
    if k <= 0 or not idx:
        return ()
    near = _distances()[idx].min(axis=0)
    near[idx] = np.inf
    order = np.argsort(near, kind="stable")[:k]
    return tuple(geo.las[int(i)].ons_code for i in order if np.isfinite(near[int(i)]))


# -- policy parameters as widgets ------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """One policy parameter as the page shows it, read from the policy's declarations."""

    key: str
    kind: str
    """bool, int, float, choice, list, table or text."""
    default: Any
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.key.replace("_", " ")

    @property
    def hint(self) -> str:
        """Unit and allowed range, as the page prints under the field."""
        parts = [self.unit] if self.unit else []
        if self.kind in ("int", "float") and (self.lo is not None or self.hi is not None):
            lo = "-inf" if self.lo is None else f"{self.lo:g}"
            hi = "inf" if self.hi is None else f"{self.hi:g}"
            parts.append(f"allowed [{lo}, {hi}]")
        if self.kind == "list":
            parts.append("comma-separated")
        if self.kind == "table":
            parts.append("TOML inline table")
        return "; ".join(parts)


START_SPEC = ParamSpec("start", "float", RUN_START, None, None,
                       "decimal year, e.g. 2025.25 = 31 March 2025; runs start at 2019.25")


def policy_names() -> list[str]:
    """Every registered policy, the RCC first."""
    from sim.policies import REGISTRY

    return sorted(REGISTRY, key=lambda n: (n != "rcc", n))


def policy_summary(name: str) -> str:
    """The first line of a policy's docstring."""
    from sim.policies import REGISTRY

    doc = (REGISTRY[name].__doc__ or "").strip().replace("``", "")
    return doc.splitlines()[0] if doc else ""


def param_specs(name: str) -> list[ParamSpec]:
    """Widgets for one policy, generated from its ``defaults``, ``ranges`` and ``choices``."""
    from sim.policies import REGISTRY

    if name not in REGISTRY:
        raise ExplorerError(f"unknown policy {name!r} (allowed: {', '.join(policy_names())})")
    cls = REGISTRY[name]
    specs = [START_SPEC]
    for key, default in cls.defaults.items():
        if name == "rcc" and key in MEMBERSHIP_KEYS:
            continue
        lo, hi, unit = cls.ranges.get(key, (None, None, ""))
        if key in cls.choices:
            kind = "choice"
        elif isinstance(default, bool):
            kind = "bool"
        elif isinstance(default, int):
            kind = "int"
        elif isinstance(default, float):
            kind = "float"
        elif isinstance(default, (list, tuple)):
            kind = "list"
        elif isinstance(default, dict):
            kind = "table"
        else:
            kind = "text"
        specs.append(ParamSpec(key, kind, default, lo, hi, unit, tuple(cls.choices.get(key, ()))))
    return specs


def format_value(spec: ParamSpec, value: Any) -> str:
    """A list or table parameter as the text the page lets the user edit."""
    if spec.kind == "list":
        return ", ".join(str(v) for v in value)
    if spec.kind == "table":
        return toml_value(dict(value))
    return str(value)


def parse_value(spec: ParamSpec, text: str, policy: str = "") -> Any:
    """Text typed into a list or table field, as the value the policy expects."""
    where = f"{policy}.{spec.key}" if policy else spec.key
    if spec.kind == "list":
        items = [t.strip() for t in text.split(",") if t.strip()]
        numeric = bool(spec.default) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec.default)
        if not numeric:
            return items
        try:
            return [float(t) if "." in t else int(t) for t in items]
        except ValueError:
            raise ExplorerError(f"{where}: expected numbers separated by commas, got {text!r}"
                                ) from None
    if spec.kind == "table":
        try:
            value = tomllib.loads(f"value = {text.strip() or '{}'}")["value"]
        except tomllib.TOMLDecodeError as err:
            raise ExplorerError(f"{where}: not a TOML inline table such as "
                                f"{format_value(spec, spec.default)} ({err})") from None
        if not isinstance(value, dict):
            raise ExplorerError(f"{where}: expected a table such as "
                                f"{format_value(spec, spec.default)}")
        return value
    return text


def parse_number(spec: ParamSpec, text: str, policy: str = "") -> int | float:
    """Text typed into a number field; whole numbers stay whole for ``int`` parameters.

    Ranges are not checked here: the scenario check reports them with what is allowed.
    """
    where = f"{policy}.{spec.key}" if policy else spec.key
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        raise ExplorerError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ExplorerError(f"{where}: {text!r} is not a finite number")
    return int(value) if spec.kind == "int" and value.is_integer() else value


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds typed as ``1, 2, 5`` or ``1-4``."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        try:
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if hi < lo or hi - lo >= MAX_SEEDS:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ExplorerError(f"seeds: {part!r} is not a whole number >= 0 or a range such "
                                "as 1-4") from None
    return tuple(dict.fromkeys(seeds))


# -- TOML ------------------------------------------------------------------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    """One value in TOML syntax (strings, numbers, booleans, arrays, inline tables)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExplorerError(f"{value!r} cannot be written to a scenario file")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = ", ".join(f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }"
    raise ExplorerError(f"{value!r} cannot be written to a scenario file")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


# -- the configuration -----------------------------------------------------------------
@dataclass(frozen=True)
class ExplorerConfig:
    """Everything the page lets a user choose. Immutable: the page swaps whole configs."""

    name: str = "rcc_explorer"
    description: str = "A Regional Care Cooperative configuration made in the RCC explorer."
    preset: str = "greater_manchester"
    """A key of :func:`presets`, or ``""`` for the LAs in :attr:`members`."""
    members: tuple[str, ...] = ()
    cooperative_name: str = ""
    enabled: tuple[str, ...] = ("rcc",)
    """Policies switched on (``rcc`` is the cooperative)."""
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Parameters set in the page, per policy (kept while a policy is switched off)."""
    area: str = "neighbours"
    neighbours: int = 3
    listed_las: tuple[str, ...] = ()
    scale: float = 1.0
    years: float = 2.0
    seeds: tuple[int, ...] = (1, 2)
    overrides: dict[str, Any] = field(default_factory=dict)
    """Scenario fields and parameter groups kept from an imported file, written back out."""

    # -- edits ------------------------------------------------------------------------
    def replace(self, **changes: Any) -> ExplorerConfig:
        return dataclasses.replace(self, **changes)

    def switch(self, policy: str, on: bool) -> ExplorerConfig:
        """Switch a policy on or off (its parameters are kept)."""
        names = [n for n in self.enabled if n != policy] + ([policy] if on else [])
        order = policy_names()
        return self.replace(enabled=tuple(sorted(names, key=order.index)))

    def set_param(self, policy: str, key: str, value: Any) -> ExplorerConfig:
        params = {**self.policies.get(policy, {}), key: value}
        return self.replace(policies={**self.policies, policy: params})

    def toggle_member(self, code: str) -> ExplorerConfig:
        """Add an LA to the chosen members, or take it out if it is there (a map click)."""
        code = la_code(code, "map click")
        if code in self.members:
            return self.replace(members=tuple(c for c in self.members if c != code))
        return self.replace(members=(*self.members, code))

    def param(self, policy: str, key: str) -> Any:
        """A parameter's value in the page: set there, else the policy's default."""
        from sim.policies import REGISTRY

        params = self.policies.get(policy, {})
        if key in params:
            return params[key]
        if key == "start":
            return RUN_START
        return REGISTRY[policy].defaults[key]

    # -- membership and area ------------------------------------------------------------
    @property
    def rcc_on(self) -> bool:
        return "rcc" in self.enabled

    def member_codes(self) -> tuple[str, ...]:
        """ONS codes of the cooperative's members (a preset's or the chosen LAs)."""
        if self.preset:
            if self.preset not in presets():
                raise ExplorerError(f"RCC preset {self.preset!r} is unknown (allowed: "
                                    f"{', '.join(presets())})")
            return presets()[self.preset].members
        if not self.members:
            raise ExplorerError("RCC members: no LAs chosen; pick at least one LA from the "
                                "list, or choose a preset")
        return tuple(dict.fromkeys(la_code(c, f"{SOURCE}: RCC members") for c in self.members))

    def cooperatives(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(name, ONS codes) of each cooperative, for outlines on the map."""
        if self.preset:
            return presets()[self.preset].groups if self.preset in presets() else ()
        return ((self.cooperative_name or "Custom RCC", self.member_codes()),)

    def run_las(self) -> tuple[str, ...]:
        """The scenario's ``only_las``: empty means all of England."""
        if self.area == "england":
            return ()
        if self.area == "listed":
            if not self.listed_las:
                raise ExplorerError("run area: the imported file lists no LAs; choose another "
                                    "run area")
            return tuple(la_code(c, f"{SOURCE}: only_las") for c in self.listed_las)
        if self.area not in AREAS:
            raise ExplorerError(f"run area {self.area!r} is unknown (allowed: "
                                f"{', '.join(AREAS)})")
        members = self.member_codes()
        if self.area == "members":
            return members
        if not 0 <= self.neighbours <= MAX_NEIGHBOURS:
            raise ExplorerError(f"neighbours: {self.neighbours} is out of range; allowed "
                                f"[0, {MAX_NEIGHBOURS}]")
        las = members + nearest_neighbours(members, self.neighbours)
        return () if len(las) == len(load_geography().las) else las

    # -- scenarios --------------------------------------------------------------------
    def membership(self) -> dict[str, Any]:
        """The rcc block's membership fields: a preset the policy knows, or a members list."""
        codes = self.member_codes()
        if self.preset:
            preset = presets()[self.preset]
            if preset.policy_preset:
                return {"preset": preset.policy_preset}
            return {"members": list(codes), "cooperative_name": preset.cooperative_name}
        out: dict[str, Any] = {"members": list(codes)}
        if self.cooperative_name.strip():
            out["cooperative_name"] = self.cooperative_name.strip()
        return out

    def policy_entries(self) -> list[dict[str, Any]]:
        """The ``[[policies]]`` tables: every switched-on policy with its start and changes."""
        entries = []
        for name in self.enabled:
            entry: dict[str, Any] = {"name": name}
            if name == "rcc":
                entry.update(self.membership())
            params = dict(self.policies.get(name, {}))
            entry["start"] = params.pop("start", RUN_START)
            entry.update(params)
            entries.append(entry)
        return entries

    def scenario_dict(self, policies: bool = True) -> dict[str, Any]:
        """Plain data for :func:`sim.scenario.scenario_from_dict` (the baseline without
        ``policies``)."""
        data: dict[str, Any] = {"name": self.name, "description": self.description,
                                "scale": self.scale}
        for key, value in self.overrides.items():
            data[key] = dict(value) if isinstance(value, dict) else value
        las = self.run_las()
        if las:
            data["only_las"] = list(las)
        entries = self.policy_entries() if policies else []
        if entries:
            data["policies"] = entries
        if not policies:
            data["name"] = f"{self.name}_baseline"
            data["description"] = "Baseline for the explorer's configuration: no policies."
        return data

    def check(self) -> tuple[Any, Any, list[str]]:
        """(configured scenario, baseline, notes): every value checked as ``sim run`` would.

        Raises :class:`ExplorerError` or :class:`ScenarioError` with one line saying what
        is wrong and what is allowed.
        """
        from sim.scenario import scenario_from_dict

        if not self.seeds:
            raise ExplorerError("seeds: none given; allowed whole numbers >= 0 such as 1, 2")
        if len(self.seeds) > MAX_SEEDS:
            raise ExplorerError(f"seeds: {len(self.seeds)} given; allowed at most {MAX_SEEDS}")
        if any(s < 0 for s in self.seeds):
            raise ExplorerError("seeds: negative seed; allowed whole numbers >= 0")
        if isinstance(self.years, bool) or not 0 < self.years <= MAX_YEARS:
            raise ExplorerError(f"years: {self.years!r} is out of range; allowed "
                                f"(0, {MAX_YEARS:g}] years")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = self.scenario_dict()
            try:
                scenario = scenario_from_dict(data, SOURCE)
                baseline = scenario_from_dict(self.scenario_dict(policies=False), SOURCE)
            except ScenarioError as err:
                raise ScenarioError(_name_policies(str(err), data)) from None
        notes = list(dict.fromkeys(_name_policies(str(w.message), data) for w in caught))
        return scenario, baseline, notes

    def to_toml(self) -> str:
        """A scenario file ``sim run`` accepts; :func:`from_toml` reads it back."""
        self.check()
        data = self.scenario_dict()
        n_members = len(self.member_codes())
        seeds = ", ".join(str(s) for s in self.seeds)
        lines = [
            f"# RCC explorer configuration, written by `sim explore` (care-market-sim "
            f"{__version__}).",
            f"# Run it with `sim run <this file> --years {self.years:g} --seed "
            f"{self.seeds[0]}`; the page compared it",
            f"# on seeds {seeds} with its baseline (the same file without [[policies]]).",
            f"# explorer: years = {self.years:g}; seeds = {seeds}; area = {self.area}; "
            f"neighbours = {self.neighbours}",
        ]
        for key in ("name", "description", "scale"):
            lines.append(f"{key} = {toml_value(data[key])}")
        tables = {k: v for k, v in data.items() if k in self.overrides and isinstance(v, dict)}
        for key, value in data.items():
            if key in ("name", "description", "scale", "only_las", "policies") or key in tables:
                continue
            lines.append(f"{key} = {toml_value(value)}")
        if "only_las" in data:
            area = {"neighbours": f"the {n_members} RCC members and their "
                    f"{self.neighbours} nearest neighbouring LAs",
                    "members": f"the {n_members} RCC members",
                    "listed": "as imported"}.get(self.area, "")
            lines.append(f"# Run area: {area} (without only_las: all 152 LAs).")
            lines.append(f"only_las = {toml_value(data['only_las'])}")
        for group, values in tables.items():
            lines += ["", f"[{group}]"]
            lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in values.items()]
        for entry in data.get("policies", []):
            lines += ["", "[[policies]]"]
            specs = {s.key: s for s in param_specs(entry["name"])}
            for key, value in entry.items():
                spec = specs.get(key)
                if spec is not None and key != "start" and _same(value, spec.default):
                    continue  # defaults are the policy's own: written only when changed
                note = f"  # {spec.hint}" if spec is not None and spec.hint else ""
                lines.append(f"{_toml_key(key)} = {toml_value(value)}{note}")
        return "\n".join(lines) + "\n"


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same kind (``True`` is not ``1``; ``2`` is ``2.0``)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _name_policies(message: str, data: dict[str, Any]) -> str:
    """``explorer: policies[1].x`` -> ``explorer: policies[1] (profit_cap).x``."""
    names = [p.get("name", "?") for p in data.get("policies", [])]

    def label(m: re.Match) -> str:
        i = int(m.group(1))
        return f"{m.group(0)} ({names[i]})" if i < len(names) else m.group(0)

    return re.sub(r"policies\[(\d+)\]", label, message)


def from_toml(text: str, file: str = "pasted TOML") -> tuple[ExplorerConfig, list[str]]:
    """Read a scenario file into a configuration; notes say what the page could not keep.

    The file is first checked exactly as ``sim run`` checks it, so a bad file gives the
    same one-line :class:`ScenarioError`.
    """
    from sim.scenario import scenario_from_dict

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{file}: not valid TOML ({err})") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario_from_dict(data, file)
    notes = [str(w.message) for w in caught]
    meta = _explorer_meta(text)
    config = ExplorerConfig(enabled=())
    changes: dict[str, Any] = {
        "name": data.get("name", "imported"),
        "description": data.get("description", ""),
        "scale": float(data.get("scale", 1.0)),
        "overrides": {k: v for k, v in data.items()
                      if k not in ("name", "description", "scale", "only_las", "policies")},
    }
    enabled: list[str] = []
    params: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(data.get("policies", [])):
        name = entry["name"]
        where = f"{file}: policies[{i}] ({name})"
        values = {k: v for k, v in entry.items() if k != "name"}
        on = values.pop("enabled", True)
        if name in params:
            notes.append(f"{where}: the page edits one {name} block; this one was left out")
            continue
        if name == "rcc":
            membership = {k: values.pop(k) for k in MEMBERSHIP_KEYS if k in values}
            changes.update(_membership_from(membership, where))
        params[name] = values
        if on:
            enabled.append(name)
        else:
            notes.append(f"{where}: switched off in the file (enabled = false)")
    changes["policies"] = params
    changes["enabled"] = tuple(n for n in policy_names() if n in enabled)
    config = config.replace(**changes)
    if "years" in meta:
        config = config.replace(years=_meta_number(meta["years"], "years", file))
    if "seeds" in meta:
        config = config.replace(seeds=parse_seeds(meta["seeds"]))
    return config.replace(**_area_from(config, data.get("only_las", []))), notes


def _membership_from(membership: dict[str, Any], where: str) -> dict[str, Any]:
    if "members_file" in membership:
        raise ExplorerError(f"{where}.members_file: the page cannot read grouping files; "
                            "list the LAs in members instead")
    name = str(membership.get("cooperative_name", ""))
    if "members" in membership:
        codes = tuple(la_code(c, f"{where}.members") for c in membership["members"])
        for preset in presets().values():
            if (not preset.policy_preset and set(codes) == set(preset.members)
                    and name == preset.cooperative_name):
                return {"preset": preset.key, "members": (), "cooperative_name": ""}
        return {"preset": "", "members": codes, "cooperative_name": name}
    from sim.policies import REGISTRY

    preset = membership.get("preset", REGISTRY["rcc"].defaults["preset"])
    return {"preset": preset, "members": (), "cooperative_name": name}


def _area_from(config: ExplorerConfig, only_las: list[str]) -> dict[str, Any]:
    """The run area that gives the file's ``only_las``: members, neighbours or listed."""
    if not only_las:
        return {"area": "england", "listed_las": ()}
    wanted = {la_code(c, "only_las") for c in only_las}
    try:
        members = config.member_codes()
    except ExplorerError:
        members = ()
    if members:
        for k in range(MAX_NEIGHBOURS + 1):
            las = set(members) | set(nearest_neighbours(members, k))
            if las == wanted:
                return {"area": "members" if k == 0 else "neighbours",
                        "neighbours": k or config.neighbours, "listed_las": ()}
            if len(las) > len(wanted):
                break
    return {"area": "listed", "listed_las": tuple(la_code(c, "only_las") for c in only_las)}


def _explorer_meta(text: str) -> dict[str, str]:
    """``# explorer: years = 2; seeds = 1, 2`` -> {"years": "2", "seeds": "1, 2"}."""
    m = _EXPLORER_LINE.search(text)
    if not m:
        return {}
    out = {}
    for part in m.group(1).split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            out[key.strip()] = value.strip()
    return out


def _meta_number(text: str, key: str, file: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ExplorerError(f"{file}: explorer line: {key} = {text!r} is not a number") from None


# -- runs ------------------------------------------------------------------------------
ARMS = ("baseline", "configuration")
SERIES = {
    "sufficiency": ("Sufficiency", "% in the kind of home needs call for", 100.0),
    "share_far_20_miles": ("Placed > 20 miles from home", "% of children placed", 100.0),
    "total_spend": ("Weekly spend", "£k/week (placements and policy)", 1e-3),
    "emergency": ("Emergency placements", "children", 1.0),
}
OUTCOMES = (
    # key, label, unit
    ("sufficiency", "Sufficiency: in the kind of home needs call for", "%"),
    ("far", "Placed > 20 miles from home", "%"),
    ("outside_la", "Placed outside own LA", "%"),
    ("outside_rcc", "Placed outside their cooperative", "%"),
    ("distance", "Mean distance from home", "miles"),
    ("emergency", "Emergency/unregistered placements", "children"),
    ("cost", "Weekly spend per child in care", "£/week"),
    ("children", "Children in care", "children"),
    ("spend_run", "Spend over the run (placements and policy)", "£m"),
)
LA_METRICS = {
    "sufficiency": ("Sufficiency", "%"),
    "distance": ("Mean distance from home", "miles"),
    "far": ("Placed > 20 miles from home", "%"),
    "cost": ("Weekly spend per child in care", "£/week"),
}


@dataclass
class ArmRun:
    """What the page keeps from one model run (the model itself is dropped)."""

    arm: str
    seed: int
    national: pd.DataFrame
    """Weekly series of the run area: ``year`` and the :data:`SERIES` columns."""
    las: pd.DataFrame
    """One row per LA at the last snapshot: counts from which every ratio is taken."""
    flows: pd.DataFrame
    """Children at the end by home LA and the LA their placement is in (``home``,
    ``placed``, ``children``)."""
    spend_run: float
    seconds: float


def _extract(model: Any, result: Any, arm: str, seed: int, seconds: float) -> ArmRun:
    nat = result.national
    cols = ["year", *[c for c in SERIES if c in nat.columns]]
    by_la = result.by_la
    last = by_la[by_la["week"] == by_la["week"].max()].copy()
    cic = last["children_in_care"].astype(float)
    placed = cic - last.get("n_with_parents", 0) - last.get("n_adoption", 0)
    las = pd.DataFrame({
        "la": last["la"].to_numpy(),
        "la_name": last["la_name"].to_numpy(),
        "children": cic.to_numpy(),
        "placed": placed.to_numpy(dtype=float),
        "well": last["well_placed"].to_numpy(dtype=float),
        "far": last["far_20_miles"].to_numpy(dtype=float),
        "outside_la": last["outside_la"].to_numpy(dtype=float),
        "distance_sum": (last["mean_distance_miles"] * cic).to_numpy(dtype=float),
        "emergency": last["emergency"].to_numpy(dtype=float),
        "spend": (last["weekly_spend"] + last.get("policy_spend", 0.0)).to_numpy(dtype=float),
    })
    counts: dict[tuple[int, int], int] = {}
    for child in model.children.values():
        setting = child.setting
        if setting is not None:
            key = (child.la, setting.location_la)
            counts[key] = counts.get(key, 0) + 1
    codes = [la.ons_code for la in model.geography.las]
    flows = pd.DataFrame([(codes[a], codes[b], n) for (a, b), n in counts.items()],
                         columns=["home", "placed", "children"])
    spend_col = "total_spend" if "total_spend" in nat.columns else "weekly_spend"
    spend_run = float(nat[spend_col].iloc[1:].sum())
    return ArmRun(arm, seed, nat[cols].copy(), las, flows, spend_run, seconds)


@dataclass
class Comparison:
    """The configuration against its baseline on the same seeds."""

    config: ExplorerConfig
    runs: list[ArmRun]
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(r.seed for r in self.runs))

    @functools.cached_property
    def members(self) -> tuple[str, ...]:
        return self.config.member_codes()

    @functools.cached_property
    def area(self) -> tuple[str, ...]:
        return tuple(self.runs[0].las["la"]) if self.runs else ()

    @functools.cached_property
    def coop_of(self) -> dict[str, int]:
        return {c: k for k, (_, codes) in enumerate(self.config.cooperatives()) for c in codes}

    def arm(self, arm: str) -> list[ArmRun]:
        return [r for r in self.runs if r.arm == arm]

    # -- outcomes ---------------------------------------------------------------------
    def outcomes(self, run: ArmRun, group: str) -> dict[str, float]:
        """Headline outcomes of one run for ``members`` or the whole run ``area``."""
        las = run.las
        if group == "members":
            las = las[las["la"].isin(self.members)]
        t = las.sum(numeric_only=True)
        placed = max(float(t["placed"]), 1.0)
        out = {
            "sufficiency": 100 * t["well"] / max(float(t["children"]), 1.0),
            "far": 100 * t["far"] / placed,
            "outside_la": 100 * t["outside_la"] / placed,
            "distance": t["distance_sum"] / placed,
            "emergency": float(t["emergency"]),
            "cost": t["spend"] / max(float(t["children"]), 1.0),
            "children": float(t["children"]),
        }
        if group == "members":
            f = run.flows
            coop = self.coop_of
            mine = f[f["home"].isin(self.members)]
            away = mine[[coop.get(h, -1) != coop.get(p, -2)
                         for h, p in zip(mine["home"], mine["placed"], strict=True)]]
            out["outside_rcc"] = 100 * away["children"].sum() / max(mine["children"].sum(), 1)
        else:
            out["spend_run"] = run.spend_run / 1e6
        return {k: float(v) for k, v in out.items()}

    def summary(self) -> pd.DataFrame:
        """Per outcome and group: baseline and configuration means over seeds, and the
        paired difference (configuration - baseline) with its 95% t-interval."""
        from scipy import stats

        base = {r.seed: r for r in self.arm("baseline")}
        conf = {r.seed: r for r in self.arm("configuration")}
        seeds = [s for s in self.seeds if s in base and s in conf]
        rows = []
        groups = (("members", "RCC members"), ("area", "Run area"))
        for group, group_label in groups:
            b_all = [self.outcomes(base[s], group) for s in seeds]
            c_all = [self.outcomes(conf[s], group) for s in seeds]
            for key, label, unit in OUTCOMES:
                if not seeds or key not in b_all[0]:
                    continue
                b = np.array([o[key] for o in b_all])
                c = np.array([o[key] for o in c_all])
                d = c - b
                n = len(d)
                half = (float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n))
                        if n > 1 else math.nan)
                mean = float(d.mean())
                rows.append({"group": group_label, "outcome": label, "unit": unit,
                             "baseline": float(b.mean()), "configuration": float(c.mean()),
                             "difference": mean, "ci_low": mean - half, "ci_high": mean + half,
                             "seeds": n})
        return pd.DataFrame(rows)

    def la_metrics(self, arm: str) -> pd.DataFrame:
        """Per LA, means over seeds of :data:`LA_METRICS` (for the map)."""
        frames = []
        for run in self.arm(arm):
            las = run.las
            placed = las["placed"].clip(lower=1)
            frames.append(pd.DataFrame({
                "la": las["la"], "la_name": las["la_name"],
                "sufficiency": 100 * las["well"] / las["children"].clip(lower=1),
                "distance": las["distance_sum"] / placed,
                "far": 100 * las["far"] / placed,
                "cost": las["spend"] / las["children"].clip(lower=1),
            }))
        if not frames:
            return pd.DataFrame(columns=["la", "la_name", *LA_METRICS])
        return pd.concat(frames).groupby(["la", "la_name"], as_index=False).mean()

    def la_difference(self) -> pd.DataFrame:
        """Per LA, configuration minus baseline of every map metric (means over seeds)."""
        b = self.la_metrics("baseline").set_index(["la", "la_name"])
        c = self.la_metrics("configuration").set_index(["la", "la_name"])
        return (c - b).reset_index()

    def series(self, column: str) -> dict[str, pd.DataFrame]:
        """Per arm: ``year``, ``mean``, ``lo`` and ``hi`` (range over seeds) of a series."""
        scale = SERIES[column][2]
        out = {}
        for arm in ARMS:
            runs = self.arm(arm)
            if not runs or column not in runs[0].national:
                continue
            values = np.array([r.national[column].to_numpy(dtype=float) for r in runs]) * scale
            out[arm] = pd.DataFrame({"year": runs[0].national["year"].to_numpy(),
                                     "mean": values.mean(axis=0), "lo": values.min(axis=0),
                                     "hi": values.max(axis=0)})
        return out

    def flows(self, arm: str) -> pd.DataFrame:
        """Children placed outside their own LA at the end, by (home, placed), mean over
        seeds, largest first."""
        runs = self.arm(arm)
        if not runs:
            return pd.DataFrame(columns=["home", "placed", "children"])
        f = pd.concat([r.flows for r in runs])
        f = f[f["home"] != f["placed"]]
        f = f.groupby(["home", "placed"], as_index=False)["children"].sum()
        f["children"] = f["children"] / len(runs)
        return f.sort_values("children", ascending=False, ignore_index=True)

    @property
    def policy_start(self) -> float:
        """The earliest start of the configuration's policies (a line on the charts)."""
        starts = [float(e.get("start", RUN_START)) for e in self.config.policy_entries()]
        return min(starts) if starts else RUN_START


ProgressFn = Callable[[float, str], None]


def run_comparison(config: ExplorerConfig, progress: ProgressFn | None = None,
                   cancelled: Callable[[], bool] | None = None) -> Comparison:
    """Run the baseline and the configuration on every seed, one after another.

    ``progress(fraction, message)`` is called every model week; when ``cancelled()``
    turns true, the model's progress callback raises :class:`RunCancelled`, which
    stops the run within a week.
    """
    from sim.model import CareMarketModel

    scenario, baseline, notes = config.check()
    weeks = round(config.years * WEEKS_PER_YEAR)
    jobs = [(seed, arm, sc) for seed in config.seeds
            for arm, sc in (("baseline", baseline), ("configuration", scenario))]
    total = max(weeks * len(jobs), 1)
    started = time.perf_counter()

    def report(done: int, message: str) -> None:
        if cancelled is not None and cancelled():
            raise RunCancelled("run cancelled")
        if progress is not None:
            progress(min(done / total, 1.0), message)

    runs = []
    for j, (seed, arm, sc) in enumerate(jobs):
        label = f"{arm}, seed {seed} (run {j + 1} of {len(jobs)})"
        report(j * weeks, f"building the market: {label}")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # already reported as notes by check()
            model = CareMarketModel(sc, seed=seed)

            def tick(k: int, n: int, base: int = j * weeks, label: str = label) -> None:
                report(base + k, f"running {label}: week {k} of {n}")

            result = model.run(years=config.years, progress=tick)
        runs.append(_extract(model, result, arm, seed, time.perf_counter() - t0))
        del model, result
    report(total, "done")
    return Comparison(config, runs, notes, time.perf_counter() - started)
