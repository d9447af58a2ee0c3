"""Moving provision between operators: the steps the market policies share.

Financial oversight passes a failing provider's homes to a new operator as going
concerns and warns placing LAs, who then move children in a planned way; a for-profit
ban converts private homes to charities or winds them down; a profit cap lets
investors exit. Each of these keeps the model's books (provider revenue, the vacancy
index, the registered-manager pool) the same way, so the steps live here once.

Nothing here draws random numbers except through the generator a policy passes in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.agents.foster_household import FosterHousehold
from sim.agents.provider import Provider
from sim.commissioning import SEARCHED_TYPES
from sim.errors import ScenarioError
from sim.types import Sector

if TYPE_CHECKING:
    from sim.agents.child import Child
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel


def new_operator(model: CareMarketModel, kind: str, sector: Sector, region: str,
                 name: str) -> Provider:
    """A provider with no homes yet, no debt and no cash (the caller capitalises it)."""
    prov = Provider(model, kind, sector, region, 0.0, 0.0, 0.0, 0.0, name)
    model.register_provider(prov)
    return prov


def transfer_setting(model: CareMarketModel, s: CareSetting, operator: Provider) -> None:
    """One home (or foster household) passes to ``operator``; its children stay."""
    old = s.provider
    revenue = sum(c.weekly_cost for c in s.occupants)
    if old is not None:
        old.revenue_rate -= revenue
        if s in old.settings:
            old.settings.remove(s)
    operator.revenue_rate += revenue
    operator.settings.append(s)
    if isinstance(s, FosterHousehold):
        s.change_service(operator)
    else:
        s.provider = operator


def transfer_all(model: CareMarketModel, old: Provider, operator: Provider) -> int:
    """Every open setting of ``old`` passes to ``operator`` (a sale as a going concern).

    An IFA's recruitment team goes with its carers, so its fostering service keeps
    recruiting for the new operator. Returns the number of children who stayed put.
    """
    moving = [s for s in old.settings if s.open]
    revenue = sum(c.weekly_cost for s in moving for c in s.occupants)
    old.revenue_rate -= revenue
    operator.revenue_rate += revenue
    old.settings = [s for s in old.settings if not s.open]
    operator.settings.extend(moving)
    for s in moving:
        if isinstance(s, FosterHousehold):
            s.change_service(operator)
        else:
            s.provider = operator
    if old.kind == "ifa":
        for service in model.recruitment.services:
            if service.key is old:
                service.key = operator
    return sum(len(s.occupants) for s in moving)


HELD = "(held: provider under warning)"
"""A buyer no LA is: a setting reserved for it is hidden from every placement search."""


def hold_admissions(model: CareMarketModel, s: CareSetting) -> str | None:
    """Stop new placements in ``s`` (children already there stay); returns what to give
    back to :func:`release_admissions` (a block contract's buyer, or None)."""
    previous = s.reserved_for
    if previous != HELD:
        s.reserved_for = HELD
        model.vacancies.refresh(s)
    return previous


def release_admissions(model: CareMarketModel, s: CareSetting, previous: str | None) -> None:
    """Undo :func:`hold_admissions`."""
    if s.reserved_for == HELD:
        s.reserved_for = previous
        model.vacancies.refresh(s)


def wind_down(model: CareMarketModel, s: CareSetting) -> None:
    """``s`` takes no one new and closes once its last child has moved or left care."""
    s.retiring = True  # the model unregisters a retiring setting when it empties
    s.blocked = s.places
    model.vacancies.refresh(s)
    if not s.occupants and not getattr(s, "staying_put", 0):
        model.unregister_setting(s)


def sibling_groups(s: CareSetting) -> list[list[Child]]:
    """The children in ``s``, brothers and sisters living together as one group."""
    groups: dict[int, list[Child]] = {}
    alone: list[list[Child]] = []
    for c in s.occupants:
        if c.sibling_group >= 0:
            groups.setdefault(c.sibling_group, []).append(c)
        else:
            alone.append([c])
    return alone + list(groups.values())


def planned_move(model: CareMarketModel, group: list[Child]) -> bool:
    """Move children to a place that meets their needs, if one is free; else leave them.

    A planned move: the LA searches only the tiers that fit (and the kind of placement
    the child has now), never an emergency placement. Siblings move together or not at
    all. Returns whether they moved.
    """
    com = model.commissioner
    if len(group) > 1:
        s, fits = com.find_together(group)
        if s is None or not fits:
            return False
        for c in group:
            model.place(c, s, s.fits(c))
        return True
    child = group[0]
    types = [t for t, must_fit in com.tiers(child, 1) if must_fit]
    if child.ptype in SEARCHED_TYPES and child.ptype not in types:
        types.append(child.ptype)
    for ptype in types:
        s = com.best_setting([child], ptype, True)
        if s is not None:
            model.place(child, s, s.fits(child))
            return True
    return False


def move_now(model: CareMarketModel, child: Child) -> bool:
    """Notice has run out: the best place anywhere, or an emergency placement (False)."""
    s, fits = model.commissioner.find([child])
    if s is None:
        model.place_emergency(child)
        return False
    model.place(child, s, fits)
    return True


class WindDowns:
    """Homes closing with notice: children move as suitable places come free, and any
    still there when notice runs out move to the best place found, or an emergency one."""

    def __init__(self) -> None:
        self.closing: dict[CareSetting, int] = {}  # setting -> week notice runs out
        self.planned = 0
        self.at_notice_end = 0
        self.emergency = 0
        self.closed_places = 0

    def add(self, model: CareMarketModel, s: CareSetting, notice_weeks: float) -> None:
        self.closed_places += s.places
        wind_down(model, s)
        if s.open:
            self.closing[s] = model.week + int(notice_weeks)

    def step(self, model: CareMarketModel) -> None:
        """Weekly: planned moves out of every closing home."""
        for s, deadline in list(self.closing.items()):
            if s.open and s.occupants:
                for group in sibling_groups(s):
                    if planned_move(model, group):
                        self.planned += len(group)
                if model.week >= deadline:
                    for c in list(s.occupants):
                        self.at_notice_end += 1
                        if not move_now(model, c):
                            self.emergency += 1
            if not s.open or not s.occupants:
                del self.closing[s]


def take_managers(model: CareMarketModel, wanted: int) -> int:
    """Registered managers for ``wanted`` new homes from the pool private entry also
    draws on (:attr:`Market.pending_managers`); returns how many homes can start."""
    n = max(min(int(wanted), int(model.market.pending_managers)), 0)
    model.market.pending_managers -= n
    return n


def spread_by_population(model: CareMarketModel, gbp_per_year: float) -> dict[int, float]:
    """A national running cost (scaled to the run) as pounds/week per active LA."""
    pop = model.la_table["child_pop"]
    total = float(pop[model.active_las].sum())
    weekly = gbp_per_year * model.scenario.scale * model.share["child_pop"] / 52.1775
    if total <= 0:
        return {}
    return {la: weekly * float(pop[la]) / total for la in model.active_las}


def withdraw_spend(model: CareMarketModel, la: int, weekly: float) -> None:
    """Take a running cost back out of ``policy_spend`` (rounding dust cleared to 0)."""
    left = model.outcomes.policy_spend[la] - weekly
    model.outcomes.policy_spend[la] = 0.0 if abs(left) < 1e-6 else left


def check_kinds(where: str, kinds: list, allowed: tuple[str, ...]) -> None:
    """A policy's ``kinds`` must be a non-empty list of the provision kinds it can cover."""
    bad = [k for k in kinds if k not in allowed]
    if bad or not kinds:
        raise ScenarioError(
            f"{where}.kinds: {bad[0] if bad else '[]'!r} is not allowed; allowed a "
            f"non-empty list of {', '.join(repr(k) for k in allowed)}")
