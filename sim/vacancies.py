"""The vacancy index: every care setting's free places, in arrays a compiled search reads.

Placement searches are the model's inner loop (about 170,000 a year at full scale), so
the index keeps what a search needs -- each setting's free places, approval band, LA
and position -- in flat typed arrays, filed by placement type and LA, and the search
itself (:func:`scan_tiers`) is compiled with Numba. The arrays are ``array.array``, which
Python writes an element of in under half the time NumPy takes (every admission and
discharge writes a few); the compiled search is handed NumPy views of the same memory,
which it is entered with faster. Settings call :meth:`VacancyIndex.refresh`
whenever their occupancy, capacity, band or block contract changes, so the arrays are
always exact; Python objects stay the source of truth for everything else.
"""

from __future__ import annotations

import math
from array import array
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.geography import METRES_PER_MILE
from sim.types import N_TYPES

if TYPE_CHECKING:
    from sim.agents.setting import CareSetting


# Per-vacancy columns ("q": 64-bit integers, "d": doubles), in :func:`scan_tiers`'s order
# after the two per-slot counts.
COLUMNS = (("sid", "q"), ("free", "q"), ("min_age", "d"), ("max_age", "d"),
           ("complex_ok", "q"), ("price", "d"), ("easting", "d"), ("northing", "d"))


def _zeros(typecode: str, n: int) -> array:
    """A zeroed typed array of ``n`` 8-byte items."""
    return array(typecode, bytes(8 * n))


class VacancyIndex:
    """Settings with a place open to any buyer, filed by placement type and LA.

    Each (type, LA) slot is a stretch of flat arrays holding its vacancies' setting ids,
    free places and approval bands side by side, so a search reads them in one
    contiguous sweep. A setting enters its slot when a place frees up and leaves it
    (the slot's last entry taking its position) when it fills, closes or is
    block-booked; block-booked places are listed apart, by buyer, in
    :meth:`reserved_for`.
    """

    sid: array
    free: array
    min_age: array
    max_age: array
    complex_ok: array
    price: array
    easting: array
    northing: array

    def __init__(self, n_las: int, width: int = 32) -> None:
        self.n_las = n_las
        self.settings: list[CareSetting | None] = []
        self.width = width  # room per slot; doubled when a slot fills
        n_slots = N_TYPES * n_las
        self.count = _zeros("q", n_slots)
        # Vacancies per slot approved for complex needs: lets a must-fit search for a
        # child with such needs pass over LAs that have none.
        self.complex_count = _zeros("q", n_slots)
        # The columns (setting id, free places, band, and the price and grid reference
        # the search scores a candidate on): self.sid, self.free, ..., self.northing.
        for name, code in COLUMNS:
            setattr(self, name, _zeros(code, n_slots * width))
        self._view()
        self.reserved: dict[str, dict[CareSetting, None]] = {}

    # -- upkeep ------------------------------------------------------------------------
    def refresh(self, setting: CareSetting) -> None:
        """Record a setting's current free places (and band, block contract, closure).

        Runs on every admission and discharge: usually one array write, or a move in or
        out of the setting's slot. Foster households also file their running supply
        totals here (:meth:`~sim.agents.foster_household.FosterHousehold.file_totals`).
        """
        if setting.sid < 0:
            setting.sid = len(self.settings)
            setting.slot = int(setting.ptype) * self.n_las + setting.la  # both fixed
            self.settings.append(setting)
        free = (setting.places - setting.blocked - len(setting.occupants)
                if setting.open else 0)
        reserved = setting.reserved_for
        if reserved is not None or setting.reserved_key is not None:
            self._refresh_reserved(setting, free)
            if reserved is not None:
                free = 0
        at = setting.slot_index
        if free > 0:
            if at < 0:
                self._insert(setting, free)
            else:
                self.free[at] = free
                if setting.band is not setting.filed_band:
                    self._file_band(setting, at, setting.slot)
        elif at >= 0:
            self._remove(setting, at)
        if setting.totalled:
            setting.file_totals()
        if not setting.open:
            self.settings[setting.sid] = None

    def _insert(self, setting: CareSetting, free: int) -> None:
        slot = setting.slot
        n = self.count[slot]
        if n == self.width:
            self._widen()
        at = slot * self.width + n
        self.count[slot] = n + 1
        self.sid[at] = setting.sid
        self.free[at] = free
        self.price[at] = setting.price
        self.easting[at] = setting.easting
        self.northing[at] = setting.northing
        self.complex_ok[at] = 0
        self._file_band(setting, at, slot)
        setting.slot_index = at

    def _remove(self, setting: CareSetting, at: int) -> None:
        slot = setting.slot
        last = slot * self.width + self.count[slot] - 1
        self.count[slot] -= 1
        if self.complex_ok[at]:
            self.complex_count[slot] -= 1
        setting.slot_index = -1
        if at != last:
            # Every column of COLUMNS, unrolled: this runs on most discharges.
            moved = self.sid[last]
            self.sid[at] = moved
            self.free[at] = self.free[last]
            self.min_age[at] = self.min_age[last]
            self.max_age[at] = self.max_age[last]
            self.complex_ok[at] = self.complex_ok[last]
            self.price[at] = self.price[last]
            self.easting[at] = self.easting[last]
            self.northing[at] = self.northing[last]
            self.settings[moved].slot_index = at

    def _file_band(self, setting: CareSetting, at: int, slot: int) -> None:
        low, high, complex_ok = setting.band
        self.min_age[at] = low
        self.max_age[at] = high
        flag = 1 if complex_ok else 0
        self.complex_count[slot] += flag - self.complex_ok[at]
        self.complex_ok[at] = flag
        setting.filed_band = setting.band

    def _widen(self) -> None:
        """Double every slot's room (rare: a slot has never held this many vacancies)."""
        old, new = self.width, 2 * self.width
        n_slots = len(self.count)
        for name, code in COLUMNS:
            table = getattr(self, name)
            wide = _zeros(code, n_slots * new)
            for slot in range(n_slots):
                wide[slot * new: slot * new + old] = table[slot * old: (slot + 1) * old]
            setattr(self, name, wide)
        self.width = new
        self._view()
        for slot in range(n_slots):
            for q in range(self.count[slot]):
                self.settings[self.sid[slot * new + q]].slot_index = slot * new + q

    def _view(self) -> None:
        """NumPy views of the counts and columns in :func:`scan_tiers`'s order (the same
        memory, not copies)."""
        self.views = tuple(np.frombuffer(a, dtype=a.typecode) for a in (
            self.count, self.complex_count, *(getattr(self, name) for name, _ in COLUMNS)))

    def _refresh_reserved(self, setting: CareSetting, free: int) -> None:
        old = setting.reserved_key
        if old is not None:
            self.reserved.get(old, {}).pop(setting, None)
        key = setting.reserved_for if free > 0 else None
        if key is not None:
            self.reserved.setdefault(key, {})[setting] = None
        setting.reserved_key = key

    # -- queries -----------------------------------------------------------------------
    def reserved_for(self, buyer: str) -> dict[CareSetting, None]:
        """Settings with a free place held for ``buyer`` under block contracts."""
        return self.reserved.get(buyer, {})

    def listed(self, ptype: int, la: int) -> list[CareSetting]:
        """Settings of one type in one LA with a place open to any buyer."""
        slot = int(ptype) * self.n_las + la
        start = slot * self.width
        return [self.settings[i]
                for i in self.sid[start: start + self.count[slot]].tolist()]


# -- the compiled search ---------------------------------------------------------------
@njit(inline="always")
def _uniform(state: np.ndarray) -> float:
    """SplitMix64: a uniform in [0, 1), advancing the 64-bit state in place."""
    z = state[0] + np.uint64(0x9E3779B97F4A7C15)
    state[0] = z
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def scan_tiers(tiers: np.ndarray, plan_las: np.ndarray, plan_miles: np.ndarray,
               radii: np.ndarray, first: int, last: int,
               youngest: float, oldest: float, special: bool, need: int,
               avoid: np.ndarray, k: int, p: float, state: np.ndarray,
               child_la: int, child_e: float, child_n: float,
               cost_weight: float, distance_weight: float, out_of_area_penalty: float,
               width: int, n_las: int, count: np.ndarray, complex_count: np.ndarray,
               sid: np.ndarray, free: np.ndarray, min_age: np.ndarray, max_age: np.ndarray,
               complex_ok: np.ndarray, price: np.ndarray, easting: np.ndarray,
               northing: np.ndarray) -> tuple[int, int]:
    """Search tiers ``first`` .. ``last - 1`` in order; returns (tier, setting id) of the
    best candidate in the first tier that has any, or (-1, -1).

    Each tier row is (placement type, must fit, first and last index into the plan):
    the LAs to walk, nearest first, with their miles from the child's LA. In each LA
    every vacancy with room for ``need`` children whose band covers their ages (and,
    where the tier must fit and the needs are special, that takes complex needs)
    suits with probability ``p`` unless listed in ``avoid``. The walk stops at ``k``
    candidates, or at the first LA beyond the tier's radius once any are found. The
    candidate with the lowest score (cost weight x price / 100 pounds, distance weight x
    miles, the penalty if outside the child's LA) wins; the first met wins a tie.
    """
    for t in range(first, last):
        specialist_only = special and tiers[t, 1] != 0
        base = tiers[t, 0] * n_las
        radius = radii[t]
        n = 0
        best = -1
        best_score = np.inf
        for j in range(tiers[t, 2], tiers[t, 3]):
            if n > 0 and plan_miles[j] > radius:
                break
            la = plan_las[j]
            slot = base + la
            if specialist_only and complex_count[slot] == 0:
                continue
            start = slot * width
            for at in range(start, start + count[slot]):
                if (free[at] < need or min_age[at] > youngest or oldest >= max_age[at]
                        or (specialist_only and complex_ok[at] == 0)):
                    continue
                if _uniform(state) >= p:
                    continue
                s = sid[at]
                skip = False
                for a in avoid:
                    if a == s:
                        skip = True
                if skip:
                    continue
                score = (cost_weight * price[at]
                         + distance_weight * math.hypot(child_e - easting[at],
                                                        child_n - northing[at])
                         / METRES_PER_MILE)
                if la != child_la:
                    score += out_of_area_penalty
                if score < best_score:
                    best, best_score = s, score
                n += 1
                if n >= k:
                    break
            if n >= k:
                break
        if n > 0:
            return t, best
    return -1, -1
