"""A local authority: holds the sufficiency duty and buys or provides placements."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.geography import LocalAuthority


class LocalAuthorityAgent(mesa.Agent):
    """One of the 152 LAs as a buyer and provider of care.

    The hooks here are what policies change: which LAs' in-house carers this LA may use
    (:attr:`foster_pool`), who it buys as (:attr:`buyer`, an LA or a regional
    cooperative), and frictions on matching. Policies set them; agent code never tests
    which policy is on.
    """

    def __init__(self, model, info: LocalAuthority, budget: float) -> None:
        super().__init__(model)
        self.index = info.index
        self.info = info
        self.code = info.ons_code
        self.name = info.name
        self.region = info.region
        self.budget = budget  # weekly placement budget, pounds (2019 spend; reported against)
        self.foster_pool: tuple[int, ...] = (info.index,)
        self.home_pool: tuple[int, ...] = (info.index,)
        self.buyer: str = info.ons_code
        self.breakdown_multiplier = 1.0  # e.g. loss of local knowledge
        # Extra breakdown hazard for placements outside the child's own LA (a regional
        # commissioner matching without the LA's local knowledge).
        self.out_of_area_breakdown_multiplier = 1.0
        # Weeks a child needing a new placement waits in an interim (emergency) placement
        # before the search: a commissioner apart from the child's LA matches more slowly.
        self.matching_delay_weeks = 0
        # Per-cohort overrides (nested commissioning): (placement type, need) -> pool and
        # need -> buyer. Empty: the LA-level pools and buyer above serve every child.
        self.cohort_pools: dict[tuple[int, int], tuple[int, ...]] = {}
        self.cohort_buyers: dict[int, str] = {}
        self.spend_to_date = 0.0
        self.placements_made = 0

    def buyer_for(self, need: int) -> str:
        """Who buys this LA's placements for a child with ``need`` (its cohort's tier)."""
        return self.cohort_buyers.get(need, self.buyer) if self.cohort_buyers else self.buyer
