"""Block contracts: reserved homes serve only their buyer, and voids are paid for."""

from __future__ import annotations

import pytest

from sim.model import CareMarketModel
from sim.types import PlacementType


@pytest.fixture(scope="module")
def model():
    m = CareMarketModel(None, seed=3, scale=0.1)
    for _ in range(60):
        m.step()
    return m


def test_buyers_hold_block_contracts(model):
    assert model.contracts.active, "no LA block-booked any home"
    for c in model.contracts.active:
        assert c.home.reserved_for == c.buyer
        assert c.start <= model.week < c.end


def test_reserved_places_only_go_to_their_buyer(model):
    # Every child placed in a reserved home since its contract began belongs to the buyer.
    starts = {c.home: c.start for c in model.contracts.active}
    for home, start in starts.items():
        for child in home.occupants:
            if child.placed_week > start:
                assert model.las[child.la].buyer == home.reserved_for


def test_other_buyers_cannot_find_reserved_places(model):
    reserved = {c.home for c in model.contracts.active}
    general = {s for la in range(len(model.las))
               for s in model.vacancies.listed(PlacementType.PRIVATE_HOME, la)}
    assert not reserved & general  # block-booked homes are not on the open market
    for c in model.contracts.active:
        held = model.vacancies.reserved_for(c.buyer)
        assert (c.home in held) == (c.home.free_places > 0)


def test_voids_are_paid_and_counted_in_spend(model):
    expected = sum(max(c.home.places - len(c.home.occupants), 0) * c.price
                   for c in model.contracts.active)
    model.contracts.settle(0)
    assert model.contracts.total_void_spend() == pytest.approx(expected)


def test_no_block_contracts_when_switched_off():
    m = CareMarketModel(None, seed=3, scale=0.05, **{"matching.block_contract_share": 0.0})
    for _ in range(53):
        m.step()
    assert not m.contracts.active
    assert m.contracts.total_void_spend() == 0


def test_nearest_free_homes_are_in_order_and_skip_homes_booked_since(model):
    from sim.geography import distance_miles

    contracts = model.contracts
    free = contracts._free_homes()
    homes = free[0]
    assert homes and all(h.reserved_for is None and h.open for h in homes)
    la = model.active_las[0]
    info = model.geography.las[la]
    radius = model.scenario.matching.home_radius_miles

    def miles(h):
        return float(distance_miles(info.centroid_easting, info.centroid_northing,
                                    h.easting, h.northing))

    near = list(contracts._nearest(free, la))
    assert near, "no free home within the radius of the first LA"
    assert [miles(h) for h in near] == sorted(miles(h) for h in near)
    assert all(miles(h) <= radius for h in near)
    assert set(near) == {h for h in homes if miles(h) <= radius}
    # A home booked after the listing (by an earlier LA in the same round) is passed over.
    first = near[0]
    first.reserved_for = "someone else"
    try:
        assert first not in list(contracts._nearest(free, la))
    finally:
        first.reserved_for = None
