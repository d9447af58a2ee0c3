"""Supported accommodation for 16-17-year-olds: who is offered it first, and providers
opening units where LAs' young people use it. Real models at small scale."""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from sim.model import WEEKS_PER_YEAR, CareMarketModel
from sim.supply import SUPPORTED_UNIT_PLACES
from sim.types import Need, PlacementType


def _young_person(model: CareMarketModel, entered_at: float):
    child = next(c for c in model.children.values()
                 if c.need == Need.STANDARD and not c.uasc and 16.2 <= c.age() < 17.5)
    child.entered_week = child.birth_week + entered_at * WEEKS_PER_YEAR
    return child


def test_young_people_entering_care_at_16_are_offered_supported_accommodation_first() -> None:
    model = CareMarketModel(None, seed=1, scale=0.02)
    late = _young_person(model, 16.0)
    assert model.commissioner.tiers(late, 1)[0] == (PlacementType.SUPPORTED, True)
    early = _young_person(model, 9.0)
    assert model.commissioner.tiers(early, 1)[0] == (PlacementType.LA_FOSTER, True)
    # Siblings placed together are not offered supported accommodation.
    assert all(t != PlacementType.SUPPORTED for t, _ in model.commissioner.tiers(late, 2))


def test_entry_age_18_keeps_supported_first_for_unaccompanied_children_only() -> None:
    model = CareMarketModel(None, seed=1, scale=0.02,
                            **{"matching.supported_first_entry_age": 18.0})
    late = _young_person(model, 16.5)
    assert model.commissioner.tiers(late, 1)[0] == (PlacementType.LA_FOSTER, True)


def _units_by_la(model: CareMarketModel) -> dict[int, int]:
    units: dict[int, int] = {}
    for s in model.settings[PlacementType.SUPPORTED]:
        units[s.location_la] = units.get(s.location_la, 0) + 1
    return units


def _using_by_la(model: CareMarketModel) -> Counter[int]:
    """Young people in supported accommodation (wherever it is), by their own LA."""
    return Counter(c.la for s in model.settings[PlacementType.SUPPORTED] for c in s.occupants)


class EntryRound(NamedTuple):
    """One quarterly supported-accommodation entry round, with the state before it."""

    model: CareMarketModel
    before: dict[int, int]  # units by LA
    using: Counter[int]  # young people in supported accommodation by their LA
    places: dict[int, int]  # usable places by LA
    after: dict[int, int]  # units by LA after the round


def _usable_places_by_la(model: CareMarketModel) -> dict[int, int]:
    places: dict[int, int] = {}
    for s in model.settings[PlacementType.SUPPORTED]:
        places[s.location_la] = places.get(s.location_la, 0) + s.places - s.blocked
    return places


def _one_entry_round(threshold: float) -> EntryRound:
    model = CareMarketModel(None, seed=1, scale=0.05,
                            **{"residential.supported_entry_occupancy": threshold})
    before, using, places = _units_by_la(model), _using_by_la(model), _usable_places_by_la(model)
    model.market.supported_entry()
    return EntryRound(model, before, using, places, _units_by_la(model))


def test_a_unit_opens_where_young_people_fill_the_places() -> None:
    # At 0.1, a unit opens in every LA whose young people in supported accommodation
    # (wherever they live) number at least a tenth of the usable places in the LA,
    # counting the new unit's 6.
    model, before, used, places, after = _one_entry_round(0.1)
    due = {la for la, n in used.items()
           if n >= 0.1 * (places.get(la, 0) + SUPPORTED_UNIT_PLACES)}
    assert due
    assert {la for la in after if after[la] > before.get(la, 0)} == due
    assert model.market.supported_opened == len(due)
    for s in model.settings[PlacementType.SUPPORTED]:
        assert s.price > 0 and s.provider.active


def test_no_unit_opens_that_its_young_people_would_not_fill() -> None:
    # At 10 young people per place (60 for a first unit) nothing is due at this scale.
    _, before, using, _, after = _one_entry_round(10.0)
    assert using and after == before
    # At the default 0.9, an LA with no unit of its own and fewer than 0.9 x 6 young
    # people in other LAs' units gets none (it could not fill one: it would fail).
    _, before, using, _, after = _one_entry_round(0.9)
    few = {la for la, n in using.items() if la not in before and n < 5.4}
    assert few and not any(la in after for la in few)
