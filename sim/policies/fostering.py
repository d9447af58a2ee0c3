"""The fostering recruitment and retention programme of *Stable Homes, Built on Love*.

Over £27m over two years (DfE, February 2023) for marketing, regional hubs that carry
applicants through assessment and the Mockingbird retention model, rolled out region
by region (North East first, mid-2023; further regions in 2024), alongside the 12.43%
uplift to the National Minimum Allowance for 2023-24.

The budget is turned into effects through unit costs, so a smaller or larger budget
has a proportionate effect:

- marketing: budget / cost per enquiry = extra enquiries to the region's LA fostering
  services (a multiplier on their enquiries);
- hubs: better enquiry -> application and application -> approval conversion and a
  shorter assessment, in proportion to the share of the region's applicants the hub
  budget can support (budget / cost per applicant supported);
- Mockingbird: the share of the region's in-house carers the budget can put in a
  constellation (budget / cost per household), each of whom deregisters less;
- the allowance uplift (national, from the policy's start): higher in-house fees
  (``model.foster_fee_multiplier``: dearer in-house placements, weaker pull of IFAs on
  LA carers) and fewer deregistrations;
- targeting: extra shares of new in-house approvals for teenagers (and so most
  unaccompanied children), sibling groups (3-4 places) and complex needs.

Running costs (the budget, spread over each region's two funded years by its LAs'
fostered children) go to ``model.outcomes.policy_spend``; the uplift's cost shows in
the in-house placement price instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.data import load_national
from sim.errors import ScenarioError
from sim.policies._levers import (
    WEEKS_PER_YEAR,
    SpendLedger,
    check_regions,
    combine_in_house,
    england_weights,
    region_members,
    snap,
)
from sim.policies.base import Policy, register
from sim.types import PlacementType

if TYPE_CHECKING:
    from sim.agents.foster_household import FosterHousehold
    from sim.model import CareMarketModel

_PUBLISHED = load_national().policies
_REGIONS = ("North East", "North West", "Yorkshire and Humber", "East Midlands",
            "West Midlands", "South West", "East of England", "South East", "London")


def _decimal_year(year_month: str) -> float:
    """'2023-07' -> 2023.5 (the first of the month as a decimal year)."""
    year, month = year_month.split("-")
    return int(year) + (int(month) - 1) / 12.0


def published_rollout() -> dict[str, float]:
    """First hub in the North East (July 2023, 'mid-2023'); the other regions in 2024.

    Stable Homes, Built on Love gives only the year for further regions: they start at
    the beginning of the 2024-25 financial year here (2024.25, an estimate).
    """
    first = _PUBLISHED.fostering_first_hub_region
    later = float(_PUBLISHED.fostering_further_hubs) + 0.25
    return {r: (_decimal_year(_PUBLISHED.fostering_first_hub_launch) if r == first else later)
            for r in _REGIONS}


@register
class FosteringProgramme(Policy):
    """Recruitment (marketing, hubs), retention (Mockingbird, allowance uplift), targeting."""

    name: ClassVar[str] = "fostering_programme"
    defaults: ClassVar[dict[str, Any]] = {
        # Published (DfE, Stable Homes, Built on Love, February 2023).
        "budget_gbp": float(_PUBLISHED.fostering_budget_gbp),
        "programme_years": float(_PUBLISHED.fostering_programme_years),
        "nma_uplift": float(_PUBLISHED.fostering_nma_uplift),
        "rollout": published_rollout(),
        # Estimates: how the budget is split and what each pound buys.
        "marketing_share": 0.4,
        "hub_share": 0.4,
        "mockingbird_share": 0.2,
        "cost_per_enquiry_gbp": 250.0,
        "hub_cost_per_applicant_gbp": 1000.0,
        "hub_application_multiplier": 1.25,
        "hub_approval_multiplier": 1.2,
        "hub_assessment_weeks_multiplier": 0.8,
        "mockingbird_cost_per_household_gbp": 3000.0,
        "mockingbird_retention": 0.3,
        "allowance_share_of_cost": 0.5,
        "uplift_retention_elasticity": 0.5,
        "teen_target_share": 0.1,
        "sibling_target_share": 0.1,
        "complex_target_share": 0.05,
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "budget_gbp": (0.0, 1e10, "GBP over the programme, England"),
        "programme_years": (0.25, 20.0, "years each region is funded"),
        "nma_uplift": (0.0, 1.0, "proportional rise in the carers' allowance"),
        "marketing_share": (0.0, 1.0, "share of budget"),
        "hub_share": (0.0, 1.0, "share of budget"),
        "mockingbird_share": (0.0, 1.0, "share of budget"),
        "cost_per_enquiry_gbp": (1.0, 1e6, "GBP per extra enquiry"),
        "hub_cost_per_applicant_gbp": (1.0, 1e6, "GBP per applicant supported"),
        "hub_application_multiplier": (0.1, 10.0, "x applications per enquiry"),
        "hub_approval_multiplier": (0.1, 10.0, "x approvals per application"),
        "hub_assessment_weeks_multiplier": (0.1, 10.0, "x assessment weeks"),
        "mockingbird_cost_per_household_gbp": (1.0, 1e6, "GBP per household per year"),
        "mockingbird_retention": (0.0, 1.0, "relative fall in deregistration"),
        "allowance_share_of_cost": (0.0, 1.0, "share of in-house weekly cost"),
        "uplift_retention_elasticity": (0.0, 5.0, "fall in deregistration per unit uplift"),
        "teen_target_share": (0.0, 1.0, "extra share of approvals for ages 11-18"),
        "sibling_target_share": (0.0, 1.0, "extra share of approvals with 3-4 places"),
        "complex_target_share": (0.0, 1.0, "extra share of approvals for complex needs"),
    }

    def validate(self, where: str, model_geography=None) -> None:
        total = self.marketing_share + self.hub_share + self.mockingbird_share
        if total > 1.0 + 1e-9:
            raise ScenarioError(
                f"{where}.marketing_share: marketing_share + hub_share + mockingbird_share "
                f"= {total:g}; allowed shares of the budget summing to at most 1")
        check_regions(self.rollout, f"{where}.rollout")

    # -- set-up (no model state changes: the policy may never start) ------------------
    def initialize(self, model: CareMarketModel) -> None:
        self._ledger = SpendLedger()
        self._regions_on: set[str] = set()
        self._effects: dict[str, dict[str, float]] = {}
        self._retention: dict[str, float] = {}
        self._uplift_retention = 0.0
        self._fee_factor = 1.0
        self._retained: dict[str, int] = {}
        self._report: dict[str, dict[str, float]] = {}
        self._model = model
        members = region_members(model)
        share = england_weights(model, "foster_demand")
        self._members = {r: members[r] for r in self.rollout if r in members}
        self._window = {r: (self.week_of(model, float(y)),
                            self.week_of(model, float(y) + self.programme_years))
                        for r, y in self.rollout.items() if r in self._members}
        # Each region's allocation at model scale: its LAs' share of England's fostered
        # children, times the scale of the run.
        self._allocation = {r: self.budget_gbp * model.scenario.scale
                            * float(share[self._members[r]].sum()) for r in self._members}
        self._share = share

    # -- switching ---------------------------------------------------------------------
    def switch_on(self, model: CareMarketModel) -> None:
        # The allowance uplift is national and lasts as long as the policy.
        self._fee_factor = 1.0 + self.nma_uplift * self.allowance_share_of_cost
        model.foster_fee_multiplier = snap(model.foster_fee_multiplier * self._fee_factor)
        self._uplift_retention = min(self.uplift_retention_elasticity * self.nma_uplift, 1.0)
        model.deregistration_hooks.append(self._retain)

    def switch_off(self, model: CareMarketModel) -> None:
        for region in sorted(self._regions_on):
            self._region_off(model, region)
        model.foster_fee_multiplier = snap(model.foster_fee_multiplier / self._fee_factor)
        self._fee_factor = 1.0
        self._uplift_retention = 0.0
        if self._retain in model.deregistration_hooks:
            model.deregistration_hooks.remove(self._retain)
        self._ledger.clear(model)

    def weekly(self, model: CareMarketModel) -> None:
        week = model.week
        for region, (start, end) in self._window.items():
            funded = start <= week < end
            if funded and region not in self._regions_on:
                self._region_on(model, region)
            elif not funded and region in self._regions_on:
                self._region_off(model, region)

    # -- one region's hub, marketing and Mockingbird ------------------------------------
    def _region_on(self, model: CareMarketModel, region: str) -> None:
        f = model.scenario.fostering
        las = self._members[region]
        weekly_budget = self._allocation[region] / (self.programme_years * WEEKS_PER_YEAR)
        # Enquiries the region's LA services get at baseline (equal shares of the LA part).
        national = (f.enquiries_per_year * model.scenario.scale * model.share["foster"]
                    / WEEKS_PER_YEAR)
        base = national * (1 - f.ifa_share_of_enquiries) * len(las) / len(model.active_las)
        extra = weekly_budget * self.marketing_share / self.cost_per_enquiry_gbp
        enquiries = 1.0 + extra / base if base > 0 else 1.0
        apply_la = f.application_rate * (1 - f.ifa_share_of_applications) / (
            1 - f.ifa_share_of_enquiries)
        applicants = base * enquiries * apply_la
        hub = min(1.0, weekly_budget * self.hub_share
                  / (self.hub_cost_per_applicant_gbp * applicants)) if applicants > 0 else 0.0
        effects = {
            "enquiries": enquiries,
            "application_rate": 1 + (self.hub_application_multiplier - 1) * hub,
            "approval_rate": 1 + (self.hub_approval_multiplier - 1) * hub,
            "assessment_weeks": 1 + (self.hub_assessment_weeks_multiplier - 1) * hub,
            "targeted_teen_share": self.teen_target_share,
            "targeted_sibling_share": self.sibling_target_share,
            "targeted_complex_share": self.complex_target_share,
        }
        combine_in_house(model.recruitment.levers, region, effects)
        self._effects[region] = effects
        households = sum(len(model.las[i].in_house) for i in las)
        yearly = weekly_budget * self.mockingbird_share * WEEKS_PER_YEAR
        covered = min(1.0, yearly / (self.mockingbird_cost_per_household_gbp * households)
                      ) if households else 0.0
        self._retention[region] = covered * self.mockingbird_retention
        spend = np.zeros(len(model.outcomes.policy_spend))
        weights = self._share[las]
        spend[las] = weekly_budget * weights / weights.sum() if weights.sum() > 0 else 0.0
        self._ledger.set(model, (self._ledger.weekly if self._ledger.weekly is not None
                                 else 0.0) + spend)
        self._regions_on.add(region)
        self._report[region] = {
            "allocation_gbp": self._allocation[region],
            "weekly_spend_gbp": weekly_budget,
            "enquiry_multiplier": enquiries,
            "hub_coverage": hub,
            "mockingbird_coverage": covered,
        }

    def _region_off(self, model: CareMarketModel, region: str) -> None:
        combine_in_house(model.recruitment.levers, region, self._effects.pop(region), undo=True)
        self._retention.pop(region, None)
        if self._ledger.weekly is not None:
            spend = self._ledger.weekly.copy()
            spend[self._members[region]] = 0.0
            self._ledger.set(model, spend)
        self._regions_on.discard(region)

    # -- retention: a deregistration hook --------------------------------------------------
    def _retain(self, hh: FosterHousehold) -> float | None:
        """An in-house carer about to leave stays (Mockingbird, better allowance)."""
        if hh.ptype != PlacementType.LA_FOSTER:
            return None
        model = self._model
        region = model.las[hh.la].region
        stay = 1.0 - (1.0 - self._uplift_retention) * (1.0 - self._retention.get(region, 0.0))
        if stay <= 0.0 or self.rng.random() >= stay:
            return None
        rate = (model.scenario.fostering.deregistration_rate
                * model.recruitment.levers.deregistration)
        if rate <= 0:
            return None
        self._retained[region] = self._retained.get(region, 0) + 1
        # Deregistration is memoryless: the carer's next decision is a fresh draw.
        return float(self.rng.exponential(WEEKS_PER_YEAR / rate))

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        rows = []
        for region, year in self.rollout.items():
            if region not in self._members:
                continue
            row = {"region": region, "rollout_year": float(year),
                   "funded_until": float(year) + self.programme_years,
                   "carers_retained": self._retained.get(region, 0)}
            row.update(self._report.get(region, {}))
            rows.append(row)
        return {"fostering_programme": pd.DataFrame(rows)}
