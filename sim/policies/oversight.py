"""Financial oversight of the largest and hardest-to-replace providers.

The regime announced in *Stable Homes, Built on Love* (2023), following the CMA's
recommendation 3.2 (2022) and legislated in the Children's Wellbeing and Schools Bill
(2024): providers above thresholds on size, children placed or geographic concentration
are covered; the regulator watches their cash and debt for early warning of failure,
has a duty to warn the LAs placing children with them, and holds contingency plans
(lender standstill, sale as a going concern) so that a failing provider's homes can
pass to another operator instead of closing. Covered providers bear a compliance cost.

In the model: every ``review_weeks`` the regulator projects each covered provider's cash
runway (cash over its weekly loss, debt interest included); a provider whose runway is
shorter than ``lead_time_weeks`` is in distress and is detected with
``detection_probability``. Once warned, placing LAs stop placing children there and
move those already there to places that meet their needs as such places come free
(planned moves, never emergency ones). If a covered provider fails anyway, with
``transfer_success_rate`` its open homes pass to a new operator with a fresh balance
sheet (debts stay with the failed company) and no child is displaced.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.policies._provision import (
    HELD,
    check_kinds,
    hold_admissions,
    new_operator,
    planned_move,
    release_admissions,
    sibling_groups,
    spread_by_population,
    transfer_all,
    withdraw_spend,
)
from sim.policies.base import Policy, register
from sim.types import Sector

if TYPE_CHECKING:
    from sim.agents.provider import Provider
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel

KINDS = ("homes", "ifa", "supported")
EST = "estimate"


@register
class FinancialOversight(Policy):
    """Early warning, duty to warn and contingency plans for covered providers."""

    name = "financial_oversight"
    defaults: ClassVar[dict[str, Any]] = {
        # Scope: "children's homes and fostering agencies" (Stable Homes, 2023).
        "kinds": ["homes", "ifa"],
        # Thresholds (any one covers a provider); no published values: estimates, in
        # England-equivalent units (multiplied by the run's scale).
        "min_places": 100,
        "min_children": 75,
        "min_region_share": 0.10,
        "review_weeks": 4,
        "lead_time_weeks": 13.0,
        "detection_probability": 0.8,
        "planned_moves": True,
        "transfer_success_rate": 0.5,
        "compliance_cost_share": 0.002,
        "pass_through": 1.0,
        "regulator_cost_gbp_per_year": 3_000_000.0,
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "min_places": (0, 1_000_000, "places, England-equivalent"),
        "min_children": (0, 1_000_000, "children placed, England-equivalent"),
        "min_region_share": (0.0, 1.0, "share of a region's places of that kind"),
        "review_weeks": (1, 52, "weeks between reviews"),
        "lead_time_weeks": (0.0, 260.0, "weeks of projected cash runway that count as distress"),
        "detection_probability": (0.0, 1.0, "probability a distress episode is detected"),
        "transfer_success_rate": (0.0, 1.0, "share of covered failures sold as going concerns"),
        "compliance_cost_share": (0.0, 0.5, "share of a covered provider's revenue"),
        "pass_through": (0.0, 2.0, "share of the compliance cost passed into prices"),
        "regulator_cost_gbp_per_year": (0.0, 1e10, "GBP/year for England"),
    }

    def validate(self, where: str, model_geography=None) -> None:
        check_kinds(where, self.params["kinds"], KINDS)

    # -- lifecycle ---------------------------------------------------------------------
    def initialize(self, model: CareMarketModel) -> None:
        self._region_of = [la.region for la in model.geography.las]
        self._covered: set[Provider] = set()
        self._episodes: dict[Provider, bool] = {}  # distressed provider -> detected
        self._held: dict[Provider, dict[CareSetting, str | None]] = {}
        self._runway: dict[Provider, float] = {}
        self._spend: dict[int, float] = {}
        self._since_coverage = 0
        self.events: list[dict[str, Any]] = []
        self.counts = {"covered": 0, "warnings": 0, "missed": 0, "planned_moves": 0,
                       "transfers": 0, "children_kept": 0, "failures": 0,
                       "children_at_failure": 0, "compliance_gbp": 0.0}

    def switch_on(self, model: CareMarketModel) -> None:
        model.closure_hooks.append(self._on_failure)
        model.price_hooks.append(self._price)
        self._spend = spread_by_population(model, self.params["regulator_cost_gbp_per_year"])
        for la, weekly in self._spend.items():
            model.outcomes.policy_spend[la] += weekly
        self._review_coverage(model)
        self._since_coverage = 0

    def switch_off(self, model: CareMarketModel) -> None:
        model.closure_hooks.remove(self._on_failure)
        model.price_hooks.remove(self._price)
        for la, weekly in self._spend.items():
            withdraw_spend(model, la, weekly)
        self._spend = {}
        for prov in list(self._held):
            self._lift(model, prov)
        for prov in self._covered:
            prov.covered_by_oversight = False
        self._covered = set()
        self._episodes = {}

    def weekly(self, model: CareMarketModel) -> None:
        self._since_coverage += 1
        if self._since_coverage >= 52:
            self._review_coverage(model)
            self._since_coverage = 0
        if model.week % self.params["review_weeks"] == 0:
            self._review_finances(model)
        if self.params["planned_moves"]:
            for prov in list(self._held):
                self._plan_moves(model, prov)

    # -- coverage ----------------------------------------------------------------------
    def _review_coverage(self, model: CareMarketModel) -> None:
        """Designate the providers over any threshold (once a year)."""
        p, scale = self.params, model.scenario.scale
        kinds = set(p["kinds"])
        region_of = self._region_of
        total: dict[tuple[str, str], int] = {}
        own: dict[Provider, dict[str, int]] = {}
        for prov in model.providers:
            if not prov.active or prov.kind not in kinds or prov.sector == Sector.LOCAL_AUTHORITY:
                continue
            by_region = own[prov] = {}
            for s in prov.settings:
                if s.open:
                    region = region_of[s.la]
                    by_region[region] = by_region.get(region, 0) + s.places
                    total[prov.kind, region] = total.get((prov.kind, region), 0) + s.places
        covered = set()
        for prov, by_region in own.items():
            places = sum(by_region.values())
            children = prov.occupied
            share = max((v / total[prov.kind, r] for r, v in by_region.items()
                         if total[prov.kind, r]), default=0.0)
            if (places >= p["min_places"] * scale or children >= p["min_children"] * scale
                    or share >= p["min_region_share"]):
                covered.add(prov)
        for prov in self._covered - covered:
            prov.covered_by_oversight = False
        for prov in covered:
            prov.covered_by_oversight = True
        self._covered = covered
        self.counts["covered"] = len(covered)
        self._log(model, "coverage", None, len(covered))

    # -- early warning and the duty to warn ---------------------------------------------
    def _review_finances(self, model: CareMarketModel) -> None:
        """Project each covered provider's cash runway; warn LAs about detected distress."""
        p = self.params
        share = p["compliance_cost_share"]
        weeks = p["review_weeks"]
        for prov in sorted(self._covered, key=lambda x: x.unique_id):
            if not prov.active:
                continue
            revenue = prov.weekly_revenue()
            if share > 0:
                charge = share * revenue * weeks
                prov.cash -= charge
                prov.cost_to_date += charge
                prov.quarter_cost += charge
                self.counts["compliance_gbp"] += charge
            loss = prov.weekly_cost() - revenue
            runway = prov.cash / loss if loss > 0 else math.inf
            distressed = runway < p["lead_time_weeks"]
            self._runway[prov] = model.week + min(runway, 520.0)  # projected failure week
            if distressed and prov not in self._episodes:
                detected = bool(self.rng.random() < p["detection_probability"])
                self._episodes[prov] = detected
                if detected:
                    self._warn(model, prov)
                else:
                    self.counts["missed"] += 1
            elif not distressed and prov in self._episodes:
                del self._episodes[prov]
                if prov in self._held:
                    self._lift(model, prov)
                    self._log(model, "recovered", prov, prov.occupied)

    def _warn(self, model: CareMarketModel, prov: Provider) -> None:
        """Duty to warn: placing LAs stop placing here and plan moves."""
        self.counts["warnings"] += 1
        self._held[prov] = {}
        self._hold(model, prov)
        self._log(model, "warned", prov, prov.occupied)

    def _hold(self, model: CareMarketModel, prov: Provider) -> None:
        held = self._held[prov]
        for s in prov.settings:
            if s.open and s.reserved_for != HELD:  # new, or its block contract just ended
                held[s] = hold_admissions(model, s)

    def _lift(self, model: CareMarketModel, prov: Provider) -> None:
        for s, previous in self._held.pop(prov, {}).items():
            release_admissions(model, s, previous)

    def _plan_moves(self, model: CareMarketModel, prov: Provider) -> None:
        """Move children out at a pace that empties the provider by its projected failure,
        so a provider that recovers has not lost every child to a false alarm."""
        self._hold(model, prov)  # new carers, or homes whose block contract ended
        groups = [g for s in self._held[prov] if s.open and s.occupants
                  for g in sibling_groups(s)]
        weeks_left = self._runway.get(prov, model.week) - model.week
        quota = math.ceil(sum(len(g) for g in groups) / max(weeks_left, 1.0))
        for group in groups:
            if quota <= 0:
                break
            if planned_move(model, group):
                self.counts["planned_moves"] += len(group)
                quota -= len(group)

    # -- contingency plans -------------------------------------------------------------
    def _on_failure(self, prov: Provider) -> bool:
        """Closure hook: a covered provider's homes pass to a new operator, or close."""
        if not prov.covered_by_oversight or prov not in self._covered:
            return False
        model = prov.model
        self._lift(model, prov)
        self._episodes.pop(prov, None)
        self._runway.pop(prov, None)
        self._covered.discard(prov)
        prov.covered_by_oversight = False
        children = prov.occupied
        self.counts["failures"] += 1
        self.counts["children_at_failure"] += children
        if self.rng.random() >= self.params["transfer_success_rate"]:
            self._log(model, "failed", prov, children)
            return False
        successor = new_operator(model, prov.kind, prov.sector, prov.region,
                                 f"{prov.name} (new operator)")
        kept = transfer_all(model, prov, successor)
        successor.cash = model.scenario.residential.cash_weeks * successor.weekly_cost()
        successor.covered_by_oversight = True
        self._covered.add(successor)
        prov.active = False
        model.market.providers_failed += 1  # the company failed; its homes carry on
        self.counts["transfers"] += 1
        self.counts["children_kept"] += kept
        self._log(model, "transferred", prov, kept)
        return True

    # -- costs -------------------------------------------------------------------------
    def _price(self, provider: Provider, markup: float) -> float:
        """Covered providers pass (part of) the compliance cost into their prices."""
        if provider.covered_by_oversight:
            uplift = self.params["compliance_cost_share"] * self.params["pass_through"]
            return (1 + markup) * (1 + uplift) - 1
        return markup

    # -- results -----------------------------------------------------------------------
    def _log(self, model: CareMarketModel, event: str, prov: Provider | None,
             children: int) -> None:
        self.events.append({
            "week": model.week, "event": event,
            "provider": "" if prov is None else prov.name,
            "kind": "" if prov is None else prov.kind, "children": int(children)})

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        columns = ["week", "event", "provider", "kind", "children"]
        events = getattr(self, "events", [])
        return {"financial_oversight": pd.DataFrame(events, columns=columns).astype(
            {"week": np.int64, "children": np.int64})}
