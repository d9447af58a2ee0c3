"""Typed loaders for the project's own calibration data.

Why this module exists: the model's defaults and its validation tests must rest on
published figures, and must work on any machine where the package is installed. The
figures therefore live inside the package (``sim/data``, see ``SOURCES.md``) and are
read through :mod:`importlib.resources`, never from a working folder.

Two files are read:

* ``la_cla_2019.csv``: one row per upper-tier local authority (152, 2021 geography),
  DfE *Children looked after in England including adoptions, year ending 31 March 2019*.
* ``national.toml``: national figures for England and the policy parameters as
  published, each figure with its unit, period and original source.

Every value is checked on load: a malformed file raises :class:`CalibrationDataError`
with one line naming the file and the field, so a bad edit fails loudly and early
rather than silently skewing a calibration.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import re
import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from importlib.resources.abc import Traversable
from os import PathLike
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORY_COLUMNS",
    "LA_TABLE_FILE",
    "NATIONAL_FILE",
    "PLACEMENT_CATEGORIES",
    "PLACEMENT_COLUMNS",
    "SUCCESSOR_DFE_CODES",
    "CalibrationDataError",
    "Figure",
    "FigureGroup",
    "LAFigures",
    "NationalFigures",
    "PublishedPolicies",
    "la_figures_by_code",
    "load_la_figures",
    "load_national",
    "national_column_shares",
    "national_placement_shares",
]

LA_TABLE_FILE = "la_cla_2019.csv"
"""Per-LA table shipped in this package."""

NATIONAL_FILE = "national.toml"
"""National figures and published policy parameters shipped in this package."""

ONS_UTLA_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")
"""ONS codes of English upper-tier LAs: unitaries, metropolitan districts, London
boroughs (and the City), counties."""

_DFE_CODE = re.compile(r"^\d{3}$")
_YEAR_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

#: DfE 3-digit codes of the authorities created after March 2019, which the 2019 table
#: cannot carry. From DfE's LA code list (Get Information about Schools); the CSV keeps
#: these cells empty as in the compiled table and the loader fills them.
SUCCESSOR_DFE_CODES: Mapping[str, str] = {
    "E06000058": "839",  # Bournemouth, Christchurch and Poole (April 2019)
    "E06000059": "838",  # Dorset unitary (April 2019)
    "E06000061": "940",  # North Northamptonshire (April 2021)
    "E06000062": "941",  # West Northamptonshire (April 2021)
}

#: The five placement categories the model uses, in a fixed order.
PLACEMENT_CATEGORIES: tuple[str, ...] = ("foster", "residential", "with_parents", "adoption",
                                         "other")

#: Which DfE placement columns make up each model category.
CATEGORY_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "foster": ("placed_foster",),
    "residential": (
        "placed_secure_homes_hostels",
        "placed_other_residential",
        "placed_residential_school",
    ),
    "with_parents": ("placed_with_parents",),
    "adoption": ("placed_for_adoption",),
    "other": ("placed_other_community", "placed_other"),
}
#: DfE's placement columns in the LA table, in file order.
PLACEMENT_COLUMNS: tuple[str, ...] = tuple(c for cols in CATEGORY_COLUMNS.values() for c in cols)

_CSV_COLUMNS: tuple[str, ...] = (
    "ons_code",
    "dfe_la_code",
    "name",
    "region",
    "cla_31mar2019",
    "cla_31mar2015",
    "child_pop_0_17_2018",
    "cla_rate_per_10k_2019",
    "cla_during_year_2019",
    "uasc_2019",
    *PLACEMENT_COLUMNS,
    "note",
)


class CalibrationDataError(ValueError):
    """A calibration data file is malformed; the message names the file and field."""


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One published (or estimated) figure with the context needed to use it honestly.

    ``value`` is a number, or a table keyed by year ("2019") or category ("foster").
    ``estimate`` marks priors with no checked publication: expose them as parameters,
    never use them as validation targets. Treat ``value`` as read-only.
    """

    name: str
    value: float | dict[str, float] = field(hash=False)
    unit: str
    period: str
    source: str
    estimate: bool = False
    note: str = ""

    @property
    def is_table(self) -> bool:
        """True when the value is a table (year -> number or category -> number)."""
        return isinstance(self.value, dict)

    def scalar(self) -> float:
        """The value as one number; a table-valued figure raises TypeError."""
        if isinstance(self.value, dict):
            raise TypeError(f"figure {self.name!r} is a table ({', '.join(self.value)})")
        return self.value

    def __getitem__(self, key: str | int) -> float:
        """One entry of a table-valued figure; years may be given as int."""
        if not isinstance(self.value, dict):
            raise TypeError(f"figure {self.name!r} is a single number, not a table")
        try:
            return self.value[str(key)]
        except KeyError:
            raise KeyError(f"figure {self.name!r} has no entry {key!r} "
                           f"(has {', '.join(self.value)})") from None


@dataclass(frozen=True)
class FigureGroup:
    """Related figures from one publication, e.g. Ofsted's fostering statistics 2021-22.

    Members are reached as attributes (``group.households_total``) or by key.
    """

    name: str
    figures: dict[str, Figure] = field(hash=False)

    def __getattr__(self, item: str) -> Figure:
        members = self.__dict__.get("figures")
        if members is None or item.startswith("__") or item not in members:
            raise AttributeError(f"figure group {self.__dict__.get('name')!r} has no "
                                 f"figure {item!r}")
        return members[item]

    def __getitem__(self, key: str) -> Figure:
        return self.figures[key]

    def __iter__(self) -> Iterator[Figure]:
        return iter(self.figures.values())

    def __len__(self) -> int:
        return len(self.figures)

    def names(self) -> tuple[str, ...]:
        """Short names of the member figures, in file order."""
        return tuple(self.figures)


@dataclass(frozen=True)
class PublishedPolicies:
    """Policy parameters as announced, to set scenario defaults from the record.

    Pathfinder memberships are ONS codes (see ``national.toml`` for the names). Dates
    are ``"YYYY-MM"`` strings because announcements give months, not days.
    """

    rcc_max_las: int
    rcc_functions: tuple[str, ...]
    rcc_pathfinders: dict[str, tuple[str, ...]] = field(hash=False)
    rcc_pathfinder_names: dict[str, str] = field(hash=False)
    rcc_pathfinder_launch: dict[str, str] = field(hash=False)
    rcc_home_and_future_joining: tuple[str, ...]
    rcc_home_and_future_stayed_out: tuple[str, ...]
    rcc_revenue_total_gbp: float
    rcc_capital_each_gbp: float
    fostering_budget_gbp: float
    fostering_programme_years: int
    fostering_mechanisms: tuple[str, ...]
    fostering_first_hub_region: str
    fostering_first_hub_launch: str
    fostering_further_hubs: str
    fostering_nma_uplift: float
    oversight_scope: str
    oversight_features: tuple[str, ...]
    oversight_thresholds: tuple[str, ...]
    oversight_profit_cap: str
    la_homes_capital_gbp: float
    la_homes_capital_places: int
    la_homes_capital_deadline: str
    kinship_support_gbp: float
    kinship_mandatory_allowance: str
    rejected_options: tuple[str, ...]
    rejected_options_reason: str
    sources: dict[str, str] = field(hash=False)

    def launch_year_month(self, pathfinder: str) -> tuple[int, int]:
        """(year, month) a pathfinder launched, for placing it on the model's clock."""
        try:
            text = self.rcc_pathfinder_launch[pathfinder]
        except KeyError:
            raise KeyError(f"no launch date for pathfinder {pathfinder!r} (known: "
                           f"{', '.join(self.rcc_pathfinder_launch)})") from None
        year, month = text.split("-")
        return int(year), int(month)


@dataclass(frozen=True, eq=False)
class NationalFigures:
    """All national figures for England, grouped as in ``national.toml``.

    Single figures are :class:`Figure`; related figures are :class:`FigureGroup`.
    :meth:`figure` finds any figure by its dotted name (e.g.
    ``"fostering_2021_22.households_total"`` or ``"policies.rcc.max_size"``).
    """

    cla_stock: Figure
    starts: Figure
    starts_aged_16_plus: Figure
    ceasings: Figure
    uasc: FigureGroup
    age_mix_2022: Figure
    share_male_2022: Figure
    aged_10_plus: Figure
    needs: FigureGroup
    placement_mix_2019: Figure
    placement_mix_2022: Figure
    kinship_foster_share_2022: Figure
    placement_mix_2023: Figure
    placement_counts_2023: Figure
    placement_mix_2024_foi: Figure
    placement_provider_2019: Figure
    distance: FigureGroup
    stability: FigureGroup
    fostering_2021_22: FigureGroup
    fostering_2022_23: FigureGroup
    fostering_2023_24: FigureGroup
    fostering_2024_25: FigureGroup
    foster_supply_trend: FigureGroup
    ifa_concentration_2022: FigureGroup
    children_homes: FigureGroup
    children_homes_concentration: FigureGroup
    prices: FigureGroup
    largest_providers_2020: FigureGroup
    la_spending: FigureGroup
    unit_costs: FigureGroup
    policies: PublishedPolicies
    _index: dict[str, Figure] = field(repr=False)

    def figure(self, name: str) -> Figure:
        """The figure with this dotted name; an unknown name suggests close matches."""
        try:
            return self._index[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._index), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"no national figure {name!r}{hint}") from None

    def all(self) -> list[Figure]:
        """Every figure, national and policy, in file order."""
        return list(self._index.values())

    def estimates(self) -> list[Figure]:
        """Figures flagged as estimates: priors to expose, never validation targets."""
        return [f for f in self._index.values() if f.estimate]


# ---------------------------------------------------------------------------------------
# Local authorities
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LAFigures:
    """DfE 2019 figures for one upper-tier LA (counts at 31 March 2019 unless named).

    ``None`` marks a cell DfE suppressed (small numbers, plus secondary suppression so
    that a hidden cell cannot be worked out from the total).
    """

    ons_code: str
    dfe_la_code: str
    name: str
    region: str
    cla_2019: int
    cla_2015: int
    child_pop_0_17: int
    cla_rate_per_10k: float
    cla_during_year: int | None
    uasc: int | None
    placed_foster: int | None
    placed_secure_homes_hostels: int | None
    placed_other_residential: int | None
    placed_residential_school: int | None
    placed_with_parents: int | None
    placed_for_adoption: int | None
    placed_other_community: int | None
    placed_other: int | None
    note: str = ""

    def suppressed_placements(self) -> tuple[str, ...]:
        """Names of the placement columns DfE suppressed for this LA."""
        return tuple(c for c in PLACEMENT_COLUMNS if getattr(self, c) is None)

    def filled_placements(self, national: Mapping[str, float] | None = None
                          ) -> dict[str, float]:
        """Children in each DfE placement column, with suppressed cells filled.

        The unexplained remainder (``cla_2019`` minus the known cells) is shared among
        the suppressed columns in proportion to their national shares (default
        :func:`national_column_shares`): a suppressed cell is most likely to hide a
        category that is common nationally. Known cells are kept as published, so
        filled values may be fractional.
        """
        weights = national if national is not None else national_column_shares()
        counts = {c: float(getattr(self, c) or 0) for c in PLACEMENT_COLUMNS}
        hidden = self.suppressed_placements()
        remainder = self.cla_2019 - sum(counts.values())
        hidden_weight = sum(weights[c] for c in hidden)
        if hidden and remainder > 0:
            for col in hidden:
                share = weights[col] / hidden_weight if hidden_weight > 0 else 1 / len(hidden)
                counts[col] += remainder * share
        return counts

    def placement_mix(self, national: Mapping[str, float] | None = None) -> dict[str, float]:
        """Shares of this LA's children in each of :data:`PLACEMENT_CATEGORIES`; sum 1.

        Built from :meth:`filled_placements` (``national`` is passed on: shares by DfE
        column). An LA with no children looked after gets England's mix; one whose known
        cells fall short of ``cla_2019`` although nothing is suppressed (a derived row)
        is normalised over the children whose placement is known.
        """
        weights = national if national is not None else national_column_shares()
        counts = self.filled_placements(weights)
        if sum(counts.values()) <= 0:  # no children (Isles of Scilly): England's mix
            counts = {c: weights[c] for c in PLACEMENT_COLUMNS}
        by_category = {cat: sum(counts[c] for c in cols) for cat, cols in CATEGORY_COLUMNS.items()}
        total = sum(by_category.values())
        return {cat: by_category[cat] / total for cat in PLACEMENT_CATEGORIES}


def _files() -> Traversable:
    return resources.files(__package__ or "sim.data")


def _label(path: Traversable | PathLike[str] | str) -> str:
    return str(path)


def _as_readable(path: Traversable | PathLike[str] | str) -> Traversable | Path:
    if isinstance(path, str | PathLike):
        return Path(path)
    return path


def _int_cell(text: str, where: str, *, required: bool) -> int | None:
    """Parse a count; DfE's published CSV writes some counts as '7.0'."""
    text = text.strip()
    if text == "":
        if required:
            raise CalibrationDataError(f"{where}: empty, but this column cannot be suppressed")
        return None
    try:
        number = float(text)
    except ValueError:
        raise CalibrationDataError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise CalibrationDataError(f"{where}: {text!r} is not a non-negative whole count")
    return int(number)


def _load_la_figures_from(path: Traversable | PathLike[str] | str) -> tuple[LAFigures, ...]:
    """Read and check a per-LA table at ``path`` (the packaged one or a test file)."""
    label = _label(path)
    try:
        text = _as_readable(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationDataError(f"{label}: cannot read: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    missing = [c for c in _CSV_COLUMNS if c not in header]
    if missing:
        raise CalibrationDataError(f"{label}: header: missing column {missing[0]!r}")
    extra = [c for c in header if c not in _CSV_COLUMNS]
    if extra:
        raise CalibrationDataError(f"{label}: header: unexpected column {extra[0]!r}")

    rows: list[LAFigures] = []
    for line, raw in enumerate(reader, start=2):
        if None in raw or any(v is None for v in raw.values()):
            raise CalibrationDataError(f"{label}: line {line}: wrong number of fields")

        def cell(col: str, *, required: bool = False, _raw: dict[str, str] = raw,
                 _line: int = line) -> int | None:
            return _int_cell(_raw[col], f"{label}: line {_line}: {col}", required=required)

        ons = raw["ons_code"].strip()
        if not ONS_UTLA_CODE.match(ons):
            raise CalibrationDataError(
                f"{label}: line {line}: ons_code: {ons!r} is not an English upper-tier LA code")
        dfe = raw["dfe_la_code"].strip() or SUCCESSOR_DFE_CODES.get(ons, "")
        if not _DFE_CODE.match(dfe):
            raise CalibrationDataError(
                f"{label}: line {line}: dfe_la_code: {raw['dfe_la_code']!r} is not a 3-digit code")
        name, region = raw["name"].strip(), raw["region"].strip()
        for col, value in (("name", name), ("region", region)):
            if not value:
                raise CalibrationDataError(f"{label}: line {line}: {col}: empty")
        cla = typing.cast(int, cell("cla_31mar2019", required=True))
        pop = typing.cast(int, cell("child_pop_0_17_2018", required=True))
        if pop <= 0:
            raise CalibrationDataError(f"{label}: line {line}: child_pop_0_17_2018: must be > 0")
        rate_text = raw["cla_rate_per_10k_2019"].strip()
        if rate_text:
            try:
                rate = float(rate_text)
            except ValueError:
                raise CalibrationDataError(f"{label}: line {line}: cla_rate_per_10k_2019: "
                                           f"{rate_text!r} is not a number") from None
            if not math.isfinite(rate) or rate < 0:
                raise CalibrationDataError(
                    f"{label}: line {line}: cla_rate_per_10k_2019: {rate_text!r} out of range")
        else:  # DfE gives no rate (Isles of Scilly): compute it as DfE does, to whole numbers
            rate = float(round(1e4 * cla / pop))
        placed = {c: cell(c) for c in PLACEMENT_COLUMNS}
        known = sum(v for v in placed.values() if v is not None)
        if known > cla:
            raise CalibrationDataError(f"{label}: line {line}: placed_*: known placement "
                                       f"counts ({known}) exceed cla_31mar2019 ({cla})")
        during = cell("cla_during_year_2019")
        if during is not None and during < cla:
            raise CalibrationDataError(f"{label}: line {line}: cla_during_year_2019: "
                                       f"{during} is below cla_31mar2019 ({cla})")
        uasc = cell("uasc_2019")
        if uasc is not None and uasc > cla:
            raise CalibrationDataError(
                f"{label}: line {line}: uasc_2019: {uasc} exceeds cla_31mar2019 ({cla})")
        rows.append(LAFigures(
            ons_code=ons,
            dfe_la_code=dfe,
            name=name,
            region=region,
            cla_2019=cla,
            cla_2015=typing.cast(int, cell("cla_31mar2015", required=True)),
            child_pop_0_17=pop,
            cla_rate_per_10k=rate,
            cla_during_year=during,
            uasc=uasc,
            note=(raw["note"] or "").strip(),
            **placed,
        ))
    if not rows:
        raise CalibrationDataError(f"{label}: no rows")
    for attr, col in (("ons_code", "ons_code"), ("dfe_la_code", "dfe_la_code"),
                      ("name", "name")):
        seen: set[str] = set()
        for row in rows:
            key = getattr(row, attr)
            if key in seen:
                raise CalibrationDataError(f"{label}: {col}: {key!r} appears more than once")
            seen.add(key)
    return tuple(rows)


@functools.cache
def load_la_figures() -> tuple[LAFigures, ...]:
    """The 152 LAs of the packaged DfE 2019 table, in file order (read once)."""
    return _load_la_figures_from(_files() / LA_TABLE_FILE)


def la_figures_by_code() -> dict[str, LAFigures]:
    """The LA table keyed by ONS code (a fresh dict: callers may modify it)."""
    return {row.ons_code: row for row in load_la_figures()}


@functools.cache
def national_column_shares() -> dict[str, float]:
    """England's placement mix by DfE column, from the LA table's known cells.

    The weights for filling suppressed cells: they come from the same table and have
    exactly its columns, unlike the rounded published mix, which leaves some columns
    unitemised. Columns that are often suppressed are slightly understated.
    """
    totals = dict.fromkeys(PLACEMENT_COLUMNS, 0.0)
    for row in load_la_figures():
        for col in PLACEMENT_COLUMNS:
            totals[col] += getattr(row, col) or 0
    grand = sum(totals.values())
    return {c: totals[c] / grand for c in PLACEMENT_COLUMNS}


def national_placement_shares() -> dict[str, float]:
    """England's placement mix by :data:`PLACEMENT_CATEGORIES`, suppressed cells filled.

    The children-weighted mean of every LA's :meth:`LAFigures.placement_mix`.
    """
    totals = dict.fromkeys(PLACEMENT_CATEGORIES, 0.0)
    children = 0
    for row in load_la_figures():
        for cat, share in row.placement_mix().items():
            totals[cat] += share * row.cla_2019
        children += row.cla_2019
    return {c: totals[c] / children for c in PLACEMENT_CATEGORIES}


# ---------------------------------------------------------------------------------------
# National figures and policies
# ---------------------------------------------------------------------------------------

_FIGURE_KEYS = frozenset({"value", "unit", "period", "source", "estimate", "note"})


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_figure(name: str, raw: Mapping[str, Any], path: str, label: str) -> Figure:
    """Check one figure table; ``path`` is its dotted location in the file."""
    def fail(key: str, problem: str) -> CalibrationDataError:
        return CalibrationDataError(f"{label}: {path}.{key}: {problem}")

    for key in raw:
        if key not in _FIGURE_KEYS:
            raise fail(key, f"unknown key (expected {', '.join(sorted(_FIGURE_KEYS))})")
    value = raw.get("value")
    parsed: float | dict[str, float]
    if _is_number(value):
        parsed = float(typing.cast(float, value))
    elif isinstance(value, dict) and value:
        parsed = {}
        for key, item in value.items():
            if not _is_number(item):
                raise fail(f"value.{key}", f"{item!r} is not a finite number")
            parsed[str(key)] = float(item)
    elif value is None:
        raise fail("value", "missing")
    else:
        raise fail("value", "must be a number or a non-empty table of numbers")
    text: dict[str, str] = {}
    for key in ("unit", "period", "source"):
        item = raw.get(key)
        if item is None:
            raise fail(key, "missing")
        if not isinstance(item, str) or not item.strip():
            raise fail(key, "must be a non-empty string")
        text[key] = item.strip()
    estimate = raw.get("estimate", False)
    if not isinstance(estimate, bool):
        raise fail("estimate", "must be true or false")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise fail("note", "must be a string")
    if text["unit"] == "share":
        numbers = parsed.values() if isinstance(parsed, dict) else (parsed,)
        if any(not 0.0 <= x <= 1.0 for x in numbers):
            raise fail("value", "a share must lie between 0 and 1")
    return Figure(name=name, value=parsed, unit=text["unit"], period=text["period"],
                  source=text["source"], estimate=estimate, note=note.strip())


def _table(parent: Mapping[str, Any], key: str, path: str, label: str) -> Mapping[str, Any]:
    item = parent.get(key)
    where = f"{path}.{key}" if path else key
    if item is None:
        raise CalibrationDataError(f"{label}: {where}: missing")
    if not isinstance(item, dict):
        raise CalibrationDataError(f"{label}: {where}: must be a table")
    return item


def _string(parent: Mapping[str, Any], key: str, path: str, label: str) -> str:
    item = parent.get(key)
    if item is None:
        raise CalibrationDataError(f"{label}: {path}.{key}: missing")
    if not isinstance(item, str) or not item.strip():
        raise CalibrationDataError(f"{label}: {path}.{key}: must be a non-empty string")
    return item.strip()


def _strings(parent: Mapping[str, Any], key: str, path: str, label: str) -> tuple[str, ...]:
    item = parent.get(key)
    if item is None:
        raise CalibrationDataError(f"{label}: {path}.{key}: missing")
    if (not isinstance(item, list) or not item
            or not all(isinstance(x, str) and x.strip() for x in item)):
        raise CalibrationDataError(f"{label}: {path}.{key}: must be a non-empty list of strings")
    return tuple(x.strip() for x in item)


def _year_month(parent: Mapping[str, Any], key: str, path: str, label: str) -> str:
    text = _string(parent, key, path, label)
    if not _YEAR_MONTH.match(text):
        raise CalibrationDataError(f"{label}: {path}.{key}: {text!r} is not YYYY-MM")
    return text


def _collect_policy_figures(node: Mapping[str, Any], path: str, label: str,
                            out: dict[str, Figure]) -> None:
    """Every table under [policies] with a ``value`` key is a figure."""
    for key, item in node.items():
        if isinstance(item, dict):
            where = f"{path}.{key}"
            if "value" in item:
                out[where] = _parse_figure(where, item, where, label)
            else:
                _collect_policy_figures(item, where, label, out)


def _la_codes(parent: Mapping[str, Any], key: str, path: str, label: str,
              known: frozenset[str]) -> tuple[str, ...]:
    codes = _strings(parent, key, path, label)
    seen: set[str] = set()
    for code in codes:
        if not ONS_UTLA_CODE.match(code):
            raise CalibrationDataError(
                f"{label}: {path}.{key}: {code!r} is not an English upper-tier LA code")
        if code not in known:
            raise CalibrationDataError(
                f"{label}: {path}.{key}: {code!r} is not in the LA table ({LA_TABLE_FILE})")
        if code in seen:
            raise CalibrationDataError(f"{label}: {path}.{key}: {code!r} listed twice")
        seen.add(code)
    return codes


def _parse_policies(raw: Mapping[str, Any], figures: Mapping[str, Figure], label: str,
                    known: frozenset[str]) -> PublishedPolicies:
    def number(name: str) -> float:
        try:
            return figures[name].scalar()
        except KeyError:
            raise CalibrationDataError(f"{label}: {name}: missing") from None
        except TypeError:
            raise CalibrationDataError(f"{label}: {name}.value: must be a number") from None

    def whole(name: str) -> int:
        value = number(name)
        if value != int(value):
            raise CalibrationDataError(f"{label}: {name}.value: must be a whole number")
        return int(value)

    rcc = _table(raw, "rcc", "policies", label)
    pathfinders = _table(raw, "rcc_pathfinders", "policies", label)
    max_las = whole("policies.rcc.max_size")
    members: dict[str, tuple[str, ...]] = {}
    names: dict[str, str] = {}
    launch: dict[str, str] = {}
    for key in ("greater_manchester", "south_east", "south_east_home_and_future"):
        path = f"policies.rcc_pathfinders.{key}"
        table = _table(pathfinders, key, "policies.rcc_pathfinders", label)
        members[key] = _la_codes(table, "members", path, label, known)
        if len(members[key]) > max_las:
            raise CalibrationDataError(f"{label}: {path}.members: {len(members[key])} LAs, "
                                       f"above the published maximum of {max_las}")
        names[key] = _string(table, "name", path, label)
        launch[key] = _year_month(table, "launch", path, label)
    hf_path = "policies.rcc_pathfinders.south_east_home_and_future"
    hf = pathfinders["south_east_home_and_future"]
    joining = _la_codes(hf, "joining", hf_path, label, known)
    stayed_out = _la_codes(hf, "stayed_out", hf_path, label, known)
    region = set(members["south_east"])
    if not set(members["south_east_home_and_future"]) <= region:
        raise CalibrationDataError(
            f"{label}: {hf_path}.members: not a subset of policies.rcc_pathfinders.south_east")
    partition = [*members["south_east_home_and_future"], *joining, *stayed_out]
    if sorted(partition) != sorted(region):
        raise CalibrationDataError(f"{label}: {hf_path}: members + joining + stayed_out must be "
                                   "exactly the South East pathfinder, each once")

    fostering = _table(raw, "fostering", "policies", label)
    oversight = _table(raw, "financial_oversight", "policies", label)
    capital = _table(raw, "la_homes_capital", "policies", label)
    kinship = _table(raw, "kinship", "policies", label)
    rejected = _table(raw, "rejected_options", "policies", label)
    sources = {
        key: _string(_table(raw, key, "policies", label), "source", f"policies.{key}", label)
        for key in ("rcc", "rcc_pathfinders", "fostering", "financial_oversight",
                    "la_homes_capital", "kinship", "rejected_options")
    }
    return PublishedPolicies(
        rcc_max_las=max_las,
        rcc_functions=_strings(rcc, "functions", "policies.rcc", label),
        rcc_pathfinders=members,
        rcc_pathfinder_names=names,
        rcc_pathfinder_launch=launch,
        rcc_home_and_future_joining=joining,
        rcc_home_and_future_stayed_out=stayed_out,
        rcc_revenue_total_gbp=number("policies.rcc_pathfinders.revenue_total"),
        rcc_capital_each_gbp=number("policies.rcc_pathfinders.capital_each"),
        fostering_budget_gbp=number("policies.fostering.programme_budget"),
        fostering_programme_years=whole("policies.fostering.programme_years"),
        fostering_mechanisms=_strings(fostering, "mechanisms", "policies.fostering", label),
        fostering_first_hub_region=_string(fostering, "first_hub_region", "policies.fostering",
                                           label),
        fostering_first_hub_launch=_year_month(fostering, "first_hub_launch",
                                               "policies.fostering", label),
        fostering_further_hubs=_string(fostering, "further_hubs", "policies.fostering", label),
        fostering_nma_uplift=number("policies.fostering.nma_uplift"),
        oversight_scope=_string(oversight, "scope", "policies.financial_oversight", label),
        oversight_features=_strings(oversight, "features", "policies.financial_oversight",
                                    label),
        oversight_thresholds=_strings(oversight, "thresholds", "policies.financial_oversight",
                                      label),
        oversight_profit_cap=_string(oversight, "profit_cap", "policies.financial_oversight",
                                     label),
        la_homes_capital_gbp=number("policies.la_homes_capital.budget"),
        la_homes_capital_places=whole("policies.la_homes_capital.places"),
        la_homes_capital_deadline=_year_month(capital, "deadline", "policies.la_homes_capital",
                                              label),
        kinship_support_gbp=number("policies.kinship.support_budget"),
        kinship_mandatory_allowance=_string(kinship, "mandatory_allowance", "policies.kinship",
                                            label),
        rejected_options=_strings(rejected, "options", "policies.rejected_options", label),
        rejected_options_reason=_string(rejected, "reason", "policies.rejected_options", label),
        sources=sources,
    )


def _load_national_from(path: Traversable | PathLike[str] | str,
                        la_codes: frozenset[str] | None = None) -> NationalFigures:
    """Read and check a national-figures TOML at ``path`` (packaged or a test file).

    ``la_codes`` are the ONS codes pathfinder members must belong to; by default those
    of the packaged LA table.
    """
    label = _label(path)
    try:
        raw = tomllib.loads(_as_readable(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationDataError(f"{label}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationDataError(f"{label}: not valid TOML: {exc}") from None
    if la_codes is None:
        la_codes = frozenset(la.ons_code for la in load_la_figures())

    section = _table(raw, "figures", "", label)
    parsed: dict[str, Figure | FigureGroup] = {}
    index: dict[str, Figure] = {}
    for key, item in section.items():
        if not isinstance(item, dict):
            raise CalibrationDataError(f"{label}: figures.{key}: must be a table")
        if "value" in item:
            fig = _parse_figure(key, item, f"figures.{key}", label)
            parsed[key] = fig
            index[key] = fig
            continue
        members: dict[str, Figure] = {}
        for sub, subitem in item.items():
            where = f"figures.{key}.{sub}"
            if not isinstance(subitem, dict) or "value" not in subitem:
                raise CalibrationDataError(
                    f"{label}: {where}: expected a figure table with a 'value' key")
            members[sub] = _parse_figure(f"{key}.{sub}", subitem, where, label)
            index[f"{key}.{sub}"] = members[sub]
        if not members:
            raise CalibrationDataError(f"{label}: figures.{key}: empty group")
        parsed[key] = FigureGroup(key, members)

    hints = typing.get_type_hints(NationalFigures)
    expected = {f.name: hints[f.name] for f in fields(NationalFigures)
                if f.name not in ("policies", "_index")}
    for key in parsed:
        if key not in expected:
            raise CalibrationDataError(
                f"{label}: figures.{key}: not a known figure (add it to NationalFigures)")
    for key, kind in expected.items():
        if key not in parsed:
            raise CalibrationDataError(f"{label}: figures.{key}: missing")
        if not isinstance(parsed[key], kind):
            want = "a single figure with a 'value' key" if kind is Figure else "a group of figures"
            raise CalibrationDataError(f"{label}: figures.{key}: expected {want}")

    policies_raw = _table(raw, "policies", "", label)
    policy_figures: dict[str, Figure] = {}
    _collect_policy_figures(policies_raw, "policies", label, policy_figures)
    index.update(policy_figures)
    policies = _parse_policies(policies_raw, policy_figures, label, la_codes)
    return NationalFigures(**parsed, policies=policies, _index=index)  # type: ignore[arg-type]


@functools.cache
def load_national() -> NationalFigures:
    """National figures and published policies from the packaged file (read once)."""
    return _load_national_from(_files() / NATIONAL_FILE)
