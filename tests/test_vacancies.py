"""The vacancy index and its compiled search, against a plain-Python reading of the rules.

The model-level invariants (tests/test_model.py) check that the index always matches
the settings; here random markets check that ``scan_tiers`` picks exactly the setting
the documented rules pick -- walk order, eligibility, draws, radius stop, shortlist
length and score -- and consumes the same random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.geography import METRES_PER_MILE
from sim.vacancies import VacancyIndex, scan_tiers

MASK = (1 << 64) - 1


def _uniform(state: list[int]) -> float:
    """SplitMix64, as the compiled search draws it."""
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & MASK
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    return (z >> 11) / 9007199254740992.0


@dataclass(eq=False)
class Place:
    """Just what the index reads from a care setting."""

    ptype: int
    la: int
    places: int
    band: tuple[float, float, bool]
    price: float
    easting: float
    northing: float
    blocked: int = 0
    occupants: list = field(default_factory=list)
    open: bool = True
    reserved_for: str | None = None
    reserved_key: str | None = None
    sid: int = -1
    slot_index: int = -1
    filed_band: tuple | None = None
    totalled: bool = False  # not a foster household: no running supply totals

    @property
    def free_places(self) -> int:
        return self.places - self.blocked - len(self.occupants) if self.open else 0


N_LAS = 4
# Two placement types and mostly open, mostly free settings, so most searches find some.
place = st.builds(
    Place, ptype=st.integers(1, 2), la=st.integers(0, N_LAS - 1), places=st.integers(1, 4),
    band=st.tuples(st.sampled_from([0.0, 0.0, 5.0, 11.0]), st.sampled_from([12.0, 18.0]),
                   st.booleans()),
    price=st.sampled_from([450.0, 820.0, 4000.0]),
    easting=st.floats(0, 50_000), northing=st.floats(0, 50_000),
    occupants=st.lists(st.none(), max_size=2), open=st.sampled_from([True] * 5 + [False]),
    reserved_for=st.sampled_from([None] * 5 + ["x"]))
tier = st.tuples(st.integers(1, 2), st.booleans(), st.permutations(range(N_LAS)),
                 st.floats(1, 60))


def _reference(places: list[Place], tiers, miles, youngest, oldest, special, need, avoid,
               k, p, state, la, e, n, cw, dw, pen):
    """The rules in plain Python over the index's own filing order."""
    index_order = {}
    for s in places:
        if s.slot_index >= 0:
            index_order.setdefault((s.ptype, s.la), []).append(s)
    for v in index_order.values():
        v.sort(key=lambda s: s.slot_index)
    for t, (ptype, must_fit, walk, radius) in enumerate(tiers):
        found, best, best_score = 0, -1, math.inf
        for j, other in enumerate(walk):
            if found and miles[j] > radius:
                break
            for s in index_order.get((ptype, other), []):
                low, high, complex_ok = s.band
                if (s.free_places < need or low > youngest or oldest >= high
                        or (special and must_fit and not complex_ok)):
                    continue
                if _uniform(state) >= p or s.sid in avoid:
                    continue
                score = (cw * s.price + dw * math.hypot(e - s.easting, n - s.northing)
                         / METRES_PER_MILE + (pen if other != la else 0.0))
                if score < best_score:
                    best, best_score = s.sid, score
                found += 1
                if found >= k:
                    break
            if found >= k:
                break
        if found:
            return t, best
    return -1, -1


@settings(max_examples=150, deadline=None)
@given(places=st.lists(place, max_size=60), tiers=st.lists(tier, min_size=1, max_size=4),
       ages=st.tuples(st.floats(0, 17.9), st.floats(0, 17.9)), special=st.booleans(),
       need=st.sampled_from([1, 1, 1, 2, 4]), k=st.integers(1, 5), p=st.floats(0.2, 1.0),
       seed=st.integers(0, 2**63 - 1), avoid=st.lists(st.integers(0, 60), max_size=2),
       la=st.integers(0, N_LAS - 1))
def test_compiled_search_picks_what_the_rules_pick(places, tiers, ages, special, need, k, p,
                                                   seed, avoid, la) -> None:
    index = VacancyIndex(N_LAS, width=2)  # narrow, so filing widens the slots
    for s in places:
        index.refresh(s)
    # Every setting with a place open to any buyer is filed, and nothing else.
    listed = {s.sid for ptype in range(1, 6) for other in range(N_LAS)
              for s in index.listed(ptype, other)}
    assert listed == {s.sid for s in places if s.free_places > 0 and s.reserved_for is None}
    for slot, n in enumerate(index.count.tolist()):
        start = slot * index.width
        assert index.complex_count[slot] == sum(index.complex_ok[start: start + n])
    youngest, oldest = min(ages), max(ages)
    miles = [0.0, 10.0, 30.0, 80.0]
    rows, las, plan_miles = [], [], []
    for ptype, must_fit, walk, _ in tiers:
        rows.append((ptype, int(must_fit), len(las), len(las) + N_LAS))
        las += list(walk)
        plan_miles += miles
    state = np.array([seed], dtype=np.uint64)
    avoid_ids = np.array(avoid or [-1], dtype=np.int64)
    got = scan_tiers(
        np.array(rows, dtype=np.int64), np.array(las, dtype=np.int64),
        np.array(plan_miles), np.array([r for *_, r in tiers]), 0, len(tiers), youngest,
        oldest, special, need, avoid_ids, k, p, state, la, 1000.0, 2000.0, 0.01, 0.25, 2.0,
        index.width, N_LAS, *index.views)
    ref_state = [seed]
    want = _reference(places, tiers, miles, youngest, oldest, special, need, set(avoid), k, p,
                      ref_state, la, 1000.0, 2000.0, 0.01, 0.25, 2.0)
    assert (int(got[0]), int(got[1])) == want
    assert int(state[0]) == ref_state[0]  # the same number of draws


def test_filling_closing_and_block_booking_take_a_setting_off_the_open_market() -> None:
    index = VacancyIndex(N_LAS, width=1)
    a = Place(ptype=2, la=1, places=2, band=(0.0, 18.0, False), price=820.0,
              easting=0.0, northing=0.0)
    b = Place(ptype=2, la=1, places=1, band=(0.0, 18.0, True), price=800.0,
              easting=0.0, northing=0.0)
    index.refresh(a)
    index.refresh(b)
    assert index.listed(2, 1) == [a, b] and index.width == 2
    a.occupants += [None, None]
    index.refresh(a)
    assert index.listed(2, 1) == [b]  # b took a's position
    assert int(index.free[b.slot_index]) == 1
    b.reserved_for = "buyer"
    index.refresh(b)
    assert index.listed(2, 1) == [] and list(index.reserved_for("buyer")) == [b]
    a.occupants.clear()
    a.open = False
    index.refresh(a)
    assert index.listed(2, 1) == [] and index.settings[a.sid] is None
