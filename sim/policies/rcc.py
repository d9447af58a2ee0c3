"""Regional Care Cooperatives (RCCs): LAs that plan, commission and provide care together.

Why: *Stable Homes, Built on Love* (DfE, February 2023) proposes cooperatives of up to 20
LAs that forecast need regionally, share in-house provision, buy external places "as one
customer" and build homes where the region's demand will be. Two pathfinders launched in
2025 (Greater Manchester, April; South East, June). The consultation responses doubt
that this adds any places (H1), fear lost local knowledge and added bureaucracy (H3, H5)
and expect no price leverage while supply is short (H7). Each function is a switch and
each friction a parameter, so those claims can be tested rather than assumed.

Functions (each a boolean parameter):

* ``pool_foster_carers`` / ``pool_la_homes``: a member's child may be matched with any
  member's in-house carer / LA home (the LAs' ``foster_pool`` / ``home_pool`` hooks).
* ``joint_commissioning``: members buy as one buyer (``buyer`` hook), so block contracts
  are shared and buyer concentration counts the cooperative once; a price hook lowers a
  provider's markup with the cooperative's share of its business (``negotiation_strength``),
  less when the provider is full (``capacity_dependence``).
* ``regional_forecasting``: each quarter the cooperative forecasts its members' demand for
  children's-home places, compares it with the places available in each member LA, builds
  cooperative-run homes where the shortfall is largest (capital budget) and block-books
  free homes near the rest of it.
* ``sufficiency_view``: a quarterly table ``rcc_sufficiency``.
"""

from __future__ import annotations

import csv
import math
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.data import load_national
from sim.errors import ScenarioError, UnknownLocalAuthority
from sim.geography import load_geography
from sim.policies.base import WEEKS_PER_YEAR, Policy, register
from sim.types import Need, PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.provider import Provider
    from sim.model import CareMarketModel

QUARTER_WEEKS = 13
HOME_TYPES = (PlacementType.LA_HOME, PlacementType.PRIVATE_HOME)
CAPACITY_TYPES = (PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER, PlacementType.LA_HOME,
                  PlacementType.PRIVATE_HOME, PlacementType.SUPPORTED)
NO_PLACE = (PlacementType.WITH_PARENTS, PlacementType.ADOPTION)
# The LA hooks a member hands to the cooperative; their own values come back at the end.
LA_HOOKS = ("foster_pool", "home_pool", "buyer", "out_of_area_breakdown_multiplier",
            "matching_delay_weeks")
PATHFINDER_PRESETS = ("greater_manchester", "south_east", "south_east_home_and_future")

_PUBLISHED = load_national().policies
MAX_MEMBERS = _PUBLISHED.rcc_max_las  # "groups of up to 20 LAs" (Stable Homes, Built on Love)
N_PATHFINDERS = len(PATHFINDER_PRESETS) - 1  # the Home and Future mutual is a South East variant
PATHFINDER_YEARS = 2  # estimate: 2025-26 and 2026-27, the pathfinder phase
# £3.46m revenue across both pathfinders (DfE, November 2024) / 2 pathfinders / 2 years.
RUNNING_COST_PER_YEAR = _PUBLISHED.rcc_revenue_total_gbp / N_PATHFINDERS / PATHFINDER_YEARS
# £259m capital for about 350 LA children's-home places (Stable Homes, Built on Love).
CAPITAL_PER_PLACE = _PUBLISHED.la_homes_capital_gbp / _PUBLISHED.la_homes_capital_places


class LargeCooperativeWarning(UserWarning):
    """A cooperative larger than the published design (up to 20 LAs)."""


@dataclass(frozen=True)
class Cooperative:
    """One group of LAs acting together; ``id`` is its buyer id."""

    id: str
    name: str
    members: tuple[int, ...]  # LA indices, in the order given (the order they join)


# -- memberships ---------------------------------------------------------------------------
def scenario_file_of(where: str) -> str:
    """The scenario file named in a field path such as ``"x.toml: policies[0]"``."""
    return where.rsplit(": policies[", 1)[0]


def resolve_path(text: str, where: str) -> Path:
    """A file named in a scenario: relative paths are relative to the scenario file."""
    path = Path(text)
    scenario = Path(scenario_file_of(where))
    if not path.is_absolute() and scenario.suffix == ".toml":
        path = scenario.parent / path
    return path


def la_index(code: Any, field: str) -> int:
    """Index of an LA given by code, as a one-line ScenarioError naming ``field`` if unknown."""
    if not isinstance(code, str):
        raise ScenarioError(f"{field}: expected an ONS LA code such as 'E08000003', got {code!r}")
    try:
        return load_geography().la(code, field).index
    except UnknownLocalAuthority as err:
        raise ScenarioError(str(err)) from None


def read_groupings(text: str, field: str) -> dict[str, list[tuple[str, str]]]:
    """Groups of LAs from a CSV (columns ``la_code``, ``group``) or TOML file.

    TOML: a table ``[groups]`` mapping each group id to a list of LA codes. Returns
    group id -> [(LA code, where it was given)] so errors can name the line.
    """
    path = resolve_path(text, field)
    if not path.is_file():
        raise ScenarioError(f"{field}: no such file {str(path)!r} (a CSV or TOML grouping; "
                            "relative paths are relative to the scenario file)")
    groups: dict[str, list[tuple[str, str]]] = {}
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ScenarioError(f"{field}: {path} is not valid TOML ({err})") from None
        table = data.get("groups")
        if not isinstance(table, dict) or not table:
            raise ScenarioError(f"{field}: {path} needs a table [groups] of group id = "
                                "[LA codes]")
        for gid, codes in table.items():
            if not isinstance(codes, list):
                raise ScenarioError(f"{field}: {path}: groups.{gid} must be a list of LA codes")
            groups[str(gid)] = [(c, f"{field} ({path}: groups.{gid}[{i}])")
                                for i, c in enumerate(codes)]
        return groups
    if path.suffix.lower() != ".csv":
        raise ScenarioError(f"{field}: {path} must be a .csv or .toml file")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = {c.strip().lower(): c for c in reader.fieldnames or []}
        code_col = next((cols[c] for c in ("la_code", "ons_code", "la", "code") if c in cols), None)
        group_col = next((cols[c] for c in ("group", "cooperative", "subregion") if c in cols),
                         None)
        if code_col is None or group_col is None:
            raise ScenarioError(f"{field}: {path} needs columns la_code and group "
                                f"(found: {', '.join(reader.fieldnames or []) or 'none'})")
        for line, row in enumerate(reader, start=2):
            gid = (row.get(group_col) or "").strip()
            code = (row.get(code_col) or "").strip()
            if not gid or not code:
                raise ScenarioError(f"{field}: {path} line {line}: empty la_code or group")
            groups.setdefault(gid, []).append((code, f"{field} ({path} line {line})"))
    if not groups:
        raise ScenarioError(f"{field}: {path} lists no LAs")
    return groups


def groups_to_indices(groups: dict[str, list[tuple[str, str]]],
                      field: str) -> dict[str, tuple[int, ...]]:
    """Check every code and that no LA is in two groups; group id -> LA indices."""
    seen: dict[int, str] = {}
    out: dict[str, tuple[int, ...]] = {}
    for gid, entries in groups.items():
        members = []
        for code, where in entries:
            i = la_index(code, where)
            if i in seen:
                raise ScenarioError(f"{where}: {code} is already in group {seen[i]!r}; "
                                    "each LA may be in one group only")
            seen[i] = gid
            members.append(i)
        out[gid] = tuple(members)
    if not seen:
        raise ScenarioError(f"{field}: no LAs given (a cooperative needs at least one member)")
    return out


def _slug(text: str) -> str:
    return text.strip().lower().replace(" ", "_")


# -- the policy ----------------------------------------------------------------------------
@register
class RegionalCareCooperative(Policy):
    """One or more RCCs with switchable functions, costs and frictions (see module doc)."""

    name: ClassVar[str] = "rcc"
    defaults: ClassVar[dict[str, Any]] = {
        # Membership: one of members, preset or members_file.
        "preset": "greater_manchester",
        "members": [],
        "members_file": "",
        "cooperative_name": "",
        # Functions.
        "pool_foster_carers": True,
        "pool_la_homes": True,
        "joint_commissioning": True,
        "negotiation_strength": 0.5,
        "capacity_dependence": 1.0,
        "regional_forecasting": True,
        "forecast_horizon_weeks": 52,
        "capital_budget_gbp": _PUBLISHED.rcc_capital_each_gbp,
        "capital_cost_per_place_gbp": float(round(CAPITAL_PER_PLACE)),
        "home_places": 4,
        "build_weeks": 78,
        "needs_registered_manager": True,
        "block_share_of_shortfall": 0.5,
        "sufficiency_view": True,
        # Costs and frictions.
        "setup_cost_gbp": 500_000.0,
        "running_cost_gbp_per_year": RUNNING_COST_PER_YEAR,
        "transition_weeks": 52,
        "local_knowledge_loss": 0.0,
        "matching_delay_weeks": 0,
        "bureaucracy_delay_weeks": 0,
        "bureaucracy_cost_gbp_per_placement": 0.0,
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "negotiation_strength": (0.0, 1.0, "share of a provider's markup given up at a "
                                 "monopsony buyer"),
        "capacity_dependence": (0.0, 1.0, "how far a full provider ignores buyer leverage"),
        "forecast_horizon_weeks": (0, 520, "weeks ahead"),
        "capital_budget_gbp": (0.0, 1e10, "GBP per cooperative"),
        "capital_cost_per_place_gbp": (1.0, 1e8, "GBP per place"),
        "home_places": (1, 12, "places per cooperative-run home"),
        "build_weeks": (0, 520, "weeks from decision to opening"),
        "block_share_of_shortfall": (0.0, 1.0, "share of the forecast shortfall block-booked"),
        "setup_cost_gbp": (0.0, 1e10, "GBP per cooperative, one-off"),
        "running_cost_gbp_per_year": (0.0, 1e10, "GBP per cooperative per year"),
        "transition_weeks": (0, 520, "weeks"),
        "local_knowledge_loss": (0.0, 10.0, "extra breakdown hazard (x) out of the child's LA"),
        "matching_delay_weeks": (0, 26, "weeks a jointly commissioned member's child waits in "
                                 "an interim placement before its search"),
        "bureaucracy_delay_weeks": (0, 104, "weeks"),
        "bureaucracy_cost_gbp_per_placement": (0.0, 1e6, "GBP per placement"),
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "preset": ("", *PATHFINDER_PRESETS, "regions"),
    }

    def __init__(self, start: float = 0.0, end: float | None = None, enabled: bool = True,
                 **params: Any) -> None:
        super().__init__(start=start, end=end, enabled=enabled, **params)
        self._given = frozenset(params)
        self.cooperatives: list[Cooperative] = []
        self.rows: list[dict[str, Any]] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._on_week = 0
        self._saved: dict[int, dict[str, Any]] = {}  # member -> its LA hooks before joining
        self._joins: list[tuple[int, int, int]] = []  # (week, cooperative, LA), in order
        self._next_join = 0
        self._joined: list[list[int]] = []
        self._coop_of: np.ndarray = np.zeros(0, dtype=int)  # every member -> cooperative
        self._buyer_coop: list[int] = []  # joined joint-commissioning members -> cooperative
        self._spend = np.zeros(0)
        self._capital: list[tuple[int, int, float]] = []  # (until week, LA, GBP/week)
        self._builds: list[tuple[int, int, int]] = []  # (built week, cooperative, LA)
        self._waiting: list[tuple[int, int]] = []  # built, waiting for a manager: (coop, LA)
        self._claiming = False
        self._blocks: list[tuple[int, int, float]] = []  # (week, LA, places)
        self._homes: list[int] = []  # homes each cooperative's capital pays for (this run)
        self._built: list[int] = []
        self._history: list[list[int]] = []
        self._leverage: dict[Provider, float] = {}
        self._leverage_week = -1
        self._placed_marks = np.zeros(0)
        self._providers: dict[int, Provider] = {}
        self._model: CareMarketModel | None = None

    # -- parameters ---------------------------------------------------------------------
    def validate(self, where: str, model_geography=None) -> None:
        given = {k for k in ("members", "members_file") if k in self._given}
        if len(given) > 1 or (given and "preset" in self._given and self.preset):
            raise ScenarioError(f"{where}: give one of members, preset or members_file "
                                f"(got {', '.join(sorted(given | {'preset'} & self._given))})")
        if "members" in self._given:
            field = f"{where}.members"
            if not self.members:
                raise ScenarioError(f"{field}: empty; allowed a list of ONS LA codes "
                                    "(a cooperative needs at least one member)")
            groups = {"custom": [(c, f"{field}[{i}]") for i, c in enumerate(self.members)]}
            label = self.cooperative_name or "custom"
            idx = groups_to_indices(groups, field)["custom"]
            code = load_geography().las[idx[0]].ons_code
            slug = _slug(self.cooperative_name) if self.cooperative_name else f"custom_{code}"
            coops = [Cooperative(f"rcc:{slug}", label, idx)]
        elif "members_file" in self._given:
            field = f"{where}.members_file"
            if not self.members_file:
                raise ScenarioError(f"{field}: empty; allowed a path to a CSV or TOML grouping")
            found = groups_to_indices(read_groupings(self.members_file, field), field)
            coops = [Cooperative(f"rcc:{_slug(g)}", g, m) for g, m in found.items()]
        elif self.preset == "regions":
            geo = load_geography()
            coops = [Cooperative(f"rcc:{_slug(r)}", f"{r} RCC",
                                 tuple(la.index for la in geo.in_region(r)))
                     for r in geo.regions]
        elif self.preset:
            geo = load_geography()
            codes = _PUBLISHED.rcc_pathfinders[self.preset]
            coops = [Cooperative(f"rcc:{self.preset}", _PUBLISHED.rcc_pathfinder_names[
                self.preset], tuple(geo.la(c).index for c in codes))]
        else:
            presets = ", ".join(repr(p) for p in self.choices["preset"][1:])
            raise ScenarioError(f"{where}.preset: empty and no members or members_file given; "
                                f"allowed one of {presets}, or a members list or members_file")
        big = [f"{c.name} ({len(c.members)})" for c in coops if len(c.members) > MAX_MEMBERS]
        if big:
            warnings.warn(f"{where}: cooperatives larger than the published design of up to "
                          f"{MAX_MEMBERS} LAs: {', '.join(big)}", LargeCooperativeWarning,
                          stacklevel=2)
        self.cooperatives = coops

    # -- life cycle -----------------------------------------------------------------------
    def initialize(self, model: CareMarketModel) -> None:
        """Resolve memberships only: nothing in the model changes before the start date."""
        if not self.cooperatives:
            self.validate(f"{model.scenario.source_file or '<scenario>'}: policies[rcc]")

    def switch_on(self, model: CareMarketModel) -> None:
        self._reset_state()
        self._model = model
        n = len(model.las)
        self._on_week = model.week
        self._coop_of = np.full(n, -1, dtype=int)
        self._buyer_coop = [-1] * n
        self._spend = np.zeros(n)
        o = model.outcomes
        self._placed_marks = (o.starts + o.moves).astype(float)
        delay = self.bureaucracy_delay_weeks
        for k, coop in enumerate(self.cooperatives):
            members = coop.members
            for j, la in enumerate(members):
                self._coop_of[la] = k
                lag = math.ceil(self.transition_weeks * (j + 1) / len(members))
                self._joins.append((model.week + delay + lag, k, la))
            self._joined.append([])
            self._built.append(0)
            # Capital at the run's scale buys this many homes; a fraction is a chance of one.
            homes = (self.capital_budget_gbp * model.scenario.scale
                     / (self.home_places * self.capital_cost_per_place_gbp))
            self._homes.append(int(homes) + int(self.rng.random() < homes - int(homes)))
            self._history.append([])
        self._joins.sort()
        if self.joint_commissioning:
            model.price_hooks.append(self._negotiate)
        if self.regional_forecasting and self.needs_registered_manager:
            model.market.manager_claims.append(self._claim)
            self._claiming = True

    def switch_off(self, model: CareMarketModel) -> None:
        """Members go back to their own pools and buyer; contracts pass to the signing LA."""
        for la, saved in self._saved.items():
            for hook, value in saved.items():
                setattr(model.las[la], hook, value)
        coop_ids = {c.id for c in self.cooperatives}
        for contract in model.contracts.active:
            if contract.buyer in coop_ids:
                contract.buyer = model.las[contract.la].buyer
                contract.home.reserved_for = contract.buyer
                model.vacancies.refresh(contract.home)
        if self._negotiate in model.price_hooks:
            model.price_hooks.remove(self._negotiate)
        model.outcomes.policy_spend -= self._spend
        self._spend[:] = 0.0
        self._saved = {}

    def apply(self, model: CareMarketModel) -> None:
        super().apply(model)
        if not self.active:
            self._open_due(model)  # homes already paid for still open after the end date
            if self._claiming and not (self._builds or self._waiting):
                model.market.manager_claims.remove(self._claim)
                self._claiming = False

    def weekly(self, model: CareMarketModel) -> None:
        week = model.week
        while self._next_join < len(self._joins) and self._joins[self._next_join][0] <= week:
            _, k, la = self._joins[self._next_join]
            self._next_join += 1
            self._join(model, k, la)
        self._open_due(model)
        if self._blocks:
            due = [b for b in self._blocks if b[0] <= week]
            self._blocks = [b for b in self._blocks if b[0] > week]
            for _, la, places in due:
                model.contracts.reserve_near(model.las[la].buyer, la, places)
        since = week - self._on_week
        if since % QUARTER_WEEKS == 0 and (self.sufficiency_view or self.regional_forecasting):
            self._quarter(model)
        self._book_spend(model)

    def phase(self, model: CareMarketModel) -> float:
        """Share of the transition completed (1 once it is over)."""
        if self.transition_weeks <= 0:
            return 1.0
        return min(max((model.week - self._on_week) / self.transition_weeks, 0.0), 1.0)

    def _join(self, model: CareMarketModel, k: int, la: int) -> None:
        """A member hands its pooled functions to the cooperative (staggered by transition)."""
        agent = model.las[la]
        saved = self._saved[la] = {hook: getattr(agent, hook) for hook in LA_HOOKS}
        joined = self._joined[k]
        joined.append(la)
        pool = tuple(sorted(joined))
        coop = self.cooperatives[k]
        for m in joined:
            member = model.las[m]
            if self.pool_foster_carers:
                member.foster_pool = pool
            if self.pool_la_homes:
                member.home_pool = pool
        if self.joint_commissioning:
            agent.buyer = coop.id
            self._buyer_coop[la] = k
            # The cooperative, not the LA, now finds the placement (H5: slower matching).
            agent.matching_delay_weeks = saved["matching_delay_weeks"] + self.matching_delay_weeks
        agent.out_of_area_breakdown_multiplier = (
            saved["out_of_area_breakdown_multiplier"] * (1.0 + self.local_knowledge_loss))

    # -- joint commissioning: negotiation ------------------------------------------------
    def _negotiate(self, provider: Provider, markup: float) -> float:
        """Price hook: a provider gives up markup in proportion to its buyers' power.

        Each cooperative negotiates a discount of ``strength x its share`` of the provider's
        business on that share, so the provider's price falls by ``strength x sum of the
        cooperatives' squared shares`` (a Herfindahl over cooperative buyers), less when the
        provider's places are full (no spare capacity, no leverage).
        """
        model = self._model
        if model is None or markup <= 0:
            return markup
        if model.week < self._on_week + self.bureaucracy_delay_weeks:
            return markup
        if self._leverage_week < 0 or (model.week != self._leverage_week and model.week
                                       % model.scenario.prices.reprice_weeks == 0):
            self._leverage = self._provider_leverage(model)
            self._leverage_week = model.week
        lev = self._leverage.get(provider, 0.0)
        return markup * (1.0 - self.negotiation_strength * lev * self.phase(model))

    def _provider_leverage(self, model: CareMarketModel) -> dict[Provider, float]:
        """Per independent provider: cooperatives' squared shares x spare capacity."""
        coop_of = self._buyer_coop
        target = model.scenario.prices.target_occupancy
        dependence = self.capacity_dependence
        out: dict[Provider, float] = {}
        for prov in model.providers:
            if not prov.active or prov.sector == Sector.LOCAL_AUTHORITY:
                continue
            counts: dict[int, int] = {}
            total = usable = 0
            for s in prov.settings:
                if not s.open:
                    continue
                usable += max(s.places - s.blocked, 0)
                for c in s.occupants:
                    total += 1
                    k = coop_of[c.la]
                    if k >= 0:
                        counts[k] = counts.get(k, 0) + 1
            if not counts:
                continue
            h = sum((v / total) ** 2 for v in counts.values())
            occupancy = total / usable if usable else 1.0
            tight = min(max((occupancy - target) / max(1.0 - target, 1e-6), 0.0), 1.0)
            out[prov] = h * (1.0 - dependence * tight)
        return out

    # -- forecasting and the sufficiency view ---------------------------------------------
    def _quarter(self, model: CareMarketModel) -> None:
        """Quarterly: count members' children by need and type, forecast, act, record.

        One pass over the children and one over the settings (a quarter of a second for
        all of England), counting into a flat list: this runs for every cooperative at
        once. Well placed is the model's own flag, set when the placement started.
        """
        coop_of = self._coop_of.tolist()
        n_coops, n_types = len(self.cooperatives), len(PlacementType)
        flat = [0] * (n_coops * len(Need) * n_types * 4)
        demand_list = [0] * len(model.las)
        totals = [0] * n_coops
        skip = {None, *NO_PLACE}
        homes = set(HOME_TYPES)
        for ch in model.children.values():
            k = coop_of[ch.la]
            if k < 0:
                continue
            pt = ch.ptype
            if pt in skip:
                continue
            totals[k] += 1
            need = ch.need
            at = ((k * 3 + need) * n_types + pt) * 4
            flat[at] += 1
            well = ch.was_well_placed
            if not well:
                flat[at + 1] += 1
            s = ch.setting
            if s is not None and coop_of[s.location_la] != k:
                flat[at + 2] += 1
            if ch.distance > 20.0:
                flat[at + 3] += 1
            if pt in homes or (need and not well):
                demand_list[ch.la] += 1
        cells = {}
        for at in range(0, len(flat), 4):
            if flat[at]:
                k, rest = divmod(at // 4, 3 * n_types)
                cells[(k, *divmod(rest, n_types))] = flat[at:at + 4]
        demand = np.array(demand_list, dtype=float)
        # Capacity located in member LAs: places, free places, and places members use.
        places = np.zeros((n_coops, n_types))
        free = np.zeros((n_coops, n_types))
        usable_homes = np.zeros(len(model.las))
        buyers = [{model.las[m].buyer for m in c.members} for c in self.cooperatives]
        types = CAPACITY_TYPES if self.sufficiency_view else HOME_TYPES
        for pt in types:
            is_home = pt in HOME_TYPES
            for s in model.settings[pt]:
                k = coop_of[s.location_la]
                if k < 0 or not s.open:
                    continue
                places[k, pt] += s.places
                f = s.places - s.blocked - len(s.occupants)
                f = f if f > 0 else 0
                free[k, pt] += f
                if is_home and (s.reserved_for is None or s.reserved_for in buyers[k]):
                    usable_homes[s.location_la] += f + sum(
                        1 for c in s.occupants if coop_of[c.la] == k)
        shortfall = self._forecast(model, totals, demand, usable_homes)
        if self.sufficiency_view:
            self._record(model, cells, places, free, demand, shortfall)

    def _forecast(self, model: CareMarketModel, totals: list[int], demand: np.ndarray,
                  usable: np.ndarray) -> np.ndarray:
        """Shortfall of children's-home places per member LA over the horizon; acts on it."""
        growth_years = self.forecast_horizon_weeks / WEEKS_PER_YEAR
        shortfall = np.zeros(len(model.las))
        pending = np.zeros(len(model.las))
        for la in [b[2] for b in self._builds] + [w[1] for w in self._waiting]:
            pending[la] += self.home_places
        for k, coop in enumerate(self.cooperatives):
            hist = self._history[k]
            hist.append(totals[k])
            growth = 1.0
            if len(hist) > 4 and hist[-5] > 0:
                growth = min(max(hist[-1] / hist[-5], 0.8), 1.25) ** growth_years
            idx = list(coop.members)
            shortfall[idx] = np.maximum(demand[idx] * growth - usable[idx] - pending[idx], 0.0)
            if self.regional_forecasting and model.week >= self._on_week:
                self._commission(model, k, shortfall)
        return shortfall

    def _commission(self, model: CareMarketModel, k: int, shortfall: np.ndarray) -> None:
        """Build where the shortfall is largest (capital released with the transition), then
        block-book free homes near the rest of it."""
        coop = self.cooperatives[k]
        active = set(model.active_las)
        members = [la for la in coop.members if la in active]
        if not members:
            return
        gap = {la: float(shortfall[la]) for la in members}
        home_cost = self.home_places * self.capital_cost_per_place_gbp
        allowed = self._homes[k] * self.phase(model)  # capital released with the transition
        delay = self.bureaucracy_delay_weeks
        while self._built[k] + 1 <= allowed + 1e-9:
            la = max(members, key=lambda i: (gap[i], -i))
            if gap[la] < self.home_places / 2:
                break
            self._built[k] += 1
            opening = model.week + delay + self.build_weeks
            self._builds.append((opening, k, la))
            weeks = max(opening - model.week, 1)
            self._capital.append((opening, la, home_cost / weeks))
            gap[la] -= self.home_places
        share = self.block_share_of_shortfall * self.phase(model)
        if share > 0:
            held = dict.fromkeys(members, 0)
            for contract in model.contracts.active:
                if contract.la in held:
                    held[contract.la] += contract.home.places
            for la in members:
                want = share * gap[la] - held[la]
                if want >= 1.0:
                    self._blocks.append((model.week + delay, la, want))

    def _open_due(self, model: CareMarketModel) -> None:
        """Homes whose build is finished open, or wait for a registered manager (H18)."""
        if not self._builds or self._builds[0][0] > model.week:
            return
        due = [b for b in self._builds if b[0] <= model.week]
        self._builds = [b for b in self._builds if b[0] > model.week]
        for _, k, la in due:
            if self.needs_registered_manager:
                self._waiting.append((k, la))
            else:
                self._open(model, k, la)

    def _claim(self, available: float, private_wanted: float) -> int:
        """Quarterly, as the market recruits registered managers: built homes waiting for
        one take them first (public homes ahead of private entry); returns managers taken."""
        model = self._model
        take = min(len(self._waiting), int(available))
        if model is None or take <= 0:
            return 0
        for k, la in self._waiting[:take]:
            self._open(model, k, la)
        del self._waiting[:take]
        return take

    def _open(self, model: CareMarketModel, k: int, la: int) -> None:
        """A cooperative-run home for complex needs opens in member LA ``la``."""
        from sim.supply import open_home

        home = open_home(model, self._provider(model, k), la, self.rng)
        home.places = self.home_places
        home.specialist = True  # cooperatives run homes for complex needs (DfE 2023)
        home.band = (home.min_age, 18.0, True)
        model.vacancies.refresh(home)
        model.market.homes_opened += 1

    def _provider(self, model: CareMarketModel, k: int) -> Provider:
        """The cooperative's own (public-sector) operator of children's homes."""
        from sim.agents.provider import Provider

        prov = self._providers.get(k)
        if prov is None:
            coop = self.cooperatives[k]
            region = model.las[coop.members[0]].region
            prov = Provider(model, "homes", Sector.LOCAL_AUTHORITY, region, 0.0, 0.0, 0.0, 0.0,
                            f"{coop.name} cooperative homes")
            model.register_provider(prov)
            self._providers[k] = prov
        return prov

    def _record(self, model: CareMarketModel, cells: dict, places: np.ndarray,
                free: np.ndarray, demand: np.ndarray, shortfall: np.ndarray) -> None:
        year = model.scenario.start_year + 0.25 + model.week / WEEKS_PER_YEAR
        for (k, need, pt), (n, not_met, outside, far) in sorted(cells.items()):
            self.rows.append({
                "week": model.week, "year": round(year, 3),
                "cooperative": self.cooperatives[k].name, "need": Need(need).name.lower(),
                "placement_type": PlacementType(pt).name.lower(), "children": n,
                "needs_not_met": not_met, "outside_area": outside, "far_20_miles": far,
                "places_in_area": math.nan, "free_places_in_area": math.nan,
                "forecast_demand": math.nan, "shortfall": math.nan})
        active = set(model.active_las)
        for k, coop in enumerate(self.cooperatives):
            idx = list(coop.members)
            if active.isdisjoint(idx):
                continue
            for pt in CAPACITY_TYPES:
                sub = [v for key, v in cells.items() if key[0] == k and key[2] == pt]
                is_home = pt in HOME_TYPES
                self.rows.append({
                    "week": model.week, "year": round(year, 3), "cooperative": coop.name,
                    "need": "all", "placement_type": pt.name.lower(),
                    "children": sum(v[0] for v in sub),
                    "needs_not_met": sum(v[1] for v in sub),
                    "outside_area": sum(v[2] for v in sub), "far_20_miles": sum(v[3] for v in sub),
                    "places_in_area": float(places[k, pt]),
                    "free_places_in_area": float(free[k, pt]),
                    "forecast_demand": float(demand[idx].sum()) if is_home else math.nan,
                    "shortfall": float(shortfall[idx].sum()) if is_home else math.nan})

    # -- costs ------------------------------------------------------------------------------
    def _book_spend(self, model: CareMarketModel) -> None:
        """This week's running, set-up, capital and per-placement costs, £/week per LA.

        Cooperative costs (at the run's scale) are shared by members in proportion to
        their children in care; capital and per-placement costs are per home and placement.
        """
        week = model.week
        o = model.outcomes
        spend = np.zeros(len(model.las))
        in_care = o.count.sum(axis=1)
        weekly = self.running_cost_gbp_per_year / WEEKS_PER_YEAR
        if self.transition_weeks > 0 and week - self._on_week < self.transition_weeks:
            weekly += self.setup_cost_gbp / self.transition_weeks
        elif self.transition_weeks == 0 and week == self._on_week:
            weekly += self.setup_cost_gbp
        weekly *= model.scenario.scale
        for coop in self.cooperatives:
            idx = list(coop.members)
            weights = in_care[idx].astype(float)
            total = weights.sum()
            if total > 0:
                spend[idx] += weekly * weights / total
        self._capital = [c for c in self._capital if c[0] > week]
        for _, la, amount in self._capital:
            spend[la] += amount
        placed = (o.starts + o.moves).astype(float)
        if self.bureaucracy_cost_gbp_per_placement > 0:
            members = self._coop_of >= 0
            spend[members] += (self.bureaucracy_cost_gbp_per_placement
                               * (placed - self._placed_marks)[members])
        self._placed_marks = placed
        o.policy_spend += spend - self._spend
        self._spend = spend

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        """``rcc_sufficiency``: one table for every RCC block in the run (the first writes it)."""
        mine = [p for p in model.policies if isinstance(p, RegionalCareCooperative)]
        if not mine or mine[0] is not self:
            return {}
        rows = [r for p in mine for r in p.rows]
        return {"rcc_sufficiency": pd.DataFrame(rows)} if rows else {}
