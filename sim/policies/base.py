"""The policy interface: a reform that switches on at a date and changes the market.

Like Covasim's interventions, a policy has ``initialize`` (once, after the model is
built), ``apply`` (every week) and ``finalize`` (after the run). Policies change state
they own or set agent hooks (a LA's foster pool, the market's price hooks, the
pipeline's levers); they never mutate the frozen scenario.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sim.errors import ScenarioError

if TYPE_CHECKING:
    from sim.model import CareMarketModel

WEEKS_PER_YEAR = 52.1775


class Policy:
    """Base class: subclasses declare ``name`` and ``defaults`` and override the hooks."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, start: float = 0.0, end: float | None = None, **params: Any) -> None:
        self.start = float(start)
        self.end = None if end is None else float(end)
        self.params = {**self.defaults, **params}
        self.active = False

    def week_of(self, model: CareMarketModel, when: float) -> int:
        """Model week of a calendar year (e.g. 2023.5 = end of September 2023)."""
        return round((when - model.scenario.start_year - 0.25) * WEEKS_PER_YEAR)

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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "start": self.start}
        if self.end is not None:
            out["end"] = self.end
        return {**out, **self.params}


REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator: make a policy available to scenario files by its name."""
    REGISTRY[cls.name] = cls
    return cls


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
    for key, value in (("start", start), ("end", end)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ScenarioError(f"{where}.{key}: expected a year such as 2025.25, got {value!r}")
    if end is not None and end <= start:
        raise ScenarioError(f"{where}.end: {end} is not after start {start}")
    unknown = set(params) - set(cls.defaults)
    if unknown:
        raise ScenarioError(
            f"{where}.{sorted(unknown)[0]}: unknown parameter for {name} "
            f"(allowed: start, end, {', '.join(cls.defaults)})")
    return cls(start=start, end=end, **params)
