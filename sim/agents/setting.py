"""A place where children live: the shared base of foster households and homes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.types import PlacementType

if TYPE_CHECKING:
    from sim.agents.child import Child


class CareSetting(mesa.Agent):
    """Somewhere with a fixed number of places at a real postcode.

    Capacity is enforced here and only here: :meth:`admit` refuses a child when no
    usable place is free, so no setting can ever be over capacity.
    """

    ptype: PlacementType
    band: tuple[float, float, bool] = (0.0, 18.0, False)
    """(min age, max age, takes complex needs): the vacancy index's key for searches."""
    reserved_for: str | None = None
    """Buyer holding a block contract on this setting (None: open to every buyer)."""
    reserved_key: str | None = None
    """Buyer whose reserved list currently holds this setting (kept by the index)."""
    sid: int = -1
    """The setting's id in the vacancy index (-1: never refreshed)."""
    slot: int = -1
    """The vacancy index's (placement type, LA) slot for this setting (set with ``sid``)."""
    slot_index: int = -1
    """Where the vacancy index files this setting's free places (-1: no free place)."""
    filed_band: tuple | None = None
    """The band the vacancy index last recorded (re-filed when ``band`` is replaced)."""
    totalled: bool = False
    """Whether :meth:`file_totals` keeps running supply totals (mainstream foster carers)."""

    def __init__(self, model, la: int, postcode: int, easting: float, northing: float,
                 places: int, price: float) -> None:
        super().__init__(model)
        self.la = la  # LA whose vacancy list holds this setting (the owner, for LA carers)
        self.location_la = la  # LA the setting's postcode is in
        self.postcode = postcode
        self.easting = float(easting)  # plain floats: see Child
        self.northing = float(northing)
        self.places = places
        self.blocked = 0  # places not usable (carer on a break, staffing) or held (Staying Put)
        self.occupants: list[Child] = []
        self._price = price
        self.open = True
        self.opened_week = model.week if hasattr(model, "week") else 0

    @property
    def price(self) -> float:
        """Weekly price quoted for a new placement, pounds."""
        return self._price

    @price.setter
    def price(self, value: float) -> None:
        # A vacancy's price is also filed in the vacancy index, which the search scores.
        self._price = value
        if self.slot_index >= 0:
            self.model.vacancies.price[self.slot_index] = value

    @property
    def provider(self):
        """The independent provider paid for this setting, or None (LA-provided)."""
        return None

    @property
    def free_places(self) -> int:
        """Places a new child could take now."""
        return self.places - self.blocked - len(self.occupants) if self.open else 0

    def file_totals(self) -> None:
        """Update running supply totals after a change (only foster households keep any)."""

    def accepts(self, child: Child) -> bool:
        """Whether this setting's registration or approval covers the child."""
        return True

    def fits(self, child: Child) -> bool:
        """Whether the setting meets the child's needs (not just accepts them)."""
        return True

    def admit(self, child: Child) -> None:
        if self.free_places <= 0:
            raise RuntimeError(f"{type(self).__name__} {self.unique_id} is full")
        self.occupants.append(child)
        self.model.vacancies.refresh(self)

    def discharge(self, child: Child) -> None:
        self.occupants.remove(child)
        self.model.vacancies.refresh(self)

    def close(self) -> list[Child]:
        """Stop operating; returns the children who must now be moved."""
        self.open = False
        displaced = list(self.occupants)
        self.model.vacancies.refresh(self)
        return displaced
