"""Commissioning: how an LA finds a placement for a child.

Connected (kinship) carers are found when a child enters care (see the model); every
other placement comes from this search. The LA goes tier by tier in its preference
order -- in-house foster -> IFA foster (supported accommodation first for unaccompanied
16-17s, after in-house carers for other 16-17s) -> LA home -> private home for needs
that call for one -- and within a tier takes the first few suitable vacancies met
walking outwards from the child's LA, choosing the one with the best cost-distance-fit
score. If no tier has a vacancy that meets the child's needs it accepts one that does
not (counted against sufficiency), and failing that an emergency or unregistered
placement, from which it searches again every few weeks.

The search is local: vacancies are indexed by placement type, LA, approval band and
room, and the LA walks outwards through LAs in order of centroid distance, skipping LAs
with nothing suitable and stopping once it has enough candidates. Cost therefore grows
with the number of searches, not with the size of the market.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.geography import METRES_PER_MILE
from sim.types import N_TYPES, Need, PlacementType

if TYPE_CHECKING:
    from sim.agents.child import Child
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel

SEARCHED_TYPES = (
    PlacementType.LA_FOSTER,
    PlacementType.IFA_FOSTER,
    PlacementType.LA_HOME,
    PlacementType.PRIVATE_HOME,
    PlacementType.SUPPORTED,
)


class VacancyIndex:
    """Settings with at least one free place, by placement type, LA and approval band.

    The band is a setting's ``band`` = (min age, max age, takes complex needs), so a
    search looks only at settings whose registration covers the child and never
    touches a full one. Settings call :meth:`refresh` whenever their occupancy or
    capacity changes, so the index is always exact.
    """

    def __init__(self, n_las: int) -> None:
        self.n_las = n_las
        self._open: list[list[dict[tuple, dict[CareSetting, None]]]] = [
            [{} for _ in range(n_las)] for _ in range(N_TYPES)
        ]
        # Open settings per LA for each (type, band): lets a search skip empty LAs at once.
        self.counts: list[dict[tuple, np.ndarray]] = [{} for _ in range(N_TYPES)]
        # Masks of LAs with vacancies change only when an LA's bucket empties or
        # fills; the version counts those changes so masks can be reused until then.
        self.version = [0] * N_TYPES
        self._keys: dict[tuple, tuple[tuple, int]] = {}
        self._key_ids: dict[tuple, int] = {}
        self.reserved: dict[str, dict[CareSetting, None]] = {}
        self._masks: dict[tuple[int, int], tuple[int, np.ndarray | None]] = {}
        self._band_keys: dict[tuple, tuple] = {}

    def refresh(self, setting: CareSetting) -> None:
        """Re-file a setting after its free places changed.

        A setting with ``f`` free places sits in the buckets (band, 1) ... (band, min(f, 3)):
        a single child searches only room-1 buckets, a sibling group only the buckets with
        room for all of them. (Runs on every admission and discharge, so it is inlined.)
        """
        free = (setting.places - setting.blocked - len(setting.occupants)
                if setting.open else 0)
        reserved = setting.reserved_for
        if reserved is not None or setting.reserved_key is not None:
            self._refresh_reserved(setting, free)
        # Block-contracted settings are kept apart: only their buyer searches them.
        if free > 0 and reserved is None:
            sig = (setting.band, free if free < 3 else 3)
            keys = self._band_keys.get(sig)
            if keys is None:
                keys = self._band_keys[sig] = tuple(
                    (*sig[0], room) for room in range(1, sig[1] + 1))
        else:
            keys = ()
        old = setting.vacancy_key
        if keys is old:
            return
        ptype, la = setting.ptype, setting.la
        bands = self._open[ptype][la]
        counts = self.counts[ptype]
        for key in old:
            if key in keys:
                continue
            bucket = bands[key]
            del bucket[setting]
            if not bucket:
                del bands[key]  # searches iterate only non-empty buckets
                self.version[ptype] += 1  # an LA dropped out of this band's mask
            counts[key][la] -= 1
        for key in keys:
            if key in old:
                continue
            bucket = bands.get(key)
            if bucket is None:
                bucket = bands[key] = {}
                self.version[ptype] += 1  # an LA joined this band's mask
            bucket[setting] = None
            count = counts.get(key)
            if count is None:
                count = counts[key] = np.zeros(self.n_las, dtype=np.int64)
            count[la] += 1
        setting.vacancy_key = keys

    def _refresh_reserved(self, setting: CareSetting, free: int) -> None:
        old = setting.reserved_key
        if old is not None:
            self.reserved.get(old, {}).pop(setting, None)
        key = setting.reserved_for if free > 0 else None
        if key is not None:
            self.reserved.setdefault(key, {})[setting] = None
        setting.reserved_key = key

    def reserved_for(self, buyer: str) -> dict[CareSetting, None]:
        """Settings with a free place held for ``buyer`` under block contracts."""
        return self.reserved.get(buyer, {})

    def search_keys(self, ptype: PlacementType, youngest: float, oldest: float,
                    specialist_only: bool, need: int = 1) -> tuple[tuple, int]:
        """The (band, room) buckets of one type that can take these children, and a
        small id for that set of buckets (cheap to use as a cache key).

        Which buckets pass depends only on where the ages fall among the (whole-year)
        band edges, so the answer is cached until a new bucket appears.
        """
        room_needed = need if need < 3 else 3
        counts = self.counts[ptype]
        sig = (ptype, int(youngest), int(oldest), specialist_only, room_needed, len(counts))
        cached = self._keys.get(sig)
        if cached is None:
            keys = tuple(
                key for key in counts
                if not (youngest < key[0] or oldest >= key[1] or (specialist_only and not key[2])
                        or key[3] != room_needed))
            kid = self._key_ids.setdefault(keys, len(self._key_ids))
            cached = (keys, kid)
            if all(float(e).is_integer() for key in counts for e in key[:2]):
                self._keys[sig] = cached
        return cached

    def las_with(self, ptype: PlacementType, keys: tuple, kid: int) -> np.ndarray | None:
        """Per LA: is any of these buckets (id ``kid``, from :meth:`search_keys`) open
        there? (None: open nowhere.)

        Cached until some LA's bucket of this type empties or fills.
        """
        cached = self._masks.get((ptype, kid))
        if cached is not None and cached[0] == self.version[ptype]:
            return cached[1]
        counts = self.counts[ptype]
        mask = None
        for key in keys:
            has = counts[key] > 0
            mask = has if mask is None else mask | has
        self._masks[(ptype, kid)] = (self.version[ptype], mask)
        return mask

    def at_type(self, ptype: PlacementType) -> list[dict[tuple, dict[CareSetting, None]]]:
        """Open settings of one type, per LA (index by LA), grouped by band and room."""
        return self._open[ptype]

    def at(self, ptype: PlacementType, la: int) -> dict[tuple, dict[CareSetting, None]]:
        """Open settings of one type in one LA, grouped by approval band."""
        return self._open[ptype][la]


class Commissioner:
    """Runs the weekly placement search for every child who needs a home."""

    def __init__(self, model: CareMarketModel) -> None:
        self.model = model
        m = model.scenario.matching
        self.k = m.candidates
        self.match_probability = m.match_probability
        self.rng = model.streams["matching"]
        self._u: list[float] = []
        self._u_next = 0
        self._tier_cache: dict[tuple, list] = {}
        self.cost_weight = m.cost_weight / 100.0
        self.distance_weight = m.distance_weight
        self.out_of_area_penalty = m.out_of_area_penalty
        self.radius = {
            PlacementType.LA_FOSTER: m.foster_radius_miles,
            PlacementType.IFA_FOSTER: m.foster_radius_miles,
            PlacementType.LA_HOME: m.home_radius_miles,
            PlacementType.PRIVATE_HOME: m.home_radius_miles,
            PlacementType.SUPPORTED: m.foster_radius_miles,
        }
        dist = model.la_distance
        # Every LA's neighbours nearest first, with the miles between centroids.
        order = np.argsort(dist, axis=1, kind="stable")
        order_dist = np.take_along_axis(dist, order, axis=1)
        self.rings: list[list[tuple[int, float]]] = [
            list(zip(order[i].tolist(), order_dist[i].tolist(), strict=True))
            for i in range(len(dist))
        ]
        self._pool_rings: dict[tuple[int, tuple[int, ...]], list[tuple[int, float]]] = {}
        self._near_cache: dict[tuple, tuple] = {}

    # -- tiers -------------------------------------------------------------------------
    def tiers(self, child: Child, group_size: int) -> list[tuple[PlacementType, bool]]:
        """(type, must_fit) tiers in the LA's preference order for this child.

        The final tiers accept a setting that does not meet the child's needs: that is
        what LAs do when nothing suitable is free, and it is counted against sufficiency.
        """
        age = child.age()
        key = (child.need, age >= 16, child.uasc, group_size == 1)
        cached = self._tier_cache.get(key)
        if cached is None:
            cached = self._tier_cache[key] = self._tiers(child.need, age, child.uasc, group_size)
        return cached

    @staticmethod
    def _tiers(need: Need, age: float, uasc: bool, group_size: int) -> list:
        if need == Need.COMPLEX:
            fitting = [PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER,
                       PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            fallback = [PlacementType.LA_HOME, PlacementType.PRIVATE_HOME,
                        PlacementType.IFA_FOSTER, PlacementType.LA_FOSTER]
        else:
            fitting = [PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER]
            if age >= 16 and group_size == 1:
                # Unaccompanied 16-17s mostly go to supported accommodation; others after
                # the LA's own carers.
                at = 0 if uasc else 1
                fitting.insert(at, PlacementType.SUPPORTED)
            if need == Need.DISABLED:
                fitting += [PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            fallback = [PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            if age >= 16 and group_size == 1:
                fallback = [PlacementType.SUPPORTED, *fallback]
        return [(t, True) for t in fitting] + [(t, False) for t in fallback]

    # -- search ------------------------------------------------------------------------
    def _pool(self, child: Child, ptype: PlacementType) -> tuple[int, ...] | None:
        """The LAs whose in-house settings of this type the child's LA may use (None:
        independent provision, bought anywhere)."""
        la = self.model.las[child.la]
        if ptype == PlacementType.LA_FOSTER:
            pool = la.foster_pool
        elif ptype == PlacementType.LA_HOME:
            pool = la.home_pool
        else:
            return None
        if la.cohort_pools:  # a policy pools this need at another tier (nested commissioning)
            pool = la.cohort_pools.get((ptype, child.need), pool)
        return pool

    def pools(self, child: Child, ptype: PlacementType) -> list[tuple[int, float]]:
        """LAs whose settings of this type the child's LA may use, nearest first, and miles.

        In-house carers and LA homes are limited to the LA's pool (itself, unless a
        policy pools them); independent provision can be bought anywhere.
        """
        pool = self._pool(child, ptype)
        if pool is None:
            return self.rings[child.la]
        key = (child.la, pool)
        if key not in self._pool_rings:
            members = set(pool)
            self._pool_rings[key] = [(i, d) for i, d in self.rings[child.la] if i in members]
        return self._pool_rings[key]

    def _plan(self, child: Child, ptype: PlacementType) -> tuple:
        """Where a search of one type for this child's LA looks, worked out once per
        (LA, pool, type): (own LA, own LA in the pool, pool is only the own LA, nearby
        LAs as index array, list and miles, search radius)."""
        pool = self._pool(child, ptype)
        key = (child.la, pool, ptype)
        plan = self._near_cache.get(key)
        if plan is None:
            ring = self.pools(child, ptype)
            limit = self.radius[ptype] * 1.5
            near = [(la, d) for la, d in ring if d <= limit and la != child.la]
            las = [la for la, _ in near]
            plan = (child.la, ring[0][0] == child.la, len(ring) == 1,
                    np.array(las, dtype=np.intp), las, [d for _, d in near],
                    self.radius[ptype])
            self._near_cache[key] = plan
        return plan

    def _scan(self, bands: dict, keys: tuple, found: list, need: int, avoid: set) -> bool:
        """Add suitable vacancies from one LA's buckets; True once enough are found."""
        p, k = self.match_probability, self.k
        u, i = self._u, self._u_next
        for key in keys:
            bucket = bands.get(key)
            if not bucket:
                continue
            for s in bucket:
                # Buckets hold settings with room >= 1, 2 or 3+; only groups of 4 check.
                if need > 3 and s.free_places < need:
                    continue
                if i >= len(u):
                    u, i = self.rng.random(65_536).tolist(), 0
                    self._u = u
                i += 1
                if u[i - 1] >= p or s in avoid:
                    continue
                found.append(s)
                if len(found) >= k:
                    self._u_next = i
                    return True
        self._u_next = i
        return False

    def _profile(self, children: list[Child]) -> tuple:
        """What every tier's search needs to know about the children, computed once:
        (lead, group size, youngest, oldest, any non-standard needs, settings to avoid,
        places block-booked by the lead's buyer)."""
        lead = children[0]
        held = self.model.vacancies.reserved_for(self.model.las[lead.la].buyer_for(lead.need))
        if len(children) == 1:
            age = lead.age()
            return lead, 1, age, age, lead.need != Need.STANDARD, {lead.avoid}, held
        ages = [c.age() for c in children]
        return (lead, len(children), min(ages), max(ages),
                any(c.need != Need.STANDARD for c in children), {c.avoid for c in children},
                held)

    def best_setting(self, children: list[Child], ptype: PlacementType,
                     must_fit: bool, profile: tuple | None = None) -> CareSetting | None:
        """The best-scoring setting of one type with room for all ``children``.

        Walks LAs outwards from the child's own, taking the first ``candidates``
        vacancies that suit (each suits with ``match_probability``), and picks the one
        with the lowest cost-distance-fit score. The child's own LA is scanned first in
        plain Python; the vectorised mask of LAs with vacancies is only built when the
        search has to go further.
        """
        lead, need, youngest, oldest, special, avoid, held = profile or self._profile(children)
        specialist_only = must_fit and special
        if held:
            # Places the buyer has block-booked come first: they are paid for anyway.
            mine = [s for s in held if s.ptype == ptype and s not in avoid
                    and s.band[0] <= youngest and oldest < s.band[1]
                    and (s.band[2] or not specialist_only) and s.free_places >= need]
            if mine:
                return self._best_scoring(lead, mine) if len(mine) > 1 else mine[0]
        vacancies = self.model.vacancies
        keys, kid = vacancies.search_keys(ptype, youngest, oldest, specialist_only, need)
        if not keys:
            return None
        own, own_in_pool, only_own, idx, las, dists, radius = self._plan(lead, ptype)
        open_by_la = vacancies.at_type(ptype)
        found: list[CareSetting] = []
        done = own_in_pool and self._scan(open_by_la[own], keys, found, need, avoid)
        if not (done or only_own):
            has = vacancies.las_with(ptype, keys, kid)
            if has is not None:
                for j in np.flatnonzero(has[idx]).tolist():
                    if dists[j] > radius and found:
                        break
                    if self._scan(open_by_la[las[j]], keys, found, need, avoid):
                        break
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        return self._best_scoring(lead, found)

    def _best_scoring(self, child: Child, found: list[CareSetting]) -> CareSetting:
        """The candidate with the lowest :meth:`score` (inlined: this runs ~10^5 times/year)."""
        e, n, la = child.easting, child.northing, child.la
        cw, dw, pen = self.cost_weight, self.distance_weight, self.out_of_area_penalty
        price_to, hypot = self.model.price_to, math.hypot
        best, best_score = found[0], math.inf
        for s in found:
            score = (cw * price_to(la, s)
                     + dw * hypot(e - s.easting, n - s.northing) / METRES_PER_MILE
                     + (pen if s.la != la else 0.0))
            if score < best_score:
                best, best_score = s, score
        return best

    def score(self, child: Child, setting: CareSetting) -> float:
        """Lower is better: weekly price, miles from home and leaving the home LA."""
        miles = math.hypot(child.easting - setting.easting,
                           child.northing - setting.northing) / METRES_PER_MILE
        return (self.cost_weight * self.model.price_to(child.la, setting)
                + self.distance_weight * miles
                + (self.out_of_area_penalty if setting.la != child.la else 0.0))

    def find(self, children: list[Child],
             prefer: tuple[PlacementType, ...] = ()) -> tuple[CareSetting | None, bool]:
        """Search all tiers for a group; returns (setting, fits).

        ``prefer`` puts types first (used to seat the 2019 stock where DfE counted it).
        """
        tiers = self.tiers(children[0], len(children))
        if prefer:
            tiers = [(t, False) for t in prefer] + tiers
        profile = self._profile(children)
        for ptype, must_fit in tiers:
            setting = self.best_setting(children, ptype, must_fit, profile)
            if setting is not None:
                return setting, must_fit or all(setting.fits(c) for c in children)
        return None, False

    def find_together(self, group: list[Child]) -> tuple[CareSetting | None, bool]:
        """A family placement with room for the whole sibling group, or none.

        Keeping siblings together comes before specialist fit: a carer not approved for one
        sibling's complex needs is accepted (and counted as a misfit) before splitting them.
        """
        profile = self._profile(group)
        for must_fit in (True, False):
            for ptype in (PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER):
                setting = self.best_setting(group, ptype, must_fit, profile)
                if setting is not None:
                    return setting, must_fit
        return None, False

    def place_all(self, queue: list[list[Child]],
                  prefer: tuple[PlacementType, ...] = ()) -> None:
        """Place every group in the queue: together if possible, else one by one."""
        model = self.model
        for group in queue:
            group = [c for c in group if c.unique_id in model.children
                     and (c.ptype is None or c.ptype == PlacementType.EMERGENCY)]
            if not group:
                continue
            delay = model.las[group[0].la].matching_delay_weeks
            if delay and group[0].ptype is None:  # a new search, not a wait already served
                model.delay_matching(group, delay)
                continue
            setting, _ = self.find_together(group) if len(group) > 1 else (None, False)
            if setting is not None:
                for c in group:  # each sibling is judged on their own needs
                    model.place(c, setting, setting.fits(c))
                continue
            for c in group:
                setting, _ = self.find([c], prefer)
                if setting is None:
                    model.place_emergency(c)
                else:
                    model.place(c, setting, setting.fits(c))
