"""A national tariff or open-book pricing instead of bilateral spot purchase.

ADCS's response to *Stable Homes, Built on Love* (April 2023) proposed national
pricing: providers open their books and are paid running cost plus an allowed margin,
not what scarcity and a fragmented set of buyers let them charge. With ``basis =
"national"`` every placement of a kind is paid one national price: the mean running
cost per place of open independent children's homes (recomputed at each price review)
at target occupancy, times ``1 + allowed_markup_homes``, with ``specialist_uplift`` for
homes that take complex needs. With ``basis = "own_cost"`` (open book) each home is
paid its own running cost at target occupancy times ``1 + allowed_markup_homes``. IFA
carers and supported accommodation are paid their (uniform) cost plus their allowed
markup either way. Prices change at the market's next price review; placements already
made keep their price. Providers whose costs exceed the tariff lose money and, through
cash and entry, fail or stop opening homes. Running the tariff costs
``admin_cost_gbp_per_year`` (``policy_spend``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from sim.agents.foster_household import FosterHousehold
from sim.agents.provider import ChildrensHome, SupportedHome
from sim.policies._provision import check_kinds, spread_by_population, withdraw_spend
from sim.policies.base import Policy, register
from sim.types import PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel

KINDS = ("homes", "ifa", "supported")


@register
class NationalTariff(Policy):
    """Cost-based national prices per placement type, set at each price review."""

    name = "national_tariff"
    defaults: ClassVar[dict[str, Any]] = {
        "basis": "national",
        "kinds": ["homes", "ifa", "supported"],
        # The model's calibrated base markups (prices.home_markup, prices.ifa_markup):
        # the tariff keeps a normal margin and removes scarcity and fragmentation premia.
        "allowed_markup_homes": 0.24,
        "allowed_markup_ifa": 0.22,
        "allowed_markup_supported": 0.22,
        "specialist_uplift": 0.0,
        "admin_cost_gbp_per_year": 2_000_000.0,
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "allowed_markup_homes": (-0.5, 5.0, "markup on running cost at target occupancy"),
        "allowed_markup_ifa": (-0.5, 5.0, "markup on cost"),
        "allowed_markup_supported": (-0.5, 5.0, "markup on cost"),
        "specialist_uplift": (0.0, 5.0, "extra share for homes taking complex needs"),
        "admin_cost_gbp_per_year": (0.0, 1e10, "GBP/year for England"),
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"basis": ("national", "own_cost")}

    def validate(self, where: str, model_geography=None) -> None:
        check_kinds(where, self.params["kinds"], KINDS)

    def initialize(self, model: CareMarketModel) -> None:
        self._model = model
        self._home_cost = 0.0
        self._spend: dict[int, float] = {}
        self.reviews: list[dict[str, Any]] = []

    def switch_on(self, model: CareMarketModel) -> None:
        self._review(model)
        model.market.setting_price_hooks.append(self._price)
        self._spend = spread_by_population(model, self.params["admin_cost_gbp_per_year"])
        for la, weekly in self._spend.items():
            model.outcomes.policy_spend[la] += weekly

    def switch_off(self, model: CareMarketModel) -> None:
        model.market.setting_price_hooks.remove(self._price)
        for la, weekly in self._spend.items():
            withdraw_spend(model, la, weekly)
        self._spend = {}

    def weekly(self, model: CareMarketModel) -> None:
        if model.week % model.scenario.prices.reprice_weeks == 0:
            self._review(model)  # before the market's price review later this week

    def _review(self, model: CareMarketModel) -> None:
        """Open-book review: the mean running cost per place of independent homes."""
        costs = [s.cost_per_place for s in model.settings[PlacementType.PRIVATE_HOME]
                 if s.open]
        if costs:
            self._home_cost = sum(costs) / len(costs)
        p = model.scenario.prices
        self.reviews.append({
            "week": model.week,
            "home_tariff_gbp": self._home_cost / p.target_occupancy
            * (1 + self.params["allowed_markup_homes"]),
            "ifa_tariff_gbp": p.ifa_cost * (1 + self.params["allowed_markup_ifa"]),
            "supported_tariff_gbp": p.supported_cost
            * (1 + self.params["allowed_markup_supported"])})

    def _price(self, s: CareSetting, price: float) -> float:
        prov = s.provider
        if prov is None or prov.sector == Sector.LOCAL_AUTHORITY or prov.kind not in \
                self.params["kinds"]:
            return price
        p, prices = self.params, self._model.scenario.prices
        if isinstance(s, ChildrensHome):
            cost = self._home_cost if p["basis"] == "national" else s.cost_per_place
            tariff = cost / prices.target_occupancy * (1 + p["allowed_markup_homes"])
            return tariff * (1 + p["specialist_uplift"]) if s.specialist else tariff
        if isinstance(s, SupportedHome):
            return prices.supported_cost * (1 + p["allowed_markup_supported"])
        if isinstance(s, FosterHousehold):
            return prices.ifa_cost * (1 + p["allowed_markup_ifa"])
        return price

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        columns = ["week", "home_tariff_gbp", "ifa_tariff_gbp", "supported_tariff_gbp"]
        return {"national_tariff": pd.DataFrame(getattr(self, "reviews", []), columns=columns)}
