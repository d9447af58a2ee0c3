"""Commissioning: how an LA finds a placement for a child.

For each child who needs a home, the LA searches vacancies tier by tier in its
preference order (connected carer -> in-house foster -> IFA -> LA home -> private
home -> supported accommodation for 16-17s), and within a tier compares the nearest
few vacancies on a cost-distance-fit score. If no tier has a fitting vacancy it
accepts one that does not meet the child's needs, and failing that an emergency or
unregistered placement, from which it searches again every few weeks.

The search is local: vacancies are indexed by placement type and LA, and the LA walks
outwards through LAs in order of centroid distance, stopping once it has enough
candidates. Cost therefore grows with the number of searches, not with the size of the
market.
"""

from __future__ import annotations

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
    """Settings with at least one free place, by placement type and LA.

    Settings call :meth:`refresh` whenever their occupancy or capacity changes, so the
    index is always exact and searches never touch full settings.
    """

    def __init__(self, n_las: int) -> None:
        self._open: list[list[dict[CareSetting, None]]] = [
            [{} for _ in range(n_las)] for _ in range(N_TYPES)
        ]

    def refresh(self, setting: CareSetting) -> None:
        bucket = self._open[setting.ptype][setting.la]
        if setting.free_places > 0:
            bucket[setting] = None
        else:
            bucket.pop(setting, None)

    def at(self, ptype: PlacementType, la: int) -> dict[CareSetting, None]:
        return self._open[ptype][la]

    def count_places(self, ptype: PlacementType, las: list[int] | None = None) -> int:
        buckets = self._open[ptype]
        chosen = buckets if las is None else [buckets[i] for i in las]
        return sum(s.free_places for b in chosen for s in b)


class Commissioner:
    """Runs the weekly placement search for every child who needs a home."""

    def __init__(self, model: CareMarketModel) -> None:
        self.model = model
        m = model.scenario.matching
        self.k = m.candidates
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
        geo = model.geography
        dist = model.la_distance
        self.order = np.argsort(dist, axis=1, kind="stable")
        self.order_dist = np.take_along_axis(dist, self.order, axis=1)
        self.n_las = len(geo.las)

    # -- tiers -------------------------------------------------------------------------
    def tiers(self, child: Child, group_size: int) -> list[tuple[PlacementType, bool]]:
        """(type, must_fit) tiers in the LA's preference order for this child.

        The final tiers accept a setting that does not meet the child's needs: that is
        what LAs do when nothing suitable is free, and it is counted against sufficiency.
        """
        age = child.age()
        if child.need == Need.COMPLEX:
            fitting = [PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER,
                       PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            fallback = [PlacementType.PRIVATE_HOME, PlacementType.LA_HOME,
                        PlacementType.IFA_FOSTER, PlacementType.LA_FOSTER]
        else:
            fitting = [PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER]
            if age >= 16 and group_size == 1:
                # Unaccompanied 16-17s mostly go to supported accommodation; others after
                # the LA's own carers.
                at = 0 if child.uasc else 1
                fitting.insert(at, PlacementType.SUPPORTED)
            if child.need == Need.DISABLED:
                fitting += [PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            fallback = [PlacementType.LA_HOME, PlacementType.PRIVATE_HOME]
            if age >= 16 and group_size == 1:
                fallback = [PlacementType.SUPPORTED, *fallback]
        return [(t, True) for t in fitting] + [(t, False) for t in fallback]

    # -- search ------------------------------------------------------------------------
    def pools(self, child: Child, ptype: PlacementType) -> tuple[np.ndarray, np.ndarray] | None:
        """LAs whose settings of this type the child's LA may use, nearest first."""
        la = self.model.las[child.la]
        if ptype == PlacementType.LA_FOSTER:
            pool = la.foster_pool
        elif ptype == PlacementType.LA_HOME:
            pool = la.home_pool
        else:
            return self.order[child.la], self.order_dist[child.la]
        if len(pool) == 1:
            return np.array(pool), np.zeros(1)
        d = self.model.la_distance[child.la, list(pool)]
        o = np.argsort(d, kind="stable")
        return np.asarray(pool)[o], d[o]

    def best_setting(self, children: list[Child], ptype: PlacementType,
                     must_fit: bool) -> CareSetting | None:
        """The best-scoring setting of one type with room for all ``children``."""
        lead = children[0]
        pools = self.pools(lead, ptype)
        if pools is None:
            return None
        las, dists = pools
        radius = self.radius[ptype]
        need = len(children)
        vac = self.model.vacancies
        candidates: list[CareSetting] = []
        for la, d in zip(las.tolist(), dists.tolist(), strict=True):
            if d > radius and candidates:
                break
            if d > radius * 1.5:
                break
            for s in vac.at(ptype, la):
                if s.free_places < need:
                    continue
                if not all(s.accepts(c) for c in children):
                    continue
                if must_fit and not all(s.fits(c) for c in children):
                    continue
                candidates.append(s)
                if len(candidates) >= self.k:
                    break
            if len(candidates) >= self.k:
                break
        if not candidates:
            return None
        return min(candidates, key=lambda s: self.score(lead, s))

    def score(self, child: Child, setting: CareSetting) -> float:
        """Lower is better: weekly price, miles from home and leaving the home LA."""
        miles = np.hypot(child.easting - setting.easting,
                         child.northing - setting.northing) / METRES_PER_MILE
        return (self.cost_weight * self.model.price_to(child.la, setting)
                + self.distance_weight * miles
                + (self.out_of_area_penalty if setting.la != child.la else 0.0))

    def find(self, children: list[Child],
             prefer: tuple[PlacementType, ...] = ()) -> tuple[CareSetting | None, bool]:
        """Search all tiers for a group; returns (setting, fits).

        ``prefer`` puts types first (used to seat the 2019 stock where DfE counted it).
        """
        tiers = [(t, False) for t in prefer] + self.tiers(children[0], len(children))
        for ptype, must_fit in tiers:
            setting = self.best_setting(children, ptype, must_fit)
            if setting is not None:
                return setting, must_fit or all(setting.fits(c) for c in children)
        return None, False

    def find_together(self, group: list[Child]) -> tuple[CareSetting | None, bool]:
        """A family placement with room for the whole sibling group, or none."""
        for ptype in (PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER):
            setting = self.best_setting(group, ptype, True)
            if setting is not None:
                return setting, True
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
            setting, fits = self.find_together(group) if len(group) > 1 else (None, False)
            if setting is not None:
                for c in group:
                    model.place(c, setting, fits and setting.fits(c))
                continue
            for c in group:
                setting, fits = self.find([c], prefer)
                if setting is None:
                    model.place_emergency(c)
                else:
                    model.place(c, setting, fits and setting.fits(c))
