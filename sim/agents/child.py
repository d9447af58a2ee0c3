"""A child in care: the unit of demand in the placement market."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.types import Need, PlacementType, suitable_types

if TYPE_CHECKING:
    from sim.agents.setting import CareSetting

WEEKS_PER_YEAR = 52.1775


class Child(mesa.Agent):
    """A looked-after child with a home LA, a real home postcode and needs.

    Children do not act every week: everything that happens to them (leaving care,
    a placement ending) is an event scheduled on the model's calendar, so the cost of a
    run grows with events, not with children x weeks.
    """

    def __init__(self, model, la: int, postcode: int, easting: float, northing: float,
                 birth_week: float, male: bool, need: Need, uasc: bool,
                 legal_status: str, entered_week: float) -> None:
        super().__init__(model)
        # Plain Python numbers: NumPy scalars (from vectorised draws) are several times
        # slower in the arithmetic every event does (ages, distances), with equal values.
        if isinstance(entered_week, np.generic):
            entered_week = entered_week.item()
        self.la = la
        self.postcode = postcode
        self.easting = float(easting)
        self.northing = float(northing)
        self.birth_week = float(birth_week)
        self.male = male
        self.need = need
        self.uasc = uasc
        self.legal_status = legal_status
        self.entered_week = entered_week
        self.sibling_group = -1
        self.setting: CareSetting | None = None
        self.ptype: PlacementType | None = None
        self.placed_week = entered_week
        self.weekly_cost = 0.0
        self.distance = 0.0
        self.placement_starts: list[float] = []
        self.exit_week = float("inf")
        self.exit_reason = -1
        self.token = 0  # bumped when a scheduled event for this child becomes stale
        self.displaced = False
        self.avoid: object = None  # the setting a broken-down placement was in
        self.misfit = False

    def age(self, week: float | None = None) -> float:
        """Age in years at a model week (default: now)."""
        now = self.model.week if week is None else week
        return (now - self.birth_week) / WEEKS_PER_YEAR

    @property
    def suitable(self) -> frozenset[PlacementType]:
        return suitable_types(self.need, self.age())

    @property
    def well_placed(self) -> bool:
        """Placed in the kind of home the child's needs call for (sufficiency)."""
        if self.ptype is None or self.ptype == PlacementType.EMERGENCY:
            return False
        if self.ptype in (PlacementType.WITH_PARENTS, PlacementType.ADOPTION):
            return True
        return self.ptype in self.suitable and not self.misfit
