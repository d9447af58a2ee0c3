"""Capital for new LA children's homes.

*Stable Homes, Built on Love* (2023) announced £259m of match funding for LA children's
homes, about 350 new places by the end of 2025. The programme commissions homes each
quarter, evenly up to its deadline and within its budget, and sites them by
``siting``: where children in residential care come from ("demand"), where LAs now
buy private places or use emergency ones ("shortfall"), evenly across LAs ("even"), or
where the market would build, by property cost ("market") -- the comparison H17 asks
for. Each new home needs a registered manager from the same pool private entry draws on
(``Market.pending_managers``, through ``Market.manager_claims``), shared in proportion
to what each side wants or taken by LAs first (``manager_priority``), and opens
``lead_weeks`` later, so capital alone cannot build capacity overnight (H18). Capital
is paid out evenly while a home is built and is reported as ``policy_spend`` in the LA
where it is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.data import load_national
from sim.errors import ScenarioError
from sim.policies._provision import new_operator, withdraw_spend
from sim.policies.base import Policy, register
from sim.supply import home_siting_weights, open_home
from sim.types import PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.provider import Provider
    from sim.model import CareMarketModel

_PUBLISHED = load_national().policies
BUDGET = _PUBLISHED.la_homes_capital_gbp  # £259m (Stable Homes, Built on Love, 2023)
PLACES = _PUBLISHED.la_homes_capital_places  # about 350 places by the end of 2025
MATCH = 1.0  # "match funding": each DfE pound matched by one from the LA


@register
class CapitalProgramme(Policy):
    """New LA children's homes, limited by budget, deadline and registered managers."""

    name = "capital_programme"
    defaults: ClassVar[dict[str, Any]] = {
        "budget_gbp": BUDGET,
        "match_funding": MATCH,
        # Capital per place implied by the published figures: £259m x 2 / 350 places, so
        # the default budget buys the published 350 places.
        "cost_per_place_gbp": BUDGET * (1 + MATCH) / PLACES,
        "deadline": 2026.0,  # "by end of 2025"
        "siting": "demand",
        "lead_weeks": 52.0,  # estimate: buying or building, refurbishment, registration
        "manager_priority": "shared",  # estimate: LAs recruit in the same labour market
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "budget_gbp": (0.0, 1e12, "GBP, England (DfE share)"),
        "match_funding": (0.0, 10.0, "LA pounds per DfE pound"),
        "cost_per_place_gbp": (1.0, 1e9, "GBP capital per place"),
        "deadline": (2019.25, 2200.0, "decimal year"),
        "lead_weeks": (1.0, 520.0, "weeks from commissioning to opening"),
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "siting": ("demand", "shortfall", "even", "market"),
        "manager_priority": ("shared", "la_first"),
    }

    def validate(self, where: str, model_geography=None) -> None:
        if self.params["deadline"] <= self.start:
            raise ScenarioError(
                f"{where}.deadline: {self.params['deadline']} is not after start "
                f"{self.start}; allowed a later year")

    # -- lifecycle ---------------------------------------------------------------------
    def initialize(self, model: CareMarketModel) -> None:
        p = self.params
        share = model.scenario.scale * model.share["residential"]
        per_home = model.scenario.residential.places_per_home * p["cost_per_place_gbp"]
        money = p["budget_gbp"] * (1 + p["match_funding"]) * share
        self.homes_planned = money / per_home  # at the run's scale and LAs
        self.capital_per_home = per_home
        self.homes_commissioned = 0
        self.homes_opened = 0
        self.places_opened = 0
        self.managers_short = 0.0
        self._due = 0.0
        self._building: list[tuple[int, int, float, int]] = []  # open week, la, £/week, week
        self._operators: dict[int, Provider] = {}
        self.records: list[dict[str, Any]] = []

    def switch_on(self, model: CareMarketModel) -> None:
        self._model = model
        self._operators = {getattr(p, "home_la", -1): p for p in model.providers
                           if p.sector == Sector.LOCAL_AUTHORITY and p.kind == "homes"}
        model.market.manager_claims.append(self._claim)

    def switch_off(self, model: CareMarketModel) -> None:
        model.market.manager_claims.remove(self._claim)

    def apply(self, model: CareMarketModel) -> None:
        super().apply(model)
        self._open_due(model)  # homes already being built open even after the programme

    def _claim(self, available: float, private_wanted: float) -> int:
        """Quarterly, as the market recruits registered managers: start new LA homes.

        The programme wants even instalments of the homes still to build before its
        deadline; it gets managers for them from the same pool as private entry, first
        (``manager_priority = "la_first"``) or in proportion to what each side wants.
        """
        model = self._model
        deadline = self.week_of(model, self.params["deadline"])
        if model.week >= deadline:
            return 0
        remaining = self.homes_planned - self.homes_commissioned - self._due
        quarters = max((deadline - model.week) / 13.0, 1.0)
        self._due += max(remaining, 0.0) / quarters
        wanted = int(self._due)
        if wanted <= 0 or available < 1:
            return 0
        if self.params["manager_priority"] == "la_first":
            got = min(wanted, int(available))
        else:
            share = available * wanted / (wanted + max(private_wanted, 0.0))
            whole = int(share)
            got = min(wanted, int(available), whole + int(self.rng.random() < share - whole))
        self.managers_short += wanted - got
        self._due -= got
        weights = self._siting(model)
        for _ in range(got):
            self._commission(model, int(self.rng.choice(len(weights), p=weights)))
        return got

    # -- building ----------------------------------------------------------------------
    def _siting(self, model: CareMarketModel) -> np.ndarray:
        siting = self.params["siting"]
        n = len(model.geography.las)
        w = np.zeros(n)
        active = model.active_las
        if siting == "market":
            return home_siting_weights(model)
        if siting == "demand":
            w[active] = model.la_table["residential_demand"][active]
        elif siting == "shortfall":
            count = model.outcomes.count
            w[active] = (count[active, PlacementType.PRIVATE_HOME]
                         + count[active, PlacementType.EMERGENCY])
        if w.sum() <= 0:  # "even", or no shortfall anywhere
            w[active] = 1.0
        return w / w.sum()

    def _commission(self, model: CareMarketModel, la: int) -> None:
        lead = max(round(self.params["lead_weeks"]), 1)
        weekly = self.capital_per_home / lead
        model.outcomes.policy_spend[la] += weekly
        self._building.append((model.week + lead, la, weekly, model.week))
        self.homes_commissioned += 1

    def _open_due(self, model: CareMarketModel) -> None:
        if not self._building or self._building[0][0] > model.week:
            return
        due = [b for b in self._building if b[0] <= model.week]
        self._building = [b for b in self._building if b[0] > model.week]
        for _, la, weekly, started in due:
            withdraw_spend(model, la, weekly)
            home = open_home(model, self._operator(model, la), la, self.rng)
            self.homes_opened += 1
            self.places_opened += home.places
            self.records.append({
                "la": model.geography.las[la].ons_code, "week_commissioned": started,
                "week_opened": model.week, "places": home.places,
                "capital_gbp": self.capital_per_home})

    def _operator(self, model: CareMarketModel, la: int) -> Provider:
        """The LA's own children's-homes service (set up if it has no homes yet)."""
        prov = self._operators.get(la)
        if prov is None:
            info = model.geography.las[la]
            prov = new_operator(model, "homes", Sector.LOCAL_AUTHORITY, info.region,
                                f"{info.name} children's homes")
            prov.home_la = la
            self._operators[la] = prov
        return prov

    # -- results -----------------------------------------------------------------------
    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        columns = ["la", "week_commissioned", "week_opened", "places", "capital_gbp"]
        return {"capital_programme": pd.DataFrame(getattr(self, "records", []),
                                                  columns=columns)}
