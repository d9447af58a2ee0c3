"""The placement market model: England's children, carers, providers and LAs, week by week.

Each Mesa step is one week. What happens to an individual child or carer (leaving
care, a placement ending, a carer deregistering, a young person's Staying Put ending)
is an event on the model's calendar, drawn when the state that causes it begins, so a
week costs time in proportion to what happens in it. Market-wide processes (entries,
recruitment, accounts, prices, entry of new homes) run on fixed cycles.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np

from sim.agents.child import Child
from sim.agents.foster_household import CarerTotals, FosterHousehold
from sim.agents.local_authority import LocalAuthorityAgent
from sim.agents.provider import Provider
from sim.commissioning import Commissioner
from sim.contracts import BlockContracts
from sim.demand import (
    ExitHazards,
    complex_chance_8_plus,
    draw_entrant_profiles,
    family_sizes,
    la_start_shares,
    mean_family_size,
    sample_exits,
    starts_for_year,
    stock_sibling_groups,
)
from sim.draws import BufferedDraws
from sim.geography import METRES_PER_MILE, load_geography
from sim.market import Market
from sim.outcomes import Outcomes
from sim.recruitment import RecruitmentPipeline
from sim.scenario import Scenario, load_scenario
from sim.supply import build_fostering, build_residential, new_foster_household, open_home
from sim.types import ExitReason, Need, PlacementType
from sim.vacancies import VacancyIndex

if TYPE_CHECKING:
    from sim.agents.setting import CareSetting
    from sim.results import RunResult

WEEKS_PER_YEAR = 52.1775
(EXIT, BREAKDOWN, DEREGISTER, STAYING_PUT_END, HOME_OPENS, RESEARCH, ADOPTIVE_PLACEMENT,
 NEEDS_EMERGE) = range(8)
FOSTER_TYPES = (PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER, PlacementType.KINSHIP)
STREAMS = ("supply", "entries", "matching", "stability", "recruitment", "market", "policy",
           "needs")


class CareMarketModel(mesa.Model):
    """England's children's social care placement market.

    >>> model = CareMarketModel(scenario=None, seed=1, scale=0.02)
    >>> result = model.run(years=1)
    >>> bool(result.national["children_in_care"].iloc[-1] > 0)
    True
    """

    def __init__(self, scenario: Scenario | str | Path | None = None, seed: int = 1,
                 scale: float | None = None, **overrides: Any) -> None:
        super().__init__(rng=seed)
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if scale is not None:
            overrides["scale"] = scale
        if overrides:
            sc = sc.replace(**overrides)
        self._care_scenario = sc
        self.seed = seed
        with _long_lived_gc():  # the build makes ~600,000 long-lived objects
            self._build(sc, seed)

    def _build(self, sc: Scenario, seed: int) -> None:
        """Streams, geography, supply, policies and the 2019 stock."""
        # Independent streams per process, so a policy that changes one process leaves
        # the others' draws (and so paired comparisons) untouched.
        seq = np.random.SeedSequence(seed)
        self.streams = dict(zip(STREAMS, (np.random.default_rng(s) for s in seq.spawn(
            len(STREAMS))), strict=True))
        self.week = 0
        # Breakdown times are drawn in blocks: one numpy call per 65,536 placements.
        self._breakdown_draws = BufferedDraws(self.streams["stability"])
        self.geography = load_geography()
        geo = self.geography
        self.active_las = self._active_las(sc)
        self.la_distance = geo.centroid_distance_matrix()
        self._build_la_table()
        self.las = [LocalAuthorityAgent(self, info, 0.0) for info in geo.las]
        for la in self.las:
            la.in_house = []
        self.calendar: dict[int, list[tuple[int, Any, int]]] = defaultdict(list)
        self.vacancies = VacancyIndex(len(geo.las))
        self.carer_totals = CarerTotals()  # England's mainstream foster supply, kept running
        self.settings: dict[PlacementType, dict[CareSetting, None]] = {
            t: {} for t in PlacementType}
        self.providers: list[Provider] = []
        self.children: dict[int, Child] = {}
        self.queue: list[list[Child]] = []
        # Brothers and sisters in care, by sibling group: who to move together and where
        # a sibling lives (kept as children enter and leave, so lookups cost O(group)).
        self.sibling_groups: dict[int, list[Child]] = {}
        self.hazards = ExitHazards.from_demand(sc.demand)
        # Chance that a child in care before 8 has complex needs at 8 (as the 2019 stock).
        self._onset_chance = min(sc.demand.complex_onset_in_care
                                 * complex_chance_8_plus(sc.demand), 1.0)
        self.needs_emerged = 0
        self.entry_multiplier = np.ones(len(geo.las))
        self.kinship_multiplier = 1.0
        self.breakdown_multiplier = 1.0
        self.foster_fee_multiplier = 1.0
        self.price_hooks: list = []
        self.entry_hooks: list = []
        self.closure_hooks: list = []
        # fn(household) -> weeks until the carer reconsiders (retained), or None (leaves).
        self.deregistration_hooks: list = []
        # fn(la, setting, weeks) -> weeks: how long a young person Stays Put (e.g. to 23).
        self.staying_put_hooks: list = []
        self.staying_put_share = sc.demand.staying_put_share
        # Weekly breakdown hazard by placement type (per-child multipliers applied later).
        rates = sc.stability.breakdown_rate
        self._weekly_breakdown = [rates.get(t.name.lower(), 0.0) / WEEKS_PER_YEAR
                                  for t in PlacementType]
        self.unusable_place_probability = self._unusable_probability()
        self.next_group = 0
        self.market = Market(self, self.streams["market"])
        self.contracts = BlockContracts(self)
        self.outcomes = Outcomes(self)
        self.commissioner = Commissioner(self)
        build_fostering(self, self.streams["supply"])
        build_residential(self, self.streams["supply"])
        self.recruitment = RecruitmentPipeline(self, self.streams["recruitment"])
        for hh in self.settings_of(PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER):
            self._schedule_deregistration(hh)
        self.market.reprice()
        from sim.policies import build_policies

        self.policies = build_policies(self)
        for policy in self.policies:
            policy.initialize(self)
        seeded: set[int] = set()
        if sc.initial_population:  # an LA's or RCC's own SSDA903 extract (sim.ssda903)
            from sim.ssda903 import seed_from_903

            seeded = seed_from_903(self, sc.initial_population, self.streams["entries"])
        self._initial_stock(self.streams["entries"], skip=seeded)
        self.contracts.commission()
        self.contracts.settle(0)
        # Each LA's placement budget: its 2019 weekly spend, held flat in real terms.
        for la in self.las:
            la.budget = float(self.outcomes.spend[la.index]
                              + self.contracts.void_spend.get(la.index, 0.0))
        self.market.reprice()
        self.outcomes.collect()

    # Mesa's Model keeps its own Scenario object; ours is a frozen dataclass.
    @property
    def scenario(self) -> Scenario:  # type: ignore[override]
        return self._care_scenario

    @scenario.setter
    def scenario(self, value: Any) -> None:
        self._mesa_scenario = value

    # -- set-up ------------------------------------------------------------------------
    def _active_las(self, sc: Scenario) -> list[int]:
        if not sc.only_las:
            return list(range(len(self.geography.las)))
        where = f"{sc.source_file or '<scenario>'}: only_las"
        return sorted({self.geography.la(code, where).index for code in sc.only_las})

    def _build_la_table(self) -> None:
        from sim.data import load_la_figures

        rows = load_la_figures()
        n = len(rows)
        active = np.zeros(n, dtype=bool)
        active[self.active_las] = True
        cla = np.array([r.cla_2019 for r in rows], dtype=float)
        mix = [r.placement_mix() for r in rows]
        foster = np.array([m["foster"] for m in mix]) * cla
        resid = np.array([m["residential"] for m in mix]) * cla
        during = np.array([r.cla_during_year or np.nan for r in rows], dtype=float)
        cla15 = np.array([r.cla_2015 for r in rows], dtype=float)
        # A run on a subset of LAs gets the matching share of national supply and flows.
        self.share = {
            "foster": float((foster * active).sum() / foster.sum()),
            "residential": float((resid * active).sum() / resid.sum()),
            "child_pop": float((np.array([r.child_pop_0_17 for r in rows]) * active).sum()
                               / sum(r.child_pop_0_17 for r in rows)),
        }
        self.la_table = {
            "cla_2019": cla * active,
            "mix": mix,
            "foster_demand": foster * active,
            "residential_demand": resid * active,
            "child_pop": np.array([r.child_pop_0_17 for r in rows], dtype=float) * active,
            "start_share": la_start_shares(cla, cla15, during) * active,
            "uasc": np.array([r.uasc or 0 for r in rows], dtype=float) * active,
        }

    def _unusable_probability(self) -> float:
        f = self.scenario.fostering
        vacant_share = 13_170 / 74_660  # Ofsted 2021-22: vacant places / approved places
        return f.unusable_vacancy_share * vacant_share

    def _initial_stock(self, rng: np.random.Generator, skip: set[int] | None = None) -> None:
        """The 31 March 2019 stock of each LA, placed through the normal search."""
        sc = self.scenario
        stock_mix = {"under_1": 0.05, "1_4": 0.14, "5_9": 0.18, "10_15": 0.39, "16_17": 0.24}
        n_la = (self.la_table["cla_2019"] * sc.scale)
        counts = np.floor(n_la) + (rng.random(len(n_la)) < n_la - np.floor(n_la))
        groups_by_kind: dict[str, list[list[Child]]] = defaultdict(list)
        for la in self.active_las:
            n = int(counts[la])
            if n == 0 or (skip and la in skip):  # skip: seeded from an SSDA903 extract
                continue
            mix = self.la_table["mix"][la]
            kinds = rng.choice(["foster", "residential", "with_parents", "adoption", "other"],
                               size=n, p=_normalised([mix["foster"], mix["residential"],
                                                      mix["with_parents"], mix["adoption"],
                                                      mix["other"]]))
            ages = _initial_ages(rng, kinds, stock_mix)
            profiles = draw_entrant_profiles(rng, n, sc.demand)
            weeks_in_care = np.minimum(rng.exponential(2.5 * WEEKS_PER_YEAR, n),
                                       ages * WEEKS_PER_YEAR)
            # Foster and "other" children are placed alike (section 5 of docs/ODD.md).
            kinds = np.where(kinds == "other", "foster", kinds)
            uasc = profiles["uasc"] & (ages >= 14)
            families = stock_sibling_groups(rng, ages, ~uasc,  # UASC arrive alone
                                            sc.demand.stock_sibling_share, kinds,
                                            sc.demand.stock_siblings_same_kind_share)
            lead_of = {i: members[0] for members in families for i in members[1:]}
            made: list[Child | None] = [None] * n
            # First children of families (and children alone), then brothers and sisters
            # at the first child's home postcode.
            for i in sorted(range(n), key=lambda i: i in lead_of):
                need = Need(int(profiles["need"][i]))
                if kinds[i] == "residential" and ages[i] < 16 and rng.random() < 0.6:
                    need = Need.COMPLEX
                lead = made[lead_of[i]] if i in lead_of else None
                made[i] = self._new_child(
                    la, rng, -ages[i] * WEEKS_PER_YEAR, bool(profiles["male"][i]), need,
                    bool(uasc[i]), -weeks_in_care[i],
                    home=None if lead is None else (lead.postcode, lead.easting, lead.northing))
            grouped: set[int] = set()
            for members in families:
                family = [made[i] for i in members]
                self._join_sibling_group(family)
                if all(kinds[i] == "foster" for i in members):
                    # Fostered together if a carer has room (placed as a group, 7.4).
                    groups_by_kind["foster"].append(family)
                    grouped.update(members)
            for i, child in enumerate(made):
                if i not in grouped:
                    groups_by_kind[str(kinds[i])].append([child])
        # Leaving-care times for the whole stock, drawn at once.
        everyone = [c for gs in groups_by_kind.values() for g in gs for c in g]
        if everyone:
            ages_now = np.array([c.age() for c in everyone])
            in_care = np.array([-c.entered_week for c in everyone])
            exit_week, reason = sample_exits(rng, 0.0, ages_now, in_care, self.hazards)
            for c, w, r in zip(everyone, exit_week.tolist(), reason.tolist(), strict=True):
                self._schedule_exit(c, w, r)
        for group in groups_by_kind["with_parents"]:
            self.place_without_setting(group[0], PlacementType.WITH_PARENTS)
        for group in groups_by_kind["adoption"]:
            self.place_without_setting(group[0], PlacementType.ADOPTION)
        kin_rng = self.streams["matching"]
        foster = groups_by_kind["foster"]
        kin_share = 0.22  # kinship foster about 15% of all children, 71% fostered (DfE 2022)
        rest = []
        for group in foster:
            if kin_rng.random() < kin_share:
                self.place_with_kin(group)
            else:
                rest.append(group)
        resid = groups_by_kind["residential"]
        order = kin_rng.permutation(len(resid))
        older = [resid[i] for i in order if resid[i][0].age() >= 16]
        younger = [resid[i] for i in order if resid[i][0].age() < 16]
        # Where DfE counted a child is kept: siblings are not moved to each other's homes
        # (reunite=False), so groups that started apart in 2019 stay apart.
        self.commissioner.place_all(younger, prefer=(PlacementType.LA_HOME,
                                                      PlacementType.PRIVATE_HOME),
                                    reunite=False)
        half = len(older) // 2
        self.commissioner.place_all(older[:half], prefer=(PlacementType.PRIVATE_HOME,
                                                          PlacementType.SUPPORTED),
                                    reunite=False)
        self.commissioner.place_all(older[half:], prefer=(PlacementType.SUPPORTED,
                                                          PlacementType.PRIVATE_HOME),
                                    reunite=False)
        order = kin_rng.permutation(len(rest))
        la_first = [rest[i] for i in order[: int(0.53 * len(order))]]
        ifa_first = [rest[i] for i in order[int(0.53 * len(order)):]]
        self.commissioner.place_all(la_first, prefer=(PlacementType.LA_FOSTER,),
                                    reunite=False)
        self.commissioner.place_all(ifa_first, prefer=(PlacementType.IFA_FOSTER,),
                                    reunite=False)

    # -- registries --------------------------------------------------------------------
    def register_setting(self, s: CareSetting) -> None:
        self.settings[s.ptype][s] = None
        self.vacancies.refresh(s)
        if s.ptype == PlacementType.LA_FOSTER:
            self.las[s.la].in_house.append(s)

    def unregister_setting(self, s: CareSetting) -> None:
        s.open = False
        self.vacancies.refresh(s)
        self.settings[s.ptype].pop(s, None)
        if s.ptype == PlacementType.LA_FOSTER and s in self.las[s.la].in_house:
            self.las[s.la].in_house.remove(s)
        s.remove()

    def register_provider(self, p: Provider) -> None:
        self.providers.append(p)

    def settings_of(self, *types: PlacementType):
        for t in types:
            yield from list(self.settings[t])

    # -- children ----------------------------------------------------------------------
    def _new_child(self, la: int, rng: np.random.Generator, birth_week: float, male: bool,
                   need: Need, uasc: bool, entered_week: float,
                   home: tuple[int, float, float] | None = None) -> Child:
        """A child entering care (or in the 2019 stock), at ``home`` (postcode index,
        easting, northing) or a random postcode of the LA."""
        pc_index, east, north = home or self.geography.sample_postcode(la, rng)
        status = "V2" if uasc else ("C2" if rng.random() < 0.78 else "V2")
        child = Child(self, la, pc_index, east, north, birth_week, male, need, uasc, status,
                      entered_week)
        self.children[child.unique_id] = child
        self.outcomes.on_enter(child)
        return child

    def _join_sibling_group(self, children: list[Child]) -> None:
        """Make ``children`` brothers and sisters: one new sibling group."""
        group = self.next_group
        self.next_group += 1
        for c in children:
            c.sibling_group = group
        self.sibling_groups[group] = list(children)

    def _schedule_exit(self, child: Child, week: float, reason: int) -> None:
        child.exit_week = week
        child.exit_reason = reason
        self.calendar[max(math.ceil(week), self.week + 1)].append((EXIT, child, -1))
        if reason == ExitReason.ADOPTED:
            # Children are placed with their adopters some months before the order.
            lead = self.scenario.demand.placed_for_adoption_weeks
            when = math.ceil(week - lead)
            if when > self.week:
                self.calendar[when].append((ADOPTIVE_PLACEMENT, child, -1))
        self._schedule_needs_onset(child)

    def _schedule_needs_onset(self, child: Child) -> None:
        """Complex needs that emerge at 8 in a child who came into care younger.

        Entrants aged 8+ have complex needs with a fixed chance, and the 2019 stock is
        seeded by age, not by age at entry; without onset in care, a child entering at 3
        would never have complex needs, and complex needs (so children's homes) would
        shrink as the 2019 stock leaves. Drawn once, with the child's leaving date.
        """
        if child.need != Need.STANDARD or self._onset_chance <= 0:
            return
        week = child.birth_week + 8 * WEEKS_PER_YEAR
        if week <= self.week or week >= child.exit_week:
            return
        if self.streams["needs"].random() < self._onset_chance:
            self.calendar[max(math.ceil(week), self.week + 1)].append((NEEDS_EMERGE, child, -1))

    def _needs_emerge(self, child: Child) -> None:
        """The child now has complex needs. A placement that cannot meet them no longer
        counts as sufficient and is more likely to break down (and the next search looks
        for a home that fits)."""
        child.need = Need.COMPLEX
        self.needs_emerged += 1
        if child.setting is not None and not child.misfit and not child.setting.fits(child):
            child.misfit = True
            child.token += 1  # the breakdown drawn for a fitting placement no longer holds
            self._schedule_breakdown(child)
        self.outcomes.on_needs_change(child)

    def price_to(self, la: int, s: CareSetting) -> float:
        """Weekly cost to LA ``la`` of a placement in ``s`` (in-house: the LA's own cost).

        The compiled search scores vacancies on the same ``price``, filed in the vacancy
        index, so a policy that changes what an LA pays sets ``price`` rather than
        overriding this."""
        return s.price

    def place(self, child: Child, s: CareSetting, fits: bool) -> None:
        """Move a child into a setting (ending any current placement)."""
        if child.ptype is not None:
            self._end_placement(child)
        s.admit(child)
        child.setting = s
        child.avoid = None
        child.ptype = s.ptype
        child.misfit = not fits
        child.weekly_cost = self.price_to(child.la, s)
        child.distance = math.hypot(child.easting - s.easting,
                                    child.northing - s.northing) / METRES_PER_MILE
        self._start_placement(child)
        self._schedule_breakdown(child)

    def place_emergency(self, *children: Child) -> None:
        """No fitting vacancy anywhere: unregistered or emergency placements, searched for
        again (brothers and sisters together) every ``emergency_research_weeks``."""
        self._wait_in_emergency(list(children),
                                self.scenario.matching.emergency_research_weeks)

    def delay_matching(self, group: list[Child], weeks: int) -> None:
        """The group waits ``weeks`` in interim (emergency) placements before its search:
        the LA's matching is slowed (e.g. done by a regional commissioner). Siblings are
        then searched for together, as they would have been at once."""
        self._wait_in_emergency(group, weeks)

    def _wait_in_emergency(self, group: list[Child], weeks: int) -> None:
        for c in group:
            self._enter_emergency(c)
        self._search_later(group, weeks)

    def _enter_emergency(self, child: Child) -> None:
        if child.ptype == PlacementType.EMERGENCY:
            return
        if child.ptype is not None:
            self._end_placement(child)
        child.setting = None
        child.ptype = PlacementType.EMERGENCY
        child.misfit = True
        child.weekly_cost = self.scenario.prices.emergency_cost
        child.distance = 25.0  # unknown location: counted beyond 20 miles
        self._start_placement(child)

    def _search_later(self, group: list[Child], weeks: int) -> None:
        """Queue a search for the group in ``weeks``, for those still waiting in the
        emergency placements they are in now (a move or exit in between cancels it)."""
        self.calendar[self.week + weeks].append(
            (RESEARCH, group, tuple(c.token for c in group)))

    def place_without_setting(self, child: Child, ptype: PlacementType) -> None:
        """With parents or placed for adoption: no market place is used."""
        child.setting = None
        child.ptype = ptype
        child.misfit = False
        child.weekly_cost = 0.0
        child.distance = 0.0
        self._start_placement(child)

    def place_with_kin(self, group: list[Child]) -> None:
        """A connected-person (kinship) carer approved for this child or sibling group."""
        lead = group[0]
        rng = self.streams["matching"]
        kin = new_foster_household(self, PlacementType.KINSHIP, lead.la, lead.la, rng,
                                   places=len(group))
        kin.blocked = 0
        self.vacancies.refresh(kin)
        kin.price = self.scenario.prices.kinship_foster_cost
        for c in group:
            self.place(c, kin, True)

    def _start_placement(self, child: Child) -> None:
        child.placed_week = self.week
        child.placement_starts.append(self.week)
        if len(child.placement_starts) > 8:
            del child.placement_starts[:-8]
        self.outcomes.on_place(child)

    def _end_placement(self, child: Child) -> None:
        if child.ptype is None:  # between placements (waiting in this week's queue)
            return
        self.outcomes.on_unplace(child)
        self.outcomes.log_episode(child)
        child.token += 1
        s = child.setting
        if s is not None:
            s.discharge(child)
            emptied = not s.occupants
            if emptied and (s.ptype == PlacementType.KINSHIP or getattr(s, "retiring", False)):
                self.unregister_setting(s)
        child.setting = None
        child.ptype = None

    def _schedule_breakdown(self, child: Child) -> None:
        st = self.scenario.stability
        rate = self._weekly_breakdown[child.ptype]
        if rate <= 0:
            return
        if child.misfit:
            rate *= st.misfit_multiplier
        rate *= 1 + st.distance_multiplier_per_10_miles * child.distance / 10.0
        if child.age() >= 13:
            rate *= st.teen_multiplier
        la = self.las[child.la]
        rate *= self.breakdown_multiplier * la.breakdown_multiplier
        if (la.out_of_area_breakdown_multiplier != 1.0 and child.setting is not None
                and child.setting.location_la != child.la
                and child.ptype != PlacementType.KINSHIP):
            rate *= la.out_of_area_breakdown_multiplier  # e.g. a regional commissioner's match
        when = self.week + self._breakdown_draws.exponential() / rate
        if when < child.exit_week:
            self.calendar[max(math.ceil(when), self.week + 1)].append(
                (BREAKDOWN, child, child.token))

    def leave_care(self, child: Child) -> None:
        """The child leaves care; an 18-year-old in foster care may Stay Put."""
        s = child.setting
        staying = (child.exit_reason == ExitReason.AGE_18 and s is not None
                   and s.ptype in (PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER)
                   and self.streams["stability"].random() < self.staying_put_share)
        self._end_placement(child)
        if child.sibling_group >= 0:
            members = self.sibling_groups[child.sibling_group]
            members.remove(child)
            if not members:
                del self.sibling_groups[child.sibling_group]
        self.outcomes.on_exit(child)
        del self.children[child.unique_id]
        child.remove()
        if staying and s is not None and s.open:
            s.staying_put += 1
            s.blocked += 1
            self.vacancies.refresh(s)
            weeks = self.streams["stability"].exponential(self.scenario.demand.staying_put_weeks)
            for hook in self.staying_put_hooks:
                weeks = hook(child.la, s, weeks)
            self.calendar[self.week + 1 + int(weeks)].append((STAYING_PUT_END, s, 0))

    # -- supply events -----------------------------------------------------------------
    def approve_household(self, service, la: int) -> FosterHousehold:
        """A newly approved mainstream household (called by the recruitment pipeline)."""
        rng = self.streams["recruitment"]
        hh = new_foster_household(self, service.ptype, service.key, la, rng)
        if service.ptype == PlacementType.IFA_FOSTER:
            service.key.settings.append(hh)
        self.market.price_setting(hh)
        self._schedule_deregistration(hh)
        return hh

    def _schedule_deregistration(self, hh: FosterHousehold) -> None:
        rate = self.scenario.fostering.deregistration_rate * self.recruitment.levers.deregistration
        if rate <= 0:
            return
        weeks = self.streams["recruitment"].exponential(WEEKS_PER_YEAR / rate)
        self.calendar[self.week + 1 + int(weeks)].append((DEREGISTER, hh, 0))

    def deregister(self, hh: FosterHousehold) -> None:
        """A carer stops fostering: takes no new children and leaves once empty."""
        if not hh.open or hh.retiring:
            return
        for hook in self.deregistration_hooks:  # e.g. retention support keeps the carer
            delay = hook(hh)
            if delay is not None:
                self.calendar[self.week + 1 + int(delay)].append((DEREGISTER, hh, 0))
                return
        self.recruitment.counts.deregistrations += 1
        rng = self.streams["recruitment"]
        if (hh.ptype == PlacementType.LA_FOSTER and
                rng.random() < self.scenario.fostering.la_to_ifa_transfer_share
                * self.ifa_transfer_pull()):
            self.recruitment.counts.transfers_to_ifa += 1
            ifas = [s for s in self.recruitment.services
                    if s.ptype == PlacementType.IFA_FOSTER and s.is_open
                    and self.geography.las[s.las[0]].region == self.las[hh.la].region]
            if ifas:
                service = ifas[int(rng.integers(len(ifas)))]
                self.approve_household(service, hh.la)
        hh.retiring = True
        hh.blocked = hh.places
        self.vacancies.refresh(hh)
        if not hh.occupants:
            self.unregister_setting(hh)

    def ifa_transfer_pull(self) -> float:
        """How much more IFAs pay carers than LAs (1.0 at baseline fee levels)."""
        return 1.0 / self.foster_fee_multiplier

    def schedule_home_opening(self, provider: Provider, la: int, weeks: float) -> None:
        self.calendar[self.week + 1 + int(weeks)].append((HOME_OPENS, (provider, la), 0))

    def on_provider_failure(self, provider: Provider) -> None:
        """Cash has run out. Oversight policies may rescue the homes as going concerns."""
        for hook in self.closure_hooks:
            if hook(provider):
                return
        displaced = self.market.fail(provider)
        families: dict[tuple[int, int], list[Child]] = {}
        for child in displaced:  # brothers and sisters in the same home move together
            key = ((id(child.setting), child.sibling_group) if child.sibling_group >= 0
                   else (child.unique_id, -1))
            families.setdefault(key, []).append(child)
            child.displaced = True
            self._end_placement(child)
        self.market.remove_closed(provider)
        self.outcomes.displaced += len(displaced)
        self.queue.extend(families.values())

    def unmet_residential_demand(self) -> float:
        """Children in emergency placements per residential place (an entry signal)."""
        emergency = self.outcomes.count[:, PlacementType.EMERGENCY].sum()
        places = sum(s.places for s in self.settings[PlacementType.PRIVATE_HOME])
        return float(emergency / max(places, 1))

    # -- the weekly step ---------------------------------------------------------------
    def step(self) -> None:
        """One week: policies, this week's events, entries, recruitment, market, matching."""
        self.week = int(self.steps)
        week = self.week
        for policy in self.policies:
            policy.apply(self)
        self._process_calendar(week)
        self._entries(week)
        self.recruitment.advance(week)
        if week % 4 == 0:
            self.market.accounts(4)
            self.contracts.settle(4)
        if week % 52 == 0:
            self.contracts.commission()
        if week % self.scenario.prices.reprice_weeks == 0:
            self.market.reprice()
        if week % 13 == 0:
            self.market.cost_shocks()
            self.market.entry()
        queue, self.queue = self.queue, []
        self.commissioner.place_all(queue)
        self.outcomes.collect()

    def _process_calendar(self, week: int) -> None:
        events = self.calendar.pop(week, [])
        for kind, obj, token in events:
            if kind == EXIT:
                if obj.model is not None and obj.unique_id in self.children:
                    self.leave_care(obj)
            elif kind == BREAKDOWN:
                if obj.unique_id in self.children and obj.token == token:
                    self._breakdown(obj)
            elif kind == RESEARCH:
                waiting = [c for c, t in zip(obj, token, strict=True)
                           if c.unique_id in self.children and c.token == t
                           and c.ptype == PlacementType.EMERGENCY]
                if waiting:
                    self.queue.append(waiting)
            elif kind == NEEDS_EMERGE:
                if obj.unique_id in self.children and obj.need == Need.STANDARD:
                    self._needs_emerge(obj)
            elif kind == ADOPTIVE_PLACEMENT:
                if obj.unique_id in self.children and obj.ptype != PlacementType.ADOPTION:
                    self._adoptive_placement(obj)
            elif kind == DEREGISTER:
                self.deregister(obj)
            elif kind == STAYING_PUT_END:
                if obj.staying_put > 0:
                    obj.staying_put -= 1
                    obj.blocked = max(obj.blocked - 1, 0)
                    if obj.retiring:
                        obj.blocked = obj.places
                    if obj.open:
                        self.vacancies.refresh(obj)
            elif kind == HOME_OPENS:
                provider, la = obj
                if provider.active:
                    open_home(self, provider, la, self.streams["market"])
                    self.market.homes_opened += 1

    def _adoptive_placement(self, child: Child) -> None:
        """The child is placed with their adopters.

        Adoption follows foster care: a child on a placement order who lives elsewhere
        (with parents, in a home, in an emergency placement) first moves to foster carers
        and is placed for adoption ``foster_before_adoption_weeks`` later, if that is
        before the order; DfE's return checks this (SSDA903 rule 336).
        """
        weeks = self.scenario.demand.foster_before_adoption_weeks
        if (child.ptype not in FOSTER_TYPES and weeks > 0
                and self.week + weeks < child.exit_week and self._move_to_foster(child)):
            self.calendar[self.week + math.ceil(weeks)].append((ADOPTIVE_PLACEMENT, child, -1))
            return
        if child.ptype is not None:
            self._end_placement(child)
        self.place_without_setting(child, PlacementType.ADOPTION)

    def _move_to_foster(self, child: Child) -> bool:
        """A foster placement for a child with an adoption plan, if one is free."""
        s = self.commissioner.foster_for_adoption(child)
        if s is not None:
            self.place(child, s, s.fits(child))
        return s is not None

    def _breakdown(self, child: Child) -> None:
        """A placement ends unplanned. Short provider notice means an emergency move first."""
        st = self.scenario.stability
        rng = self.streams["stability"]
        self.outcomes.breakdowns += 1
        # Siblings living together move together.
        group = [child]
        if child.sibling_group >= 0 and child.setting is not None:
            group += [c for c in child.setting.occupants
                      if c is not child and c.sibling_group == child.sibling_group]
        independent = child.ptype in (PlacementType.IFA_FOSTER, PlacementType.PRIVATE_HOME,
                                      PlacementType.SUPPORTED)
        if independent and rng.random() < st.provider_notice_share:
            self.outcomes.provider_endings += 1
            if st.notice_weeks < 1.0:
                # The notice ends the placement, so the brothers and sisters living there
                # go to the emergency placement with the child and are searched for with them.
                self.place_emergency(*group)
                return
        for c in group:
            c.avoid = c.setting  # the next home is a different one
            self._end_placement(c)
        self.queue.append(group)

    def _entries(self, week: int) -> None:
        """This week's entrants: families (a child alone or 2-4 siblings) per LA."""
        sc = self.scenario
        rng = self.streams["entries"]
        # DfE's years end on 31 March: weeks 1-52 fall in the year ending March start_year+1.
        year = sc.start_year + 1 + week / WEEKS_PER_YEAR
        weekly = starts_for_year(sc.demand, year) * sc.scale / WEEKS_PER_YEAR
        share = sc.demand.sibling_group_share
        lam = weekly * self.la_table["start_share"] * self.entry_multiplier
        # Unaccompanied children arrive alone, so families are a little smaller on average.
        u = sc.demand.uasc_share_of_starts
        families = rng.poisson(lam / (mean_family_size(share) * (1 - u) + u))
        total = int(families.sum())
        if total == 0:
            return
        prof = draw_entrant_profiles(rng, total, sc.demand, year)
        exit_week, reason = sample_exits(rng, float(week), prof["age"], np.zeros(total),
                                         self.hazards)
        sizes = family_sizes(rng, total, share)
        sizes[prof["uasc"]] = 1  # unaccompanied children arrive alone
        k = 0
        entering: list[list[Child]] = []
        siblings: list[Child] = []
        for la in np.flatnonzero(families).tolist():
            for _ in range(int(families[la])):
                lead = self._new_child(la, rng, week - prof["age"][k] * WEEKS_PER_YEAR,
                                       bool(prof["male"][k]), Need(int(prof["need"][k])),
                                       bool(prof["uasc"][k]), week)
                self._schedule_exit(lead, float(exit_week[k]), int(reason[k]))
                group = [lead]
                if sizes[k] > 1:
                    group += [self._new_sibling(lead, rng, week) for _ in range(sizes[k] - 1)]
                    self._join_sibling_group(group)
                    siblings += group[1:]
                k += 1
                entering.append(group)
        if siblings:
            ages = np.array([c.age() for c in siblings])
            ew, rs = sample_exits(rng, float(week), ages, np.zeros(len(siblings)), self.hazards)
            for c, w, r in zip(siblings, ew.tolist(), rs.tolist(), strict=True):
                self._schedule_exit(c, w, r)
        mrng = self.streams["matching"]
        for group in entering:
            self._route_entrant(group, mrng)

    def _new_sibling(self, first: Child, rng: np.random.Generator, week: int) -> Child:
        """A brother or sister entering with ``first``: same home, age spread around theirs."""
        age = min(max(first.age() + rng.normal(0, 3), 0.05), 17.5)  # np.clip, scalar
        complex_share = self.scenario.demand.complex_needs_share / 2  # younger siblings
        need = Need.COMPLEX if age >= 8 and rng.random() < complex_share else Need.STANDARD
        child = Child(self, first.la, first.postcode, first.easting, first.northing,
                      week - age * WEEKS_PER_YEAR, bool(rng.random() < 0.5), need, False,
                      first.legal_status, week)
        self.children[child.unique_id] = child
        self.outcomes.on_enter(child)
        return child

    def _route_entrant(self, group: list[Child], rng: np.random.Generator) -> None:
        """First placement: with parents, with kin, or into the LA's search."""
        d = self.scenario.demand
        lead = group[0]
        if not lead.uasc and rng.random() < d.with_parents_share:
            for c in group:  # a family placed with parents stays together
                self.place_without_setting(c, PlacementType.WITH_PARENTS)
            return
        if (not lead.uasc and lead.age() < 16 and
                rng.random() < min(d.kinship_share * self.kinship_multiplier, 1.0)):
            self.place_with_kin(group)
            return
        self.queue.append(group)

    # -- running -----------------------------------------------------------------------
    def run(self, years: float = 10.0, progress=None) -> RunResult:
        """Run forward ``years`` from the current week and return the tidy results."""
        from sim.results import RunResult

        weeks = round(years * WEEKS_PER_YEAR)
        with _long_lived_gc():
            for k in range(weeks):
                self.step()
                if progress is not None:
                    progress(k + 1, weeks)
        for policy in self.policies:
            policy.finalize(self)
        return RunResult.from_model(self)


@contextlib.contextmanager
def _long_lived_gc():
    """Collect rarely while the model is built or run: the market is millions of
    long-lived objects.

    Python's cycle collector would otherwise rescan them thousands of times (about 13%
    of a national run). Existing objects are frozen (without a full collection first,
    which alone took ~0.5-0.9 s at full scale) and thresholds raised; both are restored
    afterwards, and short-lived cycles (SimPy processes) are still collected.
    """
    gc.freeze()
    old = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _normalised(values: list[float]) -> np.ndarray:
    arr = np.clip(np.asarray(values, dtype=float), 0, None)
    return arr / arr.sum()


def _initial_ages(rng: np.random.Generator, kinds: np.ndarray, mix: dict) -> np.ndarray:
    """Ages of the 2019 stock by placement kind, consistent with the national age mix."""
    edges = np.array([0.0, 1.0, 5.0, 10.0, 16.0, 18.0])
    p = np.array(list(mix.values()))
    n = len(kinds)
    band = rng.choice(5, size=n, p=p / p.sum())
    res = kinds == "residential"
    band[res] = rng.choice([3, 4], size=int(res.sum()), p=[0.55, 0.45])
    adopt = kinds == "adoption"
    band[adopt] = rng.choice([0, 1], size=int(adopt.sum()), p=[0.3, 0.7])
    lo, hi = edges[band], edges[band + 1]
    ages = lo + rng.random(n) * (hi - lo)
    ages[res] = np.maximum(ages[res], 11.0)
    return ages
