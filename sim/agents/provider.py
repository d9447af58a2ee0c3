"""Providers (IFAs and children's-home operators) and the homes they own.

A provider holds the money: revenue from the placements in its settings, running
costs, interest on debt and cash. When cash runs out it exits, and its homes close
(or, under financial oversight, pass to another operator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.agents.foster_household import ifa_carer_cost
from sim.agents.setting import CareSetting
from sim.types import Need, PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.child import Child


class Provider(mesa.Agent):
    """An IFA or a children's-home operator (private, voluntary or LA-run)."""

    def __init__(self, model, kind: str, sector: Sector, region: str, cash: float,
                 debt: float, interest_rate: float, markup: float, name: str = "") -> None:
        super().__init__(model)
        self.kind = kind  # "ifa", "homes" or "supported"
        self.sector = sector
        self.region = region
        self.cash = cash
        self.debt = debt
        self.interest_rate = interest_rate
        self.markup = markup
        self.name = name or f"{kind}-{self.unique_id}"
        self.settings: list[CareSetting] = []
        self.active = True
        self.revenue_rate = 0.0  # sum of weekly prices of children placed now
        # An IFA's open carers' places and those filled (kept by FosterHousehold).
        self.carer_places = 0
        self.carer_filled = 0
        self.revenue_to_date = 0.0
        self.cost_to_date = 0.0
        self.quarter_revenue = 0.0
        self.quarter_cost = 0.0
        self.cost_multiplier = 1.0  # running-cost shock, redrawn each quarter
        self.distressed = False
        self.covered_by_oversight = False

    @property
    def places(self) -> int:
        return sum(s.places for s in self.settings if s.open)

    @property
    def occupied(self) -> int:
        return sum(len(s.occupants) for s in self.settings if s.open)

    def weekly_revenue(self) -> float:
        """Weekly income from current placements (a running total kept by the model)."""
        return self.revenue_rate

    def weekly_cost(self) -> float:
        """Running costs of open settings (mostly fixed: staff) plus interest."""
        if self.kind == "ifa":
            # Carers' fees for filled places plus support for empty ones, from running
            # totals (an IFA group has thousands of households).
            running = ifa_carer_cost(self.model.scenario.prices.ifa_cost, self.carer_filled,
                                     self.carer_places - self.carer_filled)
        else:
            running = sum(s.running_cost() for s in self.settings if s.open)
        return running * self.cost_multiplier + self.debt * self.interest_rate / 52.1775

    @property
    def margin(self) -> float:
        """Operating margin over the year to date: (revenue - costs) / revenue."""
        if self.quarter_revenue <= 0:
            return 0.0
        return (self.quarter_revenue - self.quarter_cost) / self.quarter_revenue


class ChildrensHome(CareSetting):
    """A registered children's home. Costs are mostly fixed, so occupancy drives profit."""

    def __init__(self, model, provider: Provider, la: int, postcode: int, easting: float,
                 northing: float, places: int, price: float, cost_per_place: float,
                 specialist: bool, min_age: float) -> None:
        super().__init__(model, la, postcode, easting, northing, places, price)
        self._provider = provider
        self.ptype = (PlacementType.LA_HOME if provider.sector == Sector.LOCAL_AUTHORITY
                      else PlacementType.PRIVATE_HOME)
        self.cost_per_place = cost_per_place
        self.specialist = specialist
        self.min_age = min_age
        self.band = (min_age, 18.0, specialist)

    @property
    def provider(self) -> Provider:
        return self._provider

    @provider.setter
    def provider(self, operator: Provider) -> None:
        # A new operator takes the home over as a going concern (e.g. financial oversight).
        self._provider = operator

    def running_cost(self) -> float:
        return self.cost_per_place * self.places

    def accepts(self, child: Child) -> bool:
        return child.age() >= self.min_age

    def fits(self, child: Child) -> bool:
        return child.need == Need.STANDARD or self.specialist


class SupportedHome(CareSetting):
    """Supported accommodation for 16-17-year-olds (semi-independent living)."""

    ptype = PlacementType.SUPPORTED
    band = (16.0, 18.0, False)

    def __init__(self, model, provider: Provider, la: int, postcode: int, easting: float,
                 northing: float, places: int, price: float, cost_per_place: float) -> None:
        super().__init__(model, la, postcode, easting, northing, places, price)
        self._provider = provider
        self.cost_per_place = cost_per_place

    @property
    def provider(self) -> Provider:
        return self._provider

    @provider.setter
    def provider(self, operator: Provider) -> None:
        self._provider = operator

    def running_cost(self) -> float:
        # Supported accommodation is largely paid per occupied bed.
        return self.cost_per_place * (0.4 * self.places + 0.6 * len(self.occupants))

    def accepts(self, child: Child) -> bool:
        return child.age() >= 16

    def fits(self, child: Child) -> bool:
        return child.need == Need.STANDARD
