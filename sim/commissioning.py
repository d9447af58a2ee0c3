"""Commissioning: how an LA finds a placement for a child.

Connected (kinship) carers are found when a child enters care (see the model); every
other placement comes from this search. The LA goes tier by tier in its preference
order -- in-house foster -> IFA foster (supported accommodation first for unaccompanied
16-17s and those entering care at 16-17, after in-house carers for other 16-17s) -> LA
home -> private home for needs that call for one -- and within a tier takes the first
few suitable vacancies met
walking outwards from the child's LA, choosing the one with the best cost-distance-fit
score. If no tier has a vacancy that meets the child's needs it accepts one that does
not (counted against sufficiency), and failing that an emergency or unregistered
placement, from which it searches again every few weeks.

The search is local: settings are filed by placement type and LA (:mod:`sim.vacancies`),
and the LA walks outwards through LAs in order of centroid distance, stopping once it has
enough candidates. One compiled call searches every tier of a child's preference order,
so cost grows with the number of searches, not with the size of the market.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from sim.geography import METRES_PER_MILE
from sim.types import Need, PlacementType
from sim.vacancies import scan_tiers

if TYPE_CHECKING:
    from sim.agents.child import Child
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel

# A sibling group's family placement: foster carers that suit, then any foster carers.
TOGETHER = [(PlacementType.LA_FOSTER, True), (PlacementType.IFA_FOSTER, True),
            (PlacementType.LA_FOSTER, False), (PlacementType.IFA_FOSTER, False)]

SEARCHED_TYPES = (
    PlacementType.LA_FOSTER,
    PlacementType.IFA_FOSTER,
    PlacementType.LA_HOME,
    PlacementType.PRIVATE_HOME,
    PlacementType.SUPPORTED,
)


class Commissioner:
    """Runs the weekly placement search for every child who needs a home."""

    def __init__(self, model: CareMarketModel) -> None:
        self.model = model
        m = model.scenario.matching
        self.k = m.candidates
        self.match_probability = m.match_probability
        self.supported_first_entry_age = m.supported_first_entry_age
        # The compiled search draws its own uniforms (SplitMix64), seeded from the stream.
        self._state = np.array([model.streams["matching"].integers(2**63)], dtype=np.uint64)
        self._avoid_one = np.full(1, -1, dtype=np.int64)
        self._tier_cache: dict[tuple, list] = {}
        self._reunite_types: dict[tuple, frozenset[PlacementType]] = {}
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
        self._plans: dict[tuple, tuple] = {}

    # -- tiers -------------------------------------------------------------------------
    def tiers(self, child: Child, group_size: int) -> list[tuple[PlacementType, bool]]:
        """(type, must_fit) tiers in the LA's preference order for this child.

        The final tiers accept a setting that does not meet the child's needs: that is
        what LAs do when nothing suitable is free, and it is counted against sufficiency.
        """
        return self._keyed_tiers(child, group_size)[1]

    def _keyed_tiers(self, child: Child, group_size: int) -> tuple[tuple, list]:
        """(what the tiers depend on, the tiers)."""
        age = child.age()
        # Young people who came into care at 16-17 (and unaccompanied ones) are offered
        # supported accommodation before foster carers.
        supported_first = age >= 16 and (child.uasc or (
            child.age(child.entered_week) >= self.supported_first_entry_age))
        key = (child.need, age >= 16, supported_first, group_size == 1)
        cached = self._tier_cache.get(key)
        if cached is None:
            cached = self._tier_cache[key] = self._tiers(child.need, age, supported_first,
                                                         group_size)
        return key, cached

    @staticmethod
    def _tiers(need: Need, age: float, supported_first: bool, group_size: int) -> list:
        if need == Need.COMPLEX:
            fitting = [PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER,
                       PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            fallback = [PlacementType.LA_HOME, PlacementType.PRIVATE_HOME,
                        PlacementType.IFA_FOSTER, PlacementType.LA_FOSTER]
        else:
            fitting = [PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER]
            if age >= 16 and group_size == 1:
                # Unaccompanied 16-17s and those entering care at 16-17 mostly go to
                # supported accommodation; others after the LA's own carers.
                at = 0 if supported_first else 1
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

    def _walk(self, child: Child, ptype: PlacementType) -> list[tuple[int, float]]:
        """The LAs a search of one type walks for this child: the own LA first (if in the
        pool), then the others in the pool within 1.5 times the type's radius, nearest
        first, with their miles."""
        limit = self.radius[ptype] * 1.5
        ring = self.pools(child, ptype)
        return ([(la, d) for la, d in ring if la == child.la]
                + [(la, d) for la, d in ring if la != child.la and d <= limit])

    def _tier_plan(self, child: Child, key: tuple,
                   tiers: list[tuple[PlacementType, bool]]) -> tuple:
        """The compiled search's view of a tier list for this child's LA and pools:
        (tier rows, LAs walked, their miles, radii, must-fit flags, types), built once
        per key."""
        la = self.model.las[child.la]
        if la.cohort_pools:
            pools = (self._pool(child, PlacementType.LA_FOSTER),
                     self._pool(child, PlacementType.LA_HOME))
        else:
            pools = (la.foster_pool, la.home_pool)
        full_key = (child.la, key, pools)
        plan = self._plans.get(full_key)
        if plan is None:
            rows, las, miles = [], [], []
            for ptype, must_fit in tiers:
                walk = self._walk(child, ptype)
                rows.append((int(ptype), int(must_fit), len(las), len(las) + len(walk)))
                las += [la for la, _ in walk]
                miles += [d for _, d in walk]
            plan = self._plans[full_key] = (
                np.array(rows, dtype=np.int64).reshape(-1, 4),
                np.array(las, dtype=np.int64), np.array(miles, dtype=np.float64),
                np.array([self.radius[t] for t, _ in tiers], dtype=np.float64),
                [must_fit for _, must_fit in tiers], [t for t, _ in tiers])
        return plan

    def _profile(self, children: list[Child]) -> tuple:
        """What every tier's search needs to know about the children, computed once:
        (lead, group size, youngest, oldest, any non-standard needs, ids of settings to
        avoid, places block-booked by the lead's buyer)."""
        lead = children[0]
        held = self.model.vacancies.reserved_for(self.model.las[lead.la].buyer_for(lead.need))
        if len(children) == 1:
            age = lead.age()
            avoid = self._avoid_one
            avoid[0] = -1 if lead.avoid is None else lead.avoid.sid
            return lead, 1, age, age, lead.need != Need.STANDARD, avoid, held
        ages = [c.age() for c in children]
        avoid = np.array([c.avoid.sid for c in children if c.avoid is not None] or [-1],
                         dtype=np.int64)
        return (lead, len(children), min(ages), max(ages),
                any(c.need != Need.STANDARD for c in children), avoid, held)

    def _search(self, plan: tuple, first: int, last: int, profile: tuple
                ) -> tuple[CareSetting | None, int]:
        """Run the compiled search over tiers ``first`` .. ``last - 1``; returns the
        best-scoring candidate of the first tier that had any, and that tier."""
        rows, las, miles, radii = plan[:4]
        lead, need, youngest, oldest, special, avoid, _ = profile
        v = self.model.vacancies
        t, best = scan_tiers(
            rows, las, miles, radii, first, last, youngest, oldest, special, need, avoid,
            self.k, self.match_probability, self._state, lead.la, lead.easting,
            lead.northing, self.cost_weight, self.distance_weight, self.out_of_area_penalty,
            v.width, v.n_las, *v.views)
        if best < 0:
            return None, -1
        return v.settings[best], t

    def _held(self, profile: tuple, ptype: PlacementType, must_fit: bool
              ) -> CareSetting | None:
        """The best block-booked place of this type the lead's buyer holds, if any: places
        already paid for come before the open market."""
        lead, need, youngest, oldest, special, avoid, held = profile
        specialist_only = must_fit and special
        skip = set(avoid.tolist())
        mine = [s for s in held if s.ptype == ptype and s.sid not in skip
                and s.band[0] <= youngest and oldest < s.band[1]
                and (s.band[2] or not specialist_only) and s.free_places >= need]
        if not mine:
            return None
        return self._best_scoring(lead, mine) if len(mine) > 1 else mine[0]

    def _search_tiers(self, plan: tuple, profile: tuple) -> tuple[CareSetting | None, bool]:
        """The first tier with a suitable place: (setting, whether that tier must fit).

        A buyer's block-booked places come first in each tier of their type; runs of
        tiers of other types go to the compiled search in one call.
        """
        fits, types = plan[4], plan[5]
        held = profile[6]
        held_types = {s.ptype for s in held} if held else ()
        t, n = 0, len(fits)
        while t < n:
            if types[t] in held_types:
                setting = self._held(profile, types[t], fits[t])
                if setting is not None:
                    return setting, fits[t]
                end = t + 1
            else:
                end = t + 1
                while end < n and types[end] not in held_types:
                    end += 1
            setting, found = self._search(plan, t, end, profile)
            if setting is not None:
                return setting, fits[found]
            t = end
        return None, False

    def best_setting(self, children: list[Child], ptype: PlacementType,
                     must_fit: bool, profile: tuple | None = None) -> CareSetting | None:
        """The best-scoring setting of one type with room for all ``children``.

        Walks LAs outwards from the child's own, taking the first ``candidates``
        vacancies that suit (each suits with ``match_probability``), and picks the one
        with the lowest cost-distance-fit score.
        """
        profile = profile or self._profile(children)
        plan = self._tier_plan(children[0], ("one", int(ptype), must_fit),
                               [(ptype, must_fit)])
        return self._search_tiers(plan, profile)[0]

    def foster_for_adoption(self, child: Child) -> CareSetting | None:
        """Foster carers for a child with an adoption plan (in-house first, then IFA), who
        need not meet every need: the stay is a short step before the adoptive placement."""
        for ptype in (PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER):
            setting = self.best_setting([child], ptype, must_fit=False)
            if setting is not None:
                return setting
        return None

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
        lead = children[0]
        key, tiers = self._keyed_tiers(lead, len(children))
        if prefer:
            tiers = [(t, False) for t in prefer] + tiers
            key = (key, tuple(int(t) for t in prefer))
        profile = self._profile(children)
        setting, must_fit = self._search_tiers(self._tier_plan(lead, key, tiers), profile)
        if setting is None:
            return None, False
        return setting, must_fit or all(setting.fits(c) for c in children)

    def find_together(self, group: list[Child]) -> tuple[CareSetting | None, bool]:
        """A family placement with room for the whole sibling group, or none.

        Keeping siblings together comes before specialist fit: a carer not approved for one
        sibling's complex needs is accepted (and counted as a misfit) before splitting them.
        """
        plan = self._tier_plan(group[0], "together", TOGETHER)
        return self._search_tiers(plan, self._profile(group))

    def sibling_home(self, group: list[Child]) -> CareSetting | None:
        """The home of a brother or sister in care, if it has room for the whole group,
        is of a kind the children's needs call for, meets each child's needs and is not
        the one just left.

        LAs must place siblings together where practicable (Children Act 1989, s22C(8)(c)),
        so a child who has to move is offered the home a sibling lives in before a new
        search; no matching draw applies, the sibling being the match.
        """
        lead = group[0]
        if lead.sibling_group < 0:
            return None
        members = self.model.sibling_groups.get(lead.sibling_group, ())
        if len(members) <= len(group):
            return None
        key, tiers = self._keyed_tiers(lead, len(group))
        allowed = self._reunite_types.get(key)
        if allowed is None:
            allowed = self._reunite_types[key] = frozenset(
                [t for t, must_fit in tiers if must_fit] + [PlacementType.KINSHIP])
        buyer = self.model.las[lead.la].buyer_for(lead.need)
        for sibling in members:
            s = sibling.setting
            if (s is None or s.ptype not in allowed or s.free_places < len(group)
                    or sibling in group
                    or (s.reserved_for is not None and s.reserved_for != buyer)):
                continue
            if all(c.avoid is not s and s.accepts(c) and s.fits(c) for c in group):
                return s
        return None

    def _place_with_sibling(self, group: list[Child]) -> bool:
        """Place the group in a brother's or sister's home (:meth:`sibling_home`), if any."""
        home = self.sibling_home(group)
        if home is None:
            return False
        self.model.outcomes.siblings_reunited += len(group)
        for c in group:
            self.model.place(c, home, True)
        return True

    def place_all(self, queue: list[list[Child]],
                  prefer: tuple[PlacementType, ...] = (), reunite: bool = True) -> None:
        """Place every group in the queue: with a brother or sister already in care if
        their home has room (``reunite``), else together if possible, else one by one."""
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
            if reunite and self._place_with_sibling(group):
                continue
            setting, _ = self.find_together(group) if len(group) > 1 else (None, False)
            if setting is not None:
                for c in group:  # each sibling is judged on their own needs
                    model.place(c, setting, setting.fits(c))
                continue
            for c in group:
                # A brother or sister placed a moment ago may have left a place beside them.
                if reunite and self._place_with_sibling([c]):
                    continue
                setting, _ = self.find([c], prefer)
                if setting is None:
                    model.place_emergency(c)
                else:
                    model.place(c, setting, setting.fits(c))
