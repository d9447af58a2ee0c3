"""Bookkeeping shared by policies that scale model hooks and pay running costs.

Policies compose: two may scale the same multiplier or the same pipeline lever, so each
applies its own factor and divides it out again when it ends, instead of saving and
restoring a value (which would undo another policy's change). Each policy also keeps
its own share of ``model.outcomes.policy_spend`` so it can withdraw exactly that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.errors import ScenarioError

if TYPE_CHECKING:
    from sim.model import CareMarketModel
    from sim.recruitment import PipelineLevers

WEEKS_PER_YEAR = 52.1775
_NEUTRAL_TOLERANCE = 1e-12


def snap(value: float) -> float:
    """1.0 exactly when a multiplier is back at 1 up to rounding (keeps undo clean)."""
    return 1.0 if abs(value - 1.0) < _NEUTRAL_TOLERANCE else value


def snap_array(values: np.ndarray) -> None:
    """In place: entries back at 1 up to rounding become exactly 1."""
    values[np.abs(values - 1.0) < _NEUTRAL_TOLERANCE] = 1.0


class SpendLedger:
    """One policy's weekly running cost per LA, added to ``outcomes.policy_spend``."""

    def __init__(self) -> None:
        self.weekly: np.ndarray | None = None

    def set(self, model: CareMarketModel, weekly: np.ndarray) -> None:
        """Replace this policy's weekly spend (pounds/week per LA)."""
        old = self.weekly if self.weekly is not None else np.zeros_like(weekly)
        model.outcomes.policy_spend += weekly - old
        self.weekly = np.array(weekly, dtype=float)

    def add(self, model: CareMarketModel, la: int, amount: float) -> None:
        """Change one LA's weekly spend by ``amount``."""
        if self.weekly is None:
            self.weekly = np.zeros(len(model.outcomes.policy_spend))
        self.weekly[la] += amount
        model.outcomes.policy_spend[la] += amount

    def clear(self, model: CareMarketModel) -> None:
        if self.weekly is not None:
            spend = model.outcomes.policy_spend
            spend -= self.weekly
            spend[np.abs(spend) < 1e-6] = 0.0  # rounding left by adding and taking back
            self.weekly = None


def combine_in_house(levers: PipelineLevers, region: str, effects: dict[str, float],
                     undo: bool = False) -> None:
    """Apply (or take back) regional in-house lever effects, composing with others'.

    Multiplicative levers multiply and divide; ``targeted_*`` shares add and subtract.
    Entries back at their neutral value are removed, so an undone region leaves the
    levers as they were.
    """
    table = levers.in_house_by_region.setdefault(region, {})
    for lever, value in effects.items():
        additive = lever.startswith("targeted_")
        neutral = 0.0 if additive else 1.0
        current = table.get(lever, neutral)
        if additive:
            new = current - value if undo else current + value
            if abs(new) < _NEUTRAL_TOLERANCE:
                new = 0.0
        else:
            new = snap(current / value if undo else current * value)
        if new == neutral:
            table.pop(lever, None)
        else:
            table[lever] = new
    if not table:
        levers.in_house_by_region.pop(region, None)


def region_members(model: CareMarketModel) -> dict[str, list[int]]:
    """The run's active LAs by region."""
    out: dict[str, list[int]] = {}
    for i in model.active_las:
        out.setdefault(model.geography.las[i].region, []).append(i)
    return out


def england_weights(model: CareMarketModel, key: str = "foster_demand") -> np.ndarray:
    """Each active LA's share of England's total of an LA-table column (e.g. fostered
    children), so a national budget is shared fairly in a run on a subset of LAs."""
    column = np.asarray(model.la_table[key], dtype=float)
    share_key = {"foster_demand": "foster", "residential_demand": "residential",
                 "child_pop": "child_pop"}.get(key, "foster")
    total_active = column.sum()
    if total_active <= 0:
        return np.zeros_like(column)
    return column / (total_active / model.share[share_key])


def check_la_codes(codes: list, where: str) -> list[int]:
    """LA indices for codes or names, raising a one-line error naming the bad one."""
    from sim.geography import load_geography

    geo = load_geography()
    out = []
    for k, code in enumerate(codes):
        if not isinstance(code, str):
            raise ScenarioError(f"{where}[{k}]: expected an LA code or name, got {code!r}")
        out.append(geo.la(code, f"{where}[{k}]").index)
    return out


def check_regions(table: dict, where: str) -> None:
    """A region -> year table: known region names and plausible years."""
    from sim.geography import load_geography

    regions = load_geography().regions
    for region, year in table.items():
        if region not in regions:
            raise ScenarioError(f"{where}: unknown region {region!r} (allowed: "
                                f"{', '.join(regions)})")
        if isinstance(year, bool) or not isinstance(year, (int, float)) or not (
                2019 <= year <= 2100):
            raise ScenarioError(f"{where}.{region}: expected a year in [2019, 2100] such as "
                                f"2024.25 (31 March 2024), got {year!r}")
