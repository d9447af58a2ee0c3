"""Outcome measurement: sufficiency, distance, cost, stability, siblings, supply.

Running totals per LA are updated when a placement starts or ends, so the weekly
national series costs nothing per child. Measures that need every child (median
distance, 3+ placements in a year, siblings separated) are taken at each 31 March,
as DfE does. All series go through one Mesa DataCollector: weekly model variables
plus three tables (per-LA snapshots, 31 March per LA, 31 March for England).
"""

from __future__ import annotations

import bisect
import statistics
from array import array
from typing import TYPE_CHECKING

import numpy as np
from mesa import DataCollector

from sim.types import N_TYPES, TYPE_NAMES, PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.child import Child
    from sim.model import CareMarketModel

WEEKS_PER_YEAR = 52.1775
FAR_MILES = 20.0

LA_COLUMNS = [
    "week", "la", "children_in_care", "well_placed", "emergency", "far_20_miles",
    "outside_la", "mean_distance_miles", "weekly_spend", "weekly_budget",
    "policy_spend",
    *[f"n_{t}" for t in TYPE_NAMES],
]
ANNUAL_COLUMNS = [
    "year", "week", "la", "children_in_care", "median_distance_miles",
    "median_distance_foster", "median_distance_homes", "in_homes", "homes_far_20_miles",
    "share_3plus_placements",
    "siblings_in_care", "siblings_separated", "age_under_1", "age_1_4", "age_5_9",
    "age_10_15", "age_16_17", "starts", "ceased", "moves",
]

def _column(values: array) -> np.ndarray:
    """A typed log column as a NumPy array of the same type (a copy, so the log can grow)."""
    return np.frombuffer(values, dtype=values.typecode).copy()


class EpisodeLog:
    """Closed placement episodes as typed columns (``array``), one entry per episode.

    Episodes arrive as row tuples (:meth:`add`: one list append per episode, about
    150,000 a year nationally) and are moved into the typed columns a block at a time,
    which keeps the log compact without ten appends per episode.
    """

    INT_COLUMNS = ("child", "la", "start_week", "end_week", "placement_type", "setting",
                   "setting_la", "postcode")
    FLOAT_COLUMNS = ("distance_miles", "weekly_cost")
    BLOCK = 8192

    def __init__(self) -> None:
        for name in self.INT_COLUMNS:
            setattr(self, name, array("q"))
        for name in self.FLOAT_COLUMNS:
            setattr(self, name, array("d"))
        self.rows: list[tuple] = []  # episodes not yet moved into the columns

    def add(self, row: tuple) -> None:
        """One closed episode, its fields in ``INT_COLUMNS + FLOAT_COLUMNS`` order."""
        rows = self.rows
        rows.append(row)
        if len(rows) >= self.BLOCK:
            self.flush()

    def flush(self) -> None:
        """Move the pending rows into the typed columns."""
        if self.rows:
            for name, values in zip((*self.INT_COLUMNS, *self.FLOAT_COLUMNS),
                                    zip(*self.rows, strict=True), strict=True):
                getattr(self, name).extend(values)
            self.rows = []

    def __len__(self) -> int:
        return len(self.child) + len(self.rows)

    def to_frame(self):
        import pandas as pd

        self.flush()
        return pd.DataFrame({name: _column(getattr(self, name))
                             for name in (*self.INT_COLUMNS, *self.FLOAT_COLUMNS)})


class ChildLog:
    """Every child in care at any time in the run, one row each (for SSDA903 returns).

    A row is added when the child enters (or joins the 2019 stock) and completed when
    the child leaves; :meth:`to_frame` adds the open placement of children still in care.
    Kept column by column, so a national ten-year log (~400,000 children) turns into a
    table in a fraction of a second.
    """

    def __init__(self) -> None:
        self.row_of: dict[int, int] = {}
        self.child, self.la, self.postcode = array("q"), array("q"), array("q")
        self.birth_week, self.exit_week = array("d"), array("d")
        self.male, self.uasc = array("b"), array("b")
        self.need, self.exit_reason = array("q"), array("q")
        self.legal_status: list[str] = []
        self.entered_week: list[float] = []  # ints for entrants, floats for the 2019 stock

    def __len__(self) -> int:
        return len(self.child)

    def enter(self, child: Child) -> None:
        self.row_of[child.unique_id] = len(self.child)
        self.child.append(child.unique_id)
        self.la.append(child.la)
        self.postcode.append(child.postcode)
        self.birth_week.append(child.birth_week)
        self.male.append(child.male)
        self.need.append(int(child.need))
        self.uasc.append(child.uasc)
        self.legal_status.append(child.legal_status)
        self.entered_week.append(child.entered_week)
        self.exit_week.append(float("nan"))
        self.exit_reason.append(-1)

    def exit(self, child: Child, week: int) -> None:
        row = self.row_of.get(child.unique_id)
        if row is not None:
            self.exit_week[row] = float(week)
            self.exit_reason[row] = int(child.exit_reason)

    def to_frame(self, model: CareMarketModel):
        """Children with their exit (NaN week if still in care) and open placement."""
        import pandas as pd

        n = len(self.child)
        frame = pd.DataFrame({
            "child": _column(self.child), "la": _column(self.la),
            "postcode": _column(self.postcode),
            "birth_week": _column(self.birth_week),
            "male": _column(self.male).astype(bool),
            "need": _column(self.need), "uasc": _column(self.uasc).astype(bool),
            "legal_status": pd.Series(self.legal_status, dtype=object),
            "entered_week": pd.Series(self.entered_week),
            "exit_week": _column(self.exit_week),
            "exit_reason": _column(self.exit_reason),
        })
        open_type = np.full(n, -1, dtype=np.int64)
        open_start = np.full(n, np.nan)
        open_setting = np.full(n, -1, dtype=np.int64)
        open_setting_la = np.full(n, -1, dtype=np.int64)
        open_postcode = np.full(n, -1, dtype=np.int64)
        open_distance = np.full(n, np.nan)
        row_of = self.row_of
        for c in model.children.values():
            row = row_of.get(c.unique_id)
            if row is None:
                continue
            if c.ptype is not None:
                open_type[row] = int(c.ptype)
                open_start[row] = float(c.placed_week)
                open_distance[row] = float(c.distance)
            s = c.setting
            if s is not None:
                open_setting[row] = s.unique_id
                open_setting_la[row] = s.la
                open_postcode[row] = s.postcode
        frame["open_type"] = open_type
        frame["open_start_week"] = open_start
        frame["open_setting"] = open_setting
        frame["open_setting_la"] = open_setting_la
        frame["open_postcode"] = open_postcode
        frame["open_distance"] = open_distance
        return frame


ENGLAND_COLUMNS = ["year", "week", "median_distance_miles", "median_distance_foster",
                   "median_distance_homes"]


class _Total:
    """A running total of :class:`Outcomes`, read as a NumPy array (a read-only copy)."""

    def __init__(self, doc: str, dtype: type = np.int64) -> None:
        self.__doc__ = doc
        self.dtype = dtype

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, outcomes: Outcomes | None, owner: type | None = None):
        if outcomes is None:
            return self
        if outcomes._dirty:
            outcomes._arrays = {}
            outcomes._dirty = False
        arr = outcomes._arrays.get(self.name)
        if arr is None:
            arr = np.array(getattr(outcomes, "_" + self.name), dtype=self.dtype)
            arr.flags.writeable = False
            outcomes._arrays[self.name] = arr
        return arr


class Outcomes:
    """Counters and snapshots for one model run.

    The running totals per LA are plain Python lists while the model runs (a placement
    updates about ten of them, and list arithmetic is several times quicker than NumPy
    scalar arithmetic); readers get them as NumPy arrays (``count``, ``spend``, ...),
    rebuilt at most once after each change.
    """

    count = _Total("Children by LA (rows) and placement type (columns) now.")
    spend = _Total("Weekly spend on current placements per LA, pounds.", np.float64)
    spend_by_type = _Total("Weekly spend on current placements per placement type, pounds.",
                           np.float64)
    dist_sum = _Total("Sum of placed children's miles from home per LA.", np.float64)
    far = _Total("Children placed more than 20 miles from home per LA.")
    outside = _Total("Children placed outside their LA per LA.")
    well = _Total("Children in the kind of home their needs call for per LA (sufficiency).")
    starts = _Total("Children who started to be looked after since the run began, per LA.")
    ceased = _Total("Children who ceased to be looked after since the run began, per LA.")
    moves = _Total("Placement moves since the run began, per LA.")
    ceased_by_reason = _Total("Children who ceased to be looked after, by ExitReason.")

    def __init__(self, model: CareMarketModel) -> None:
        self.model = model
        n = len(model.geography.las)
        self._count = [[0] * N_TYPES for _ in range(n)]
        self._spend = [0.0] * n
        self._spend_by_type = [0.0] * N_TYPES
        self._dist_sum = [0.0] * n
        self._far = [0] * n
        self._outside = [0] * n
        self._well = [0] * n
        self._starts = [0] * n
        self._ceased = [0] * n
        self._moves = [0] * n
        self._ceased_by_reason = [0] * 5
        self._arrays: dict[str, np.ndarray] = {}
        self._dirty = True
        self.breakdowns = 0
        self.provider_endings = 0
        self.displaced = 0
        self.siblings_reunited = 0  # children placed where a brother or sister lives
        # Weekly spend on reforms themselves (programme budgets, RCC running costs,
        # compliance and administration), per LA, pounds/week: policies add to it.
        self.policy_spend = np.zeros(n)
        # Placement episodes, column by column (compact, and quick to turn into a table).
        self.episodes = EpisodeLog()
        self.child_log = ChildLog()  # one row per child, for SSDA903 returns
        self._year_marks: dict[str, np.ndarray] = {}
        self.supply: dict[str, float] = {}
        self.datacollector = DataCollector(
            model_reporters={name: fn for name, fn in _national_reporters().items()},
            tables={"la": LA_COLUMNS, "annual": ANNUAL_COLUMNS,
                    "annual_england": ENGLAND_COLUMNS},
        )

    # -- placement bookkeeping ------------------------------------------------------
    def on_enter(self, child: Child) -> None:
        self.child_log.enter(child)
        if child.entered_week >= 0:
            self._starts[child.la] += 1
            self._dirty = True

    def on_exit(self, child: Child) -> None:
        self.child_log.exit(child, self.model.week)
        self._ceased[child.la] += 1
        self._ceased_by_reason[child.exit_reason] += 1
        self._dirty = True

    def on_place(self, child: Child) -> None:
        la, ptype, cost, distance, s = (child.la, child.ptype, child.weekly_cost,
                                        child.distance, child.setting)
        self._dirty = True
        self._count[la][ptype] += 1
        self._spend[la] += cost
        self._spend_by_type[ptype] += cost
        if s is not None:
            if (p := s.provider) is not None:
                p.revenue_rate += cost
            if s.location_la != la:
                self._outside[la] += 1
        self._dist_sum[la] += distance
        if distance > FAR_MILES:
            self._far[la] += 1
        child.was_well_placed = well = child.well_placed
        if well:
            self._well[la] += 1
        if len(child.placement_starts) > 1:
            self._moves[la] += 1

    def on_needs_change(self, child: Child) -> None:
        """A placed child's needs changed: only whether they are well placed can change."""
        if child.ptype is None:
            return
        well = child.well_placed
        if well != child.was_well_placed:
            self._dirty = True
            self._well[child.la] += 1 if well else -1
            child.was_well_placed = well

    def on_unplace(self, child: Child) -> None:
        la, ptype, cost, distance, s = (child.la, child.ptype, child.weekly_cost,
                                        child.distance, child.setting)
        self._dirty = True
        self._count[la][ptype] -= 1
        self._spend[la] -= cost
        self._spend_by_type[ptype] -= cost
        if s is not None:
            if (p := s.provider) is not None:
                p.revenue_rate -= cost
            if s.location_la != la:
                self._outside[la] -= 1
        self._dist_sum[la] -= distance
        if distance > FAR_MILES:
            self._far[la] -= 1
        if child.was_well_placed:
            self._well[la] -= 1

    def log_episode(self, child: Child) -> None:
        """Close the child's current placement episode (kept for SSDA903-style output)."""
        s = child.setting
        where = (-1, -1, -1) if s is None else (s.unique_id, s.la, s.postcode)
        self.episodes.add((child.unique_id, child.la, child.placed_week, self.model.week,
                           child.ptype, *where, child.distance, child.weekly_cost))

    # -- collection -----------------------------------------------------------------
    def collect(self) -> None:
        m = self.model
        if m.week % m.scenario.record_every_weeks == 0 or not self.supply:
            self.supply = _supply_snapshot(m)
        self.datacollector.collect(m)
        if m.week % m.scenario.record_every_weeks == 0:
            self._record_las()
        if m.week % 52 == 0:
            self._record_annual()

    def _record_las(self) -> None:
        m = self.model
        week = m.week
        in_care = self.count.sum(axis=1)
        count, dist_sum, spend = self.count, self.dist_sum, self.spend
        for la in self.model.active_las:
            n = int(in_care[la])
            row = {
                "week": week, "la": self.model.geography.las[la].ons_code,
                "children_in_care": n, "well_placed": self._well[la],
                "emergency": int(count[la, PlacementType.EMERGENCY]),
                "far_20_miles": self._far[la], "outside_la": self._outside[la],
                "mean_distance_miles": float(dist_sum[la] / n) if n else 0.0,
                "weekly_spend": float(spend[la]) + m.contracts.void_spend.get(la, 0.0),
                "weekly_budget": float(self.model.las[la].budget),
                "policy_spend": float(self.policy_spend[la]),
            }
            for t, name in enumerate(TYPE_NAMES):
                row[f"n_{name}"] = int(count[la, t])
            self.datacollector.add_table_row("la", row)

    def _record_annual(self) -> None:
        """31 March snapshot per LA: the measures DfE publishes once a year."""
        m = self.model
        week = m.week
        n = len(m.geography.las)
        dist: list[list[float]] = [[] for _ in range(n)]
        dist_f: list[list[float]] = [[] for _ in range(n)]
        dist_h: list[list[float]] = [[] for _ in range(n)]
        three = [0] * n
        ages = [[0] * 5 for _ in range(n)]
        year_ago = week - 52
        counted = week >= 52
        no_distance = (PlacementType.WITH_PARENTS, PlacementType.ADOPTION)
        homes = (PlacementType.LA_HOME, PlacementType.PRIVATE_HOME)
        foster = (PlacementType.KINSHIP, PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER)
        edges = [1.0, 5.0, 10.0, 16.0]
        weeks_per_year = WEEKS_PER_YEAR
        for c in m.children.values():
            la, ptype = c.la, c.ptype
            if ptype is None:
                continue
            if ptype not in no_distance:
                dist[la].append(c.distance)
                if ptype in foster:
                    dist_f[la].append(c.distance)
                elif ptype in homes:
                    dist_h[la].append(c.distance)
            if counted:
                starts = c.placement_starts  # ascending weeks
                started = len(starts) - bisect.bisect_right(starts, year_ago)
                if started + (c.entered_week <= year_ago) >= 3:
                    three[la] += 1
            age = (week - c.birth_week) / weeks_per_year
            ages[la][bisect.bisect_right(edges, age)] += 1
        sib = np.zeros(n)
        sep = np.zeros(n)
        for family in m.sibling_groups.values():  # brothers and sisters in care
            kids = [c for c in family if c.ptype is not None]
            if len(kids) < 2:
                continue
            # Without a setting (adoption, with parents, emergency) siblings count as
            # together when they share the placement type.
            split = len({c.setting.unique_id if c.setting else ("no setting", int(c.ptype))
                         for c in kids}) > 1
            for c in kids:
                sib[c.la] += 1
                if split:
                    sep[c.la] += 1
        marks = {"starts": self.starts.copy(), "ceased": self.ceased.copy(),
                 "moves": self.moves.copy()}
        prev = self._year_marks or {k: np.zeros_like(v) for k, v in marks.items()}
        self._year_marks = marks
        in_care = self.count.sum(axis=1)
        year = m.scenario.start_year + round(week / WEEKS_PER_YEAR)
        self.datacollector.add_table_row("annual_england", {
            "year": year, "week": week,
            "median_distance_miles": _median([d for ds in dist for d in ds]),
            "median_distance_foster": _median([d for ds in dist_f for d in ds]),
            "median_distance_homes": _median([d for ds in dist_h for d in ds]),
        })
        for la in m.active_las:
            row = {
                "year": year, "week": week, "la": m.geography.las[la].ons_code,
                "children_in_care": int(in_care[la]),
                "median_distance_miles": _median(dist[la]),
                "median_distance_foster": _median(dist_f[la]),
                "median_distance_homes": _median(dist_h[la]),
                "in_homes": len(dist_h[la]),
                "homes_far_20_miles": sum(1 for d in dist_h[la] if d > FAR_MILES),
                "share_3plus_placements": three[la] / in_care[la] if in_care[la] else 0.0,
                "siblings_in_care": int(sib[la]), "siblings_separated": int(sep[la]),
                "starts": int(marks["starts"][la] - prev["starts"][la]),
                "ceased": int(marks["ceased"][la] - prev["ceased"][la]),
                "moves": int(marks["moves"][la] - prev["moves"][la]),
            }
            for k, name in enumerate(("age_under_1", "age_1_4", "age_5_9", "age_10_15",
                                      "age_16_17")):
                row[name] = ages[la][k]
            self.datacollector.add_table_row("annual", row)


def _median(values: list[float]) -> float:
    # statistics.median: the same value as np.median, without converting each LA's list.
    return float(statistics.median(values)) if values else float("nan")


def _national_reporters() -> dict:
    """Weekly national series, all read from running totals."""

    def in_care(m):
        return int(m.outcomes.count.sum())

    def share(num):
        return lambda m: float(num(m) / max(in_care(m), 1))

    def placed(m):
        o = m.outcomes
        return max(int(o.count.sum() - o.count[:, PlacementType.WITH_PARENTS].sum()
                       - o.count[:, PlacementType.ADOPTION].sum()), 1)

    reporters = {
        "week": lambda m: m.week,
        "children_in_care": in_care,
        "sufficiency": share(lambda m: m.outcomes.well.sum()),
        "emergency": lambda m: int(m.outcomes.count[:, PlacementType.EMERGENCY].sum()),
        "share_far_20_miles": lambda m: float(m.outcomes.far.sum() / placed(m)),
        "share_outside_la": lambda m: float(m.outcomes.outside.sum() / placed(m)),
        "mean_distance_miles": lambda m: float(m.outcomes.dist_sum.sum() / placed(m)),
        "weekly_spend": lambda m: float(m.outcomes.spend.sum()) + m.contracts.total_void_spend(),
        "void_spend": lambda m: m.contracts.total_void_spend(),
        "policy_spend": lambda m: float(m.outcomes.policy_spend.sum()),
        "total_spend": lambda m: float(m.outcomes.spend.sum() + m.outcomes.policy_spend.sum())
        + m.contracts.total_void_spend(),
        "block_contracted_places": lambda m: sum(c.home.places for c in m.contracts.active),
        "spend_vs_budget": lambda m: float(
            (m.outcomes.spend.sum() + m.contracts.total_void_spend())
            / max(sum(la.budget for la in m.las), 1.0)),
        "starts": lambda m: int(m.outcomes.starts.sum()),
        "ceased": lambda m: int(m.outcomes.ceased.sum()),
        "moves": lambda m: int(m.outcomes.moves.sum()),
        "breakdowns": lambda m: m.outcomes.breakdowns,
        "provider_endings": lambda m: m.outcomes.provider_endings,
        "children_displaced": lambda m: m.outcomes.displaced,
        "siblings_reunited": lambda m: m.outcomes.siblings_reunited,
        "homes_opened": lambda m: m.market.homes_opened,
        "homes_closed": lambda m: m.market.homes_closed,
        "providers_failed": lambda m: m.market.providers_failed,
        "fostering_enquiries": lambda m: m.recruitment.counts.enquiries,
        "fostering_applications": lambda m: m.recruitment.counts.applications,
        "fostering_approvals": lambda m: m.recruitment.counts.approvals,
        "fostering_deregistrations": lambda m: m.recruitment.counts.deregistrations,
    }
    for t, name in enumerate(TYPE_NAMES):
        reporters[f"unit_cost_{name}"] = (lambda k: lambda m: _mean_price(m, k))(t)
    for key in SUPPLY_KEYS:
        reporters[key] = (lambda k: lambda m: m.outcomes.supply[k])(key)
    for t, name in enumerate(TYPE_NAMES):
        reporters[f"n_{name}"] = (lambda k: lambda m: int(m.outcomes.count[:, k].sum()))(t)
    return reporters


SUPPLY_KEYS = ("homes_open", "la_homes_open", "home_places", "foster_households",
               "kinship_households", "foster_places", "foster_vacancies",
               "mean_price_private_home", "mean_price_ifa", "margin_homes", "margin_ifa")


def _supply_snapshot(m: CareMarketModel) -> dict[str, float]:
    """Supply, prices and margins, taken at snapshot weeks only: homes and providers are
    walked; foster carers come from running totals
    (:class:`~sim.agents.foster_household.CarerTotals`)."""
    homes = [s for t in (PlacementType.PRIVATE_HOME, PlacementType.LA_HOME)
             for s in m.settings[t]]
    carers = m.carer_totals  # running totals: households are counted as they change
    return {
        "homes_open": len(homes),
        "la_homes_open": len(m.settings[PlacementType.LA_HOME]),
        "home_places": sum(s.places for s in homes),
        "foster_households": carers.households,
        "kinship_households": len(m.settings[PlacementType.KINSHIP]),
        "foster_places": carers.places,
        "foster_vacancies": carers.places - carers.filled,
        "mean_price_private_home": _mean_price(m, PlacementType.PRIVATE_HOME),
        "mean_price_ifa": _mean_price(m, PlacementType.IFA_FOSTER),
        "margin_homes": _sector_margin(m, "homes"),
        "margin_ifa": _sector_margin(m, "ifa"),
    }


def _mean_price(m: CareMarketModel, ptype: PlacementType) -> float:
    """Mean weekly price paid for current placements of one type, pounds."""
    o = m.outcomes
    n = o.count[:, ptype].sum()
    return float(o.spend_by_type[ptype] / n) if n else float("nan")


def _sector_margin(m: CareMarketModel, kind: str) -> float:
    rev = cost = 0.0
    for p in m.providers:
        if p.active and p.kind == kind and p.sector != Sector.LOCAL_AUTHORITY:
            rev += p.quarter_revenue
            cost += p.quarter_cost
    return float((rev - cost) / rev) if rev > 0 else float("nan")
