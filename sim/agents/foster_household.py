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


class CarerTotals:
    """Running totals of the mainstream (LA and IFA) households taking children.

    Kept at every change (:meth:`FosterHousehold.file_totals`), so the supply snapshot
    need not walk some 35,000 households. A household that is deregistering (retiring)
    is not counted; ``filled`` counts children placed and young people Staying Put.
    """

    def __init__(self) -> None:
        self.households = 0
        self.places = 0
        self.filled = 0


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
        # Mainstream households keep running totals (their IFA's, and England's):
        # what was last filed: open places, filled places, whether counted nationally.
        self.totalled = ptype != PlacementType.KINSHIP
        self.filed_places = self.filed_filled = 0
        self.filed_counted = False

    @property
    def provider(self):
        return self.service if self.ptype == PlacementType.IFA_FOSTER else None

    def accepts(self, child: Child) -> bool:
        if self.ptype == PlacementType.KINSHIP:
            return True
        return self.min_age <= child.age() < self.max_age

    def fits(self, child: Child) -> bool:
        return child.need == Need.STANDARD or self.complex_ok or self.ptype == PlacementType.KINSHIP

    def file_totals(self) -> None:
        """Bring the running totals up to date with this household (the vacancy index
        calls this on every change to its occupancy, Staying Put, retirement or opening).

        An IFA's totals count every open household (it pays carers until they leave);
        England's count those still taking children. Every household keeps
        ``occupants + staying_put <= places`` (a place is only filled when free, and
        Staying Put blocks the place it keeps), so an IFA's empty places are its places
        less its filled ones.
        """
        if (self.filed_counted and self.open and not self.retiring
                and self.places == self.filed_places):
            # The usual change (an admission or a discharge): only filled places move.
            change = len(self.occupants) + self.staying_put - self.filed_filled
            if change:
                self.filed_filled += change
                self.model.carer_totals.filled += change
                if self.ptype == PlacementType.IFA_FOSTER:
                    self.service.carer_filled += change
            return
        places = self.places if self.open else 0
        filled = len(self.occupants) + self.staying_put if places else 0
        counted = places > 0 and not self.retiring
        old_places, old_filled = self.filed_places, self.filed_filled
        if self.ptype == PlacementType.IFA_FOSTER:
            self.service.carer_places += places - old_places
            self.service.carer_filled += filled - old_filled
        totals = self.model.carer_totals
        if self.filed_counted:
            totals.households -= 1
            totals.places -= old_places
            totals.filled -= old_filled
        if counted:
            totals.households += 1
            totals.places += places
            totals.filled += filled
        self.filed_places, self.filed_filled, self.filed_counted = places, filled, counted

    def change_service(self, operator) -> None:
        """The household passes to another IFA (a sale): its places go with it."""
        places, filled = self.filed_places, self.filed_filled
        if self.ptype == PlacementType.IFA_FOSTER:
            self.service.carer_places -= places
            self.service.carer_filled -= filled
            operator.carer_places += places
            operator.carer_filled += filled
        self.service = operator

    def running_cost(self) -> float:
        """IFA's weekly cost for this household: fees for filled places plus support."""
        occupied = len(self.occupants) + self.staying_put
        return ifa_carer_cost(self.cost_per_place, occupied, max(self.places - occupied, 0))

    @property
    def cost_per_place(self) -> float:
        return self.model.scenario.prices.ifa_cost
