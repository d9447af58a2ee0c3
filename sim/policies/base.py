"""The policy interface: a reform that switches on at a date and changes the market.

Like Covasim's interventions, a policy has ``initialize`` (once, after the model is
built), ``apply`` (every week) and ``finalize`` (after the run). Policies change state
they own or set agent hooks (a LA's foster pool, the market's price hooks, the
pipeline's levers); they never mutate the frozen scenario.

Parameters are data, like a PolicyEngine reform: a scenario's ``[[policies]]`` entry
names the policy and sets any of its ``defaults``; :func:`policy_from_spec` checks
every value against its declared range and type and raises a one-line
:class:`ScenarioError` naming the file, the field and what is allowed.

Each policy draws random numbers only from its own generator (:attr:`Policy.rng`),
seeded from the run's seed and the policy's name, so adding a policy never shifts the
draws of the market or of another policy (paired comparisons stay paired).
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.errors import ScenarioError

if TYPE_CHECKING:
    from sim.model import CareMarketModel

WEEKS_PER_YEAR = 52.1775
START_YEAR_OFFSET = 0.25  # the model starts on 31 March: 2019.25 is week 0 for 2019


class Policy:
    """Base class: subclasses declare ``name``, ``defaults`` and ``ranges``.

    ``defaults`` maps each parameter to its default (whose type fixes the allowed
    type); ``ranges`` maps numeric parameters to ``(lo, hi, unit)``; ``choices`` maps
    string parameters to their allowed values. Subclasses override the hooks and may
    add checks in :meth:`validate`.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {}
    choices: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, start: float = 0.0, end: float | None = None, enabled: bool = True,
                 **params: Any) -> None:
        self.start = float(start)
        self.end = None if end is None else float(end)
        self.enabled = bool(enabled)
        self.params = {**self.defaults, **params}
        self.active = False
        self.rng: np.random.Generator = np.random.default_rng(0)

    def __getattr__(self, key: str) -> Any:
        # Parameters read as attributes (``self.budget_gbp``); only called for misses.
        params = self.__dict__.get("params")
        if params is not None and key in params:
            return params[key]
        raise AttributeError(key)

    def validate(self, where: str, model_geography=None) -> None:
        """Extra checks beyond type and range (e.g. LA codes); raise ScenarioError."""

    def bind(self, model: CareMarketModel, index: int) -> None:
        """Give the policy its own random stream (seed, policy name and position)."""
        seq = np.random.SeedSequence([int(model.seed), zlib.crc32(self.name.encode()), index])
        self.rng = np.random.default_rng(seq)

    def week_of(self, model: CareMarketModel, when: float) -> int:
        """Model week of a calendar year (e.g. 2023.5 = end of June 2023)."""
        return round((when - model.scenario.start_year - START_YEAR_OFFSET) * WEEKS_PER_YEAR)

    def initialize(self, model: CareMarketModel) -> None:
        """Called once after the market is built."""

    def apply(self, model: CareMarketModel) -> None:
        """Called every week; switches the policy on and off at its dates."""
        week = model.week
        on = week >= self.week_of(model, self.start) and (
            self.end is None or week < self.week_of(model, self.end))
        if on and not self.active:
            self.active = True
            self.switch_on(model)
        elif not on and self.active:
            self.active = False
            self.switch_off(model)
        if self.active:
            self.weekly(model)

    def switch_on(self, model: CareMarketModel) -> None:
        """The policy starts."""

    def switch_off(self, model: CareMarketModel) -> None:
        """The policy ends."""

    def weekly(self, model: CareMarketModel) -> None:
        """Weekly effect while active."""

    def finalize(self, model: CareMarketModel) -> None:
        """Called once after the run."""

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        """Tables or figures the policy adds to the run's results (name -> DataFrame)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "start": self.start}
        if self.end is not None:
            out["end"] = self.end
        if not self.enabled:
            out["enabled"] = False
        return {**out, **self.params}


REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy available to scenario files by its name."""
    REGISTRY[cls.name] = cls
    return cls


def _describe(cls: type[Policy], key: str) -> str:
    default = cls.defaults[key]
    if key in cls.choices:
        return "one of " + ", ".join(repr(c) for c in cls.choices[key])
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, (int, float)):
        lo, hi, unit = cls.ranges.get(key, (None, None, ""))
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        kind = "a whole number" if isinstance(default, int) else "a number"
        return f"{kind} in [{lo_s}, {hi_s}]" + (f" ({unit})" if unit else "")
    if isinstance(default, str):
        return "a string"
    if isinstance(default, (list, tuple)):
        return "a list"
    if isinstance(default, dict):
        return "a table"
    return type(default).__name__


def check_param(cls: type[Policy], key: str, value: Any, where: str) -> Any:
    """Check one parameter against its default's type and its declared range."""
    default = cls.defaults[key]
    allowed = _describe(cls, key)
    field = f"{where}.{key}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ScenarioError(f"{field}: expected {allowed}, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and math.isnan(value)):
            raise ScenarioError(f"{field}: expected {allowed}, got {value!r}")
        if isinstance(default, int) and not float(value).is_integer():
            raise ScenarioError(f"{field}: expected {allowed}, got {value!r}")
        lo, hi, _ = cls.ranges.get(key, (None, None, ""))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ScenarioError(f"{field}: {value!r} is out of range; allowed {allowed}")
        return type(default)(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ScenarioError(f"{field}: expected {allowed}, got {value!r}")
        if key in cls.choices and value not in cls.choices[key]:
            raise ScenarioError(f"{field}: unknown value {value!r}; allowed {allowed}")
        return value
    if isinstance(default, (list, tuple)):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ScenarioError(f"{field}: expected {allowed}, got {value!r}")
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ScenarioError(f"{field}: expected {allowed}, got {value!r}")
        return dict(value)
    return value


def policy_from_spec(name: str, params: dict[str, Any], file: str, index: int) -> Policy:
    """Build a policy from a scenario's ``[[policies]]`` entry, checking every field."""
    where = f"{file}: policies[{index}]"
    if name not in REGISTRY:
        allowed = ", ".join(sorted(REGISTRY)) or "(none registered)"
        raise ScenarioError(f"{where}.name: unknown policy {name!r} (allowed: {allowed})")
    cls = REGISTRY[name]
    params = dict(params)
    start = params.pop("start", 0.0)
    end = params.pop("end", None)
    enabled = params.pop("enabled", True)
    for key, value in (("start", start), ("end", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or (not 1900 <= value <= 2200 and value != 0.0)):
            raise ScenarioError(
                f"{where}.{key}: expected a year such as 2025.25 (31 March 2025), got {value!r}")
    if end is not None and end <= start:
        raise ScenarioError(f"{where}.end: {end} is not after start {start}; allowed a later year")
    if not isinstance(enabled, bool):
        raise ScenarioError(f"{where}.enabled: expected true or false, got {enabled!r}")
    unknown = set(params) - set(cls.defaults)
    if unknown:
        raise ScenarioError(
            f"{where}.{sorted(unknown)[0]}: unknown parameter for {name} "
            f"(allowed: start, end, enabled, {', '.join(cls.defaults)})")
    checked = {key: check_param(cls, key, value, where) for key, value in params.items()}
    policy = cls(start=start, end=end, enabled=enabled, **checked)
    policy.validate(where)
    return policy
