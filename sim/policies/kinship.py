"""A kinship care allowance: relatives paid to care for a child outside care.

*Stable Homes, Built on Love* (DfE, February 2023) committed £9m to training and
support for kinship carers and to explore a mandatory allowance for special guardians
and child arrangements order holders, "so relatives need not become foster carers to
be paid". With an allowance:

- some children who would have come into care to live with a relative as a kinship
  foster placement stay with that relative outside care instead (fewer entries: the
  LA's ``entry_multiplier`` falls and the kinship route's share of entrants falls so
  that other entrants are unchanged); a share of those arrangements break down and the
  child enters care after all, needing a foster or residential place;
- special guardianship orders become more attractive, so more children leave care by
  special guardianship (``model.hazards.sgo`` for entrants, and extra special
  guardianship exits drawn once for the children already in care).

Costs to ``model.outcomes.policy_spend``: the weekly allowance per child for every
child in an arrangement made while the policy runs (children diverted from care and
every special guardianship order, including those that would have happened anyway),
the support budget and an administrative cost per LA.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.data import load_national
from sim.demand import ExitHazards, sample_exits, starts_for_year
from sim.policies._levers import (
    WEEKS_PER_YEAR,
    SpendLedger,
    england_weights,
    snap,
    snap_array,
)
from sim.policies.base import Policy, register
from sim.types import ExitReason, PlacementType

if TYPE_CHECKING:
    from sim.agents.child import Child
    from sim.model import CareMarketModel

_PUBLISHED = load_national().policies


def eligible_entry_share(model: CareMarketModel) -> float:
    """Share of entrants who can go to a relative on entry (the model's kinship route:
    not unaccompanied, not placed with parents, under 16)."""
    d = model.scenario.demand
    mix = d.entry_age_mix
    under_16 = 1.0 - mix["16_17"] / sum(mix.values())
    return (1.0 - d.uasc_share_of_starts) * (1.0 - d.with_parents_share) * under_16


@register
class KinshipAllowance(Policy):
    """Fewer entries, more special guardianship; an allowance paid per child."""

    name: ClassVar[str] = "kinship_allowance"
    defaults: ClassVar[dict[str, Any]] = {
        "diverted_share": 0.2,  # estimate
        "breakdown_share": 0.1,  # estimate
        "sgo_hazard_multiplier": 1.3,  # estimate
        "allowance_gbp_per_week": 230.0,  # estimate (about the fostering minimum allowance)
        "allowance_years": 8.0,  # estimate
        "support_budget_gbp": float(_PUBLISHED.kinship_support_gbp),  # published
        "support_years": 2.0,  # estimate (period not published)
        "admin_cost_gbp_per_la_year": 50_000.0,  # estimate
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "diverted_share": (0.0, 0.95, "share of would-be kinship foster entrants"),
        "breakdown_share": (0.0, 1.0, "share of diverted arrangements that break down"),
        "sgo_hazard_multiplier": (1.0, 10.0, "x special guardianship hazard"),
        "allowance_gbp_per_week": (0.0, 1e5, "GBP per child per week"),
        "allowance_years": (0.1, 18.0, "mean years an allowance is paid"),
        "support_budget_gbp": (0.0, 1e10, "GBP, England"),
        "support_years": (0.1, 20.0, "years the support budget is spread over"),
        "admin_cost_gbp_per_la_year": (0.0, 1e8, "GBP per LA per year"),
    }

    def initialize(self, model: CareMarketModel) -> None:
        self._ledger = SpendLedger()
        self._due: dict[int, list[Child]] = defaultdict(list)
        self._entry_factor = 1.0
        self._kin_factor = 1.0
        self._supported = np.zeros(len(model.geography.las))
        self._extra_sgo = 0
        self._started_week = 0
        e = eligible_entry_share(model)
        k = min(model.scenario.demand.kinship_share, 1.0)
        self._gross = e * k * self.diverted_share  # share of entrants diverted
        self._net = self._gross * (1.0 - self.breakdown_share)  # ...who stay out of care
        self._weights = england_weights(model, "child_pop")  # the support budget's spread

    def switch_on(self, model: CareMarketModel) -> None:
        self._started_week = model.week
        self._entry_factor = 1.0 - self._net
        self._kin_factor = (1.0 - self.diverted_share) / self._entry_factor
        model.entry_multiplier *= self._entry_factor
        model.kinship_multiplier = snap(model.kinship_multiplier * self._kin_factor)
        self._schedule_stock_orders(model, model.hazards.sgo)
        self._sgo_before = model.hazards.sgo
        model.hazards.sgo = model.hazards.sgo * self.sgo_hazard_multiplier
        self._sgo_after = model.hazards.sgo
        self._mark = (model.outcomes.ceased.copy(),
                      int(model.outcomes.ceased_by_reason[ExitReason.SPECIAL_GUARDIANSHIP]),
                      int(model.outcomes.ceased.sum()))

    def switch_off(self, model: CareMarketModel) -> None:
        model.entry_multiplier /= self._entry_factor
        snap_array(model.entry_multiplier)
        model.kinship_multiplier = snap(model.kinship_multiplier / self._kin_factor)
        if model.hazards.sgo is self._sgo_after:  # untouched since: restore exactly
            model.hazards.sgo = self._sgo_before
        else:
            model.hazards.sgo = model.hazards.sgo / self.sgo_hazard_multiplier
        self._entry_factor = self._kin_factor = 1.0
        self._due.clear()
        self._ledger.clear(model)

    def _schedule_stock_orders(self, model: CareMarketModel, sgo: np.ndarray) -> None:
        """Children already in care: the extra special guardianship hazard, drawn once."""
        if self.sgo_hazard_multiplier <= 1.0:
            return
        children = [c for c in model.children.values()
                    if c.ptype not in (PlacementType.ADOPTION, None)
                    and c.exit_reason != ExitReason.ADOPTED]
        if not children:
            return
        now = float(model.week)
        ages = np.array([c.age() for c in children])
        in_care = np.array([now - c.entered_week for c in children])
        zero = np.zeros_like(sgo)
        extra = ExitHazards(zero, zero, sgo * (self.sgo_hazard_multiplier - 1.0), 1.0)
        when, reason = sample_exits(self.rng, now, ages, in_care, extra)
        for child, w, r in zip(children, when.tolist(), reason.tolist(), strict=True):
            if r == ExitReason.SPECIAL_GUARDIANSHIP and w < child.exit_week:
                self._due[max(int(np.ceil(w)), model.week + 1)].append(child)

    def weekly(self, model: CareMarketModel) -> None:
        week = model.week
        for child in self._due.pop(week, []):
            if (child.unique_id in model.children and child.ptype is not None
                    and child.ptype != PlacementType.ADOPTION and child.exit_week > week):
                child.exit_reason = int(ExitReason.SPECIAL_GUARDIANSHIP)
                child.exit_week = float(week)
                model.leave_care(child)
                self._extra_sgo += 1
        self._pay(model)

    def _pay(self, model: CareMarketModel) -> None:
        """This week's allowance, support and administration per LA (O(LAs))."""
        o = model.outcomes
        ceased, sgo_mark, total_mark = self._mark
        sgo_now = int(o.ceased_by_reason[ExitReason.SPECIAL_GUARDIANSHIP])
        total_now = int(o.ceased.sum())
        sgo_share = (sgo_now - sgo_mark) / max(total_now - total_mark, 1)
        new_orders = (o.ceased - ceased) * sgo_share  # this week's orders, spread by LA
        self._mark = (o.ceased.copy(), sgo_now, total_now)
        sc = model.scenario
        year = sc.start_year + 1 + model.week / WEEKS_PER_YEAR
        starts = starts_for_year(sc.demand, year) * sc.scale / WEEKS_PER_YEAR
        diverted = starts * model.la_table["start_share"] * self._net
        self._supported += new_orders + diverted
        self._supported -= self._supported / (self.allowance_years * WEEKS_PER_YEAR)
        spend = self._supported * self.allowance_gbp_per_week
        active = np.zeros(len(spend), dtype=bool)
        active[model.active_las] = True
        spend[active] += self.admin_cost_gbp_per_la_year * sc.scale / WEEKS_PER_YEAR
        years_on = (model.week - self._started_week) / WEEKS_PER_YEAR
        if years_on < self.support_years:
            spend += (self.support_budget_gbp * sc.scale / (self.support_years * WEEKS_PER_YEAR)
                      * self._weights)
        self._ledger.set(model, spend)

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        return {"kinship_allowance": pd.DataFrame([{
            "extra_special_guardianship_exits_of_stock": self._extra_sgo,
            "children_supported_at_end": float(self._supported.sum()),
            "entry_multiplier": self._entry_factor,
            "kinship_route_multiplier": self._kin_factor,
        }])}
