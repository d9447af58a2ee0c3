"""A foster household: an approved carer with places, an approval range and a service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.agents.setting import CareSetting
from sim.types import Need, PlacementType

if TYPE_CHECKING:
    from sim.agents.child import Child


def ifa_carer_cost(cost_per_place: float, filled: int, empty: int) -> float:
    """An IFA's weekly cost of carers: full fee for filled places, a retainer for empty ones."""
    return cost_per_place * (0.85 * filled + 0.15 * empty)


class FosterHousehold(CareSetting):
    """Kinship, LA in-house or IFA foster carer at a real postcode.

    ``service`` is the LA index (in-house and kinship) or the IFA provider that
    approved the household and pays it. The approval range decides which children the
    household may take: ages, whether it takes children with complex needs, and so
    (through its places) sibling groups.
    """

    def __init__(self, model, ptype: PlacementType, service, la: int, postcode: int,
                 easting: float, northing: float, places: int, price: float,
                 min_age: float = 0.0, max_age: float = 18.0, complex_ok: bool = False) -> None:
        super().__init__(model, la, postcode, easting, northing, places, price)
        self.ptype = ptype
        self.service = service
        self.min_age = min_age
        self.max_age = max_age
        self.complex_ok = complex_ok
        self.staying_put = 0  # places held by young people Staying Put after 18
        self.retiring = False  # deregistered: takes no one new, leaves once empty
        if ptype == PlacementType.KINSHIP:
            self.band = (0.0, 18.0, True)
        else:
            self.band = (min_age, max_age, complex_ok)

    @property
    def provider(self):
        return self.service if self.ptype == PlacementType.IFA_FOSTER else None

    def accepts(self, child: Child) -> bool:
        if self.ptype == PlacementType.KINSHIP:
            return True
        return self.min_age <= child.age() < self.max_age

    def fits(self, child: Child) -> bool:
        return child.need == Need.STANDARD or self.complex_ok or self.ptype == PlacementType.KINSHIP

    def running_cost(self) -> float:
        """IFA's weekly cost for this household: fees for filled places plus support."""
        occupied = len(self.occupants) + self.staying_put
        return ifa_carer_cost(self.cost_per_place, occupied, max(self.places - occupied, 0))

    @property
    def cost_per_place(self) -> float:
        return self.model.scenario.prices.ifa_cost
