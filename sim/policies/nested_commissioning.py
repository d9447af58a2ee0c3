"""Nested commissioning: each cohort of children commissioned at its own tier (ADCS).

Why: ADCS's response to *Stable Homes, Built on Love* (April 2023) proposed, instead of
one regional tier replacing LA commissioning, that each cohort be commissioned where
its volume makes sense: low-volume, high-need groups (complex needs, disabled children)
regionally, children's homes sub-regionally, standard fostering by the LA, which knows
the child (H4). This policy sets, per cohort, which LAs' in-house carers and LA homes a
child may use and who buys the child's external placements, through the LA agents'
per-cohort hooks (``cohort_pools``, ``cohort_buyers``).

Tiers: ``"la"`` (the LA alone), ``"subregional"`` (groups of about 4-8 neighbouring LAs
in a region: deterministic recursive halving of the region along its longer axis of LA
centroids, or a ``subregions_file``), ``"regional"`` (the nine regions).
Cohorts: ``complex``, ``disabled`` and ``standard_fostering`` are children by need (see
:class:`sim.types.Need`); ``residential`` is who signs block contracts for children's
homes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.geography import load_geography
from sim.policies.base import WEEKS_PER_YEAR, Policy, register
from sim.policies.rcc import RUNNING_COST_PER_YEAR, groups_to_indices, read_groupings
from sim.types import Need, PlacementType

if TYPE_CHECKING:
    from sim.model import CareMarketModel

TIERS = ("la", "subregional", "regional")
NEED_COHORTS = {"standard_fostering": Need.STANDARD, "complex": Need.COMPLEX,
                "disabled": Need.DISABLED}
COHORTS = (*NEED_COHORTS, "residential")
NO_PLACE = (PlacementType.WITH_PARENTS, PlacementType.ADOPTION)
QUARTER_WEEKS = 13


def subregions(las: list[int], max_size: int) -> list[tuple[int, ...]]:
    """Split LAs into groups of at most ``max_size`` neighbours (and at least half that).

    Recursive halving along the longer axis (easting or northing) of the LAs' centroids,
    ties broken by LA index: deterministic, so the same scenario gives the same groups.
    """
    if len(las) <= max_size:
        return [tuple(sorted(las))]
    geo = load_geography().las
    east = [geo[i].centroid_easting for i in las]
    north = [geo[i].centroid_northing for i in las]
    axis = 0 if max(east) - min(east) >= max(north) - min(north) else 1
    order = sorted(las, key=lambda i: ((geo[i].centroid_easting, geo[i].centroid_northing)[axis],
                                       i))
    half = len(order) // 2
    return subregions(order[:half], max_size) + subregions(order[half:], max_size)


@register
class NestedCommissioning(Policy):
    """Per-cohort commissioning tier: LA, sub-regional or regional (see module doc)."""

    name: ClassVar[str] = "nested_commissioning"
    defaults: ClassVar[dict[str, Any]] = {
        # ADCS (2023): high-need, low-volume groups regionally; standard fostering locally.
        "tiers": {"complex": "regional", "disabled": "regional",
                  "standard_fostering": "la", "residential": "subregional"},
        "regions": [],
        "subregions_file": "",
        "subregion_max_size": 8,
        "running_cost_gbp_per_year": RUNNING_COST_PER_YEAR,
        "subregional_cost_share": 0.5,
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "subregion_max_size": (2, 40, "LAs per sub-region"),
        "running_cost_gbp_per_year": (0.0, 1e10, "GBP per regional commissioning body per year"),
        "subregional_cost_share": (0.0, 1.0, "a sub-regional body's cost / a regional one's"),
    }

    def __init__(self, start: float = 0.0, end: float | None = None, enabled: bool = True,
                 **params: Any) -> None:
        super().__init__(start=start, end=end, enabled=enabled, **params)
        self.tier_of: dict[str, str] = dict(self.defaults["tiers"])
        self.groups: dict[str, dict[int, tuple[str, tuple[int, ...]]]] = {}
        self.rows: list[dict[str, Any]] = []
        self._saved: dict[int, tuple] = {}
        self._spend = np.zeros(0)
        self._bodies: list[tuple[float, list[int]]] = []
        self._on_week = 0

    # -- parameters ---------------------------------------------------------------------
    def validate(self, where: str, model_geography=None) -> None:
        field = f"{where}.tiers"
        for key, tier in self.tiers.items():
            if key not in COHORTS:
                raise ScenarioError(f"{field}.{key}: unknown cohort; allowed "
                                    f"{', '.join(COHORTS)}")
            if tier not in TIERS:
                raise ScenarioError(f"{field}.{key}: unknown tier {tier!r}; allowed "
                                    f"{', '.join(repr(t) for t in TIERS)}")
        self.tier_of = {**self.defaults["tiers"], **self.tiers}
        geo = load_geography()
        regions = list(geo.regions)
        chosen = []
        for i, name in enumerate(self.regions):
            match = [r for r in regions if isinstance(name, str)
                     and r.casefold() == name.strip().casefold()]
            if not match:
                raise ScenarioError(f"{where}.regions[{i}]: unknown region {name!r}; allowed "
                                    f"{', '.join(regions)}")
            chosen.append(match[0])
        scope = chosen or regions
        las = [la.index for la in geo.las if la.region in scope]
        sub: dict[int, tuple[str, tuple[int, ...]]] = {}
        if self.subregions_file:
            f = f"{where}.subregions_file"
            for gid, members in groups_to_indices(read_groupings(self.subregions_file, f),
                                                  f).items():
                for i in members:
                    sub[i] = (f"sub:{gid}", tuple(sorted(members)))
        else:
            for region in scope:
                in_region = [la.index for la in geo.las if la.region == region]
                for k, members in enumerate(subregions(in_region, self.subregion_max_size)):
                    for i in members:
                        sub[i] = (f"sub:{region}:{k + 1}", members)
        regional = {r: tuple(la.index for la in geo.las if la.region == r) for r in scope}
        self.groups = {
            "la": {i: (geo.las[i].ons_code, (i,)) for i in las},
            # LAs missing from a sub-region file stay at the LA tier for sub-regional cohorts.
            "subregional": {i: sub.get(i, (geo.las[i].ons_code, (i,))) for i in las},
            "regional": {i: (f"region:{geo.las[i].region}", regional[geo.las[i].region])
                         for i in las},
        }

    # -- life cycle -----------------------------------------------------------------------
    def initialize(self, model: CareMarketModel) -> None:
        """Work out the groups only: nothing in the model changes before the start date."""
        if not self.groups:
            self.validate(f"{model.scenario.source_file or '<scenario>'}: "
                          "policies[nested_commissioning]")

    def switch_on(self, model: CareMarketModel) -> None:
        self._on_week = model.week
        self._spend = np.zeros(len(model.las))
        # Regional and sub-regional bodies some cohort uses: (cost share, their LAs).
        self._bodies = []
        for tier, share in (("regional", 1.0), ("subregional", self.subregional_cost_share)):
            if tier in self.tier_of.values():
                found = {body: list(members) for body, members in self.groups[tier].values()
                         if len(members) > 1}
                self._bodies += [(share, found[body]) for body in sorted(found)]
        for i in self.groups["la"]:
            agent = model.las[i]
            self._saved[i] = (agent.buyer, dict(agent.cohort_pools), dict(agent.cohort_buyers))
            for cohort, need in NEED_COHORTS.items():
                buyer, pool = self.groups[self.tier_of[cohort]][i]
                agent.cohort_pools[(PlacementType.LA_FOSTER, need)] = pool
                agent.cohort_pools[(PlacementType.LA_HOME, need)] = pool
                agent.cohort_buyers[need] = buyer
            agent.buyer = self.groups[self.tier_of["residential"]][i][0]

    def switch_off(self, model: CareMarketModel) -> None:
        """Every LA commissions for itself again; block contracts pass to the signing LA."""
        bodies = set()
        for i, (buyer, pools, buyers) in self._saved.items():
            agent = model.las[i]
            bodies.add(agent.buyer)
            agent.buyer, agent.cohort_pools, agent.cohort_buyers = buyer, pools, buyers
        own = {model.las[i].buyer for i in self._saved}
        for contract in model.contracts.active:
            if contract.buyer in bodies and contract.buyer not in own:
                contract.buyer = model.las[contract.la].buyer
                contract.home.reserved_for = contract.buyer
                model.vacancies.refresh(contract.home)
        model.outcomes.policy_spend -= self._spend
        self._spend[:] = 0.0
        self._saved = {}

    def weekly(self, model: CareMarketModel) -> None:
        self._book_spend(model)
        if (model.week - self._on_week) % QUARTER_WEEKS == 0:
            self._record(model)

    def _book_spend(self, model: CareMarketModel) -> None:
        """Each regional or sub-regional body in use costs its running cost, shared by its
        LAs in proportion to their children in care (£/week, at the run's scale)."""
        in_care = model.outcomes.count.sum(axis=1).astype(float)
        spend = np.zeros(len(model.las))
        weekly = self.running_cost_gbp_per_year * model.scenario.scale / WEEKS_PER_YEAR
        for share, idx in self._bodies:
            w = in_care[idx]
            total = w.sum()
            if total > 0:
                spend[idx] += weekly * share * w / total
        model.outcomes.policy_spend += spend - self._spend
        self._spend = spend

    def _record(self, model: CareMarketModel) -> None:
        """Quarterly, per cohort: children, needs not met, outside own LA, far, cost."""
        cohort_of = {need: cohort for cohort, need in NEED_COHORTS.items()}
        scope = self.groups["la"]
        cells: dict[str, list[float]] = {c: [0, 0, 0, 0, 0.0] for c in NEED_COHORTS}
        for ch in model.children.values():
            if ch.la not in scope or ch.ptype is None or ch.ptype in NO_PLACE:
                continue
            cell = cells[cohort_of[ch.need]]
            cell[0] += 1
            if not ch.well_placed:
                cell[1] += 1
            s = ch.setting
            if s is not None and s.location_la != ch.la:
                cell[2] += 1
            if ch.distance > 20.0:
                cell[3] += 1
            cell[4] += ch.weekly_cost
        year = model.scenario.start_year + 0.25 + model.week / WEEKS_PER_YEAR
        for cohort, (n, not_met, outside, far, cost) in cells.items():
            self.rows.append({
                "week": model.week, "year": round(year, 3), "cohort": cohort,
                "tier": self.tier_of[cohort], "children": int(n), "needs_not_met": int(not_met),
                "outside_la": int(outside), "far_20_miles": int(far),
                "mean_weekly_cost": cost / n if n else math.nan})

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        """``nested_cohorts``: quarterly outcomes per cohort and its tier (for H4)."""
        if not self.rows:
            return {}
        mine = [p for p in model.policies if isinstance(p, NestedCommissioning)]
        if mine[0] is not self:
            return {}
        return {"nested_cohorts": pd.DataFrame([r for p in mine for r in p.rows])}
