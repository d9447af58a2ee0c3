"""Block contracts: whole children's homes reserved for one buyer at an agreed price.

Alongside spot purchase, LAs block-book homes: the buyer (an LA, or a cooperative when
a policy pools buying) gets sole use of the home's free places at a discount, and pays for
every place whether filled or not (void cost). Providers trade margin for guaranteed
income. Each year, on 31 March, every buyer tops its reserved places up to a share of
the children it has in children's homes, choosing free homes nearest to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.geography import distance_miles
from sim.types import PlacementType

if TYPE_CHECKING:
    from sim.agents.provider import ChildrensHome
    from sim.model import CareMarketModel


@dataclass
class BlockContract:
    """One home reserved for one buyer from ``start`` to ``end`` (model weeks)."""

    buyer: str
    la: int  # the LA that signed (and pays the voids)
    home: ChildrensHome
    price: float  # weekly price per place, pounds
    start: int
    end: int


class BlockContracts:
    """All block contracts in a run: commissioning, void payments and expiry."""

    def __init__(self, model: CareMarketModel) -> None:
        self.model = model
        self.active: list[BlockContract] = []
        self.void_spend: dict[int, float] = {}

    def reserved_places(self, buyer: str) -> int:
        return sum(c.home.places for c in self.active if c.buyer == buyer)

    def commission(self) -> None:
        """Yearly: expire old contracts, then top up each buyer to its target share."""
        m = self.model
        p = m.scenario.matching
        week = m.week
        for c in [c for c in self.active if c.end <= week]:
            self._release(c)
        if p.block_contract_share <= 0:
            return
        in_homes = m.outcomes.count[:, PlacementType.PRIVATE_HOME]
        held: dict[int, int] = {}
        for c in self.active:
            held[c.la] = held.get(c.la, 0) + c.home.places
        free = self._free_homes()
        for la in m.active_las:
            target = p.block_contract_share * float(in_homes[la])
            self._top_up(m.las[la].buyer, la, free, held.get(la, 0), target)

    def reserve_near(self, buyer: str, la: int, places: float) -> int:
        """Block-book free homes nearest to ``la`` for ``buyer`` until about ``places``
        places are held (regional commissioning near forecast demand); returns places held.
        The signing LA ``la`` pays the voids. Discount and length as for yearly contracts."""
        return self._top_up(buyer, la, self._free_homes(), 0, places)

    def _top_up(self, buyer: str, la: int,
                free: tuple[list[ChildrensHome], np.ndarray, np.ndarray],
                held: int, target: float) -> int:
        """Block-book the homes of ``free`` nearest to ``la`` for ``buyer`` until about
        ``target`` places are held (``held`` already are); returns the places held."""
        if held >= target - 0.5:
            return held
        p = self.model.scenario.matching
        for home in self._nearest(free, la):
            if held >= target - 0.5:
                break
            self._reserve(buyer, la, home, p.block_discount, round(p.block_years * 52.1775))
            held += home.places
        return held

    def _free_homes(self) -> tuple[list[ChildrensHome], np.ndarray, np.ndarray]:
        """Unreserved private homes of active providers, with their grid references.

        Children already living in a home stay when it is block-booked; from then on
        its free places go only to the buyer.
        """
        homes = [h for h in self.model.settings[PlacementType.PRIVATE_HOME]
                 if h.open and h.reserved_for is None and h.provider.active]
        return (homes, np.array([h.easting for h in homes], dtype=float),
                np.array([h.northing for h in homes], dtype=float))

    def _nearest(self, free: tuple[list[ChildrensHome], np.ndarray, np.ndarray], la: int
                 ) -> Iterator[ChildrensHome]:
        """Homes of ``free`` within the home search radius of ``la``, nearest first,
        skipping any reserved since ``free`` was listed (one listing serves every LA in a
        commissioning round)."""
        homes, east, north = free
        if not homes:
            return
        info = self.model.geography.las[la]
        miles = distance_miles(info.centroid_easting, info.centroid_northing, east, north)
        radius = self.model.scenario.matching.home_radius_miles
        for i in miles.argsort(kind="stable").tolist():
            if miles[i] <= radius and homes[i].reserved_for is None:
                yield homes[i]

    def _reserve(self, buyer: str, la: int, home: ChildrensHome, discount: float,
                 weeks: int) -> None:
        m = self.model
        price = home.price * (1 - discount)
        home.reserved_for = buyer
        home.price = price
        m.vacancies.refresh(home)
        self.active.append(BlockContract(buyer, la, home, price, m.week, m.week + weeks))

    def _release(self, c: BlockContract) -> None:
        self.active.remove(c)
        c.home.reserved_for = None
        if c.home.open:
            self.model.market.price_setting(c.home)
            self.model.vacancies.refresh(c.home)

    def settle(self, weeks: int) -> None:
        """Pay for empty reserved places: income to the provider, spend for the LA."""
        self.void_spend = {}
        for c in list(self.active):
            if not c.home.open:
                self._release(c)
                continue
            voids = max(c.home.places - len(c.home.occupants), 0)
            weekly = voids * c.price
            c.home.provider.cash += weekly * weeks
            c.home.provider.revenue_to_date += weekly * weeks
            c.home.provider.quarter_revenue += weekly * weeks
            self.void_spend[c.la] = self.void_spend.get(c.la, 0.0) + weekly

    def total_void_spend(self) -> float:
        return float(sum(self.void_spend.values()))
