"""The typed scenario: the single source of truth for every model parameter.

A scenario is a frozen dataclass of frozen parameter groups (demand, fostering,
residential, prices, matching, stability). Every field carries its unit, its allowed
range and its source in ``metadata``; :func:`load_scenario` reads a TOML file, checks
every value against those ranges and raises :class:`ScenarioError` with a one-line
message naming the file, the field and what is allowed.

Figures marked *estimate* are priors (exposed so they can be varied), not published
values; figures with a publication are cited. Policies (issue: switchable reforms) are
listed in the ``[[policies]]`` array and resolved by :mod:`sim.policies`.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from sim.errors import ScenarioError


def param(default: Any, lo: float | None = None, hi: float | None = None, unit: str = "",
          source: str = "") -> Any:
    """A scenario field with its allowed range, unit and source kept beside it."""
    meta = {"lo": lo, "hi": hi, "unit": unit, "source": source}
    if isinstance(default, (dict, list, tuple)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


EST = "estimate"
CLA = "DfE, Children looked after in England including adoptions (year ending 31 March)"
OFSTED_F = "Ofsted, Fostering in England 2021-22"
OFSTED_H = "Ofsted, Children's social care in England (2019, 2023, 2024)"
CMA = "CMA, Children's social care market study, final report (2022)"

AGE_BANDS = ("under_1", "1_4", "5_9", "10_15", "16_17")
AGE_BAND_EDGES = (0.0, 1.0, 5.0, 10.0, 16.0, 18.0)


@dataclass(frozen=True)
class Demand:
    """Who enters care, with which needs, and how they leave."""

    starts_per_year: dict = param(
        {"2019": 31_770, "2020": 30_970, "2021": 28_440, "2022": 30_010, "2023": 33_000,
         "2024": 33_050, "2025": 32_690},
        0, 200_000, "children/year, years ending 31 March (held at the last year after it)",
        f"{CLA}: 2019-24 published (2019-21 checked against press reports of the releases: "
        "see sim/data/national.toml); 2025 estimate: 2025 ceasings (34,450, DfE time series) "
        "less the fall in stock the 2025 release publishes (83,530 -> 81,770, down 1,760)",
    )
    entry_age_mix: dict = param(
        {"under_1": 0.19, "1_4": 0.17, "5_9": 0.17, "10_15": 0.29, "16_17": 0.18},
        0, 1, "share of starts", f"{EST} (shape of DfE starts by age)",
    )
    starts_aged_16_17: dict = param(
        {"2023": 0.275, "2024": 0.286}, 0, 1,
        "share of starts aged 16-17 from that DfE year on (before the first: entry_age_mix)",
        f"{CLA} 2023 and 2024: 9,070 of 33,000 and 9,440 of 33,050 starts aged 16 and over, "
        "mostly unaccompanied asylum seekers (UNVERIFIED: see sim/data/national.toml)")
    male_share: float = param(0.56, 0, 1, "share", f"{CLA} 2022")
    uasc_share_of_starts: float = param(0.14, 0, 1, "share", f"{EST}; stock 5,070 UASC 2019")
    complex_needs_share: float = param(0.19, 0, 1, "share of entering children (8+ only)",
                                       f"{EST}; calibrated to residential share")
    complex_onset_in_care: float = param(
        1.0, 0, 10, "chance that a child in care before 8 has complex needs at 8, relative "
        "to an entrant aged 8+ (1: the same; 0: needs never change in care)",
        f"{EST}; the 2019 stock is seeded so (needs by age, not by age at entry), and 1 keeps "
        "entries consistent with it")
    disability_share: float = param(0.04, 0, 1, "share of entrants", EST)
    sibling_group_share: float = param(0.36, 0, 1, "share of entrants arriving with siblings",
                                       f"{EST}; calibrated to 37% separated every year "
                                       "2020-29 (CCo 2023)")
    stock_sibling_share: float = param(
        0.21, 0, 0.9, "share of the 31 March 2019 stock with a brother or sister in care",
        f"{EST}; the share the baseline's entries sustain (about 21% in 2024-29). Published "
        "counts are higher and differently defined: 21,150 children in 8,446 sibling groups "
        "in 97 LAs (Family Rights Group FOI, 2015)")
    stock_siblings_same_kind_share: float = param(
        0.35, 0, 1, "share of the 2019 stock's sibling groups all in one kind of placement",
        "calibrated to 37% of children with a sibling in care separated (Children's "
        "Commissioner, Siblings in care, 2023); the rest are in the kinds DfE's 2019 mix "
        "draws for each child")
    kinship_share: float = param(0.27, 0, 1, "share of entrants under 16 with a connected carer",
                                 f"{EST}; kinship foster about 15% of stock ({CLA} 2022)")
    with_parents_share: float = param(0.07, 0, 1, "share of entrants placed with parents",
                                      f"{CLA} 2019 (7% of stock)")
    # Weekly hazards of leaving care by age band (per week), before the early-exit boost.
    exit_home_hazard: dict = param(
        {"under_1": 0.0014, "1_4": 0.0018, "5_9": 0.0016, "10_15": 0.0018, "16_17": 0.0022},
        0, 1, "per week", f"calibrated to {CLA} stock and ceasings",
    )
    placed_for_adoption_weeks: float = param(30.0, 0, 104, "weeks placed before the order",
                                             f"{EST}; 2% of stock placed for adoption ({CLA})")
    foster_before_adoption_weeks: float = param(
        8.0, 0, 52, "weeks in foster care before an adoptive placement",
        f"{EST}; for a child not already in foster care when placed for adoption: adoption "
        "follows foster care (DfE SSDA903 rule 336); 0 places for adoption directly")
    adoption_hazard: dict = param(
        {"under_1": 0.0077, "1_4": 0.0049, "5_9": 0.00056, "10_15": 0.0, "16_17": 0.0},
        0, 1, "per week", f"calibrated to about 3,500 adoptions/year ({CLA} 2019)",
    )
    sgo_hazard: dict = param(
        {"under_1": 0.0030, "1_4": 0.0034, "5_9": 0.0019, "10_15": 0.00075, "16_17": 0.0},
        0, 1, "per week", f"calibrated to about 3,700 special guardianship orders ({CLA} 2019)",
    )
    early_exit_multiplier: float = param(2.5, 1, 20, "x hazard in first 26 weeks of care",
                                         f"{EST}; many episodes are short")
    staying_put_share: float = param(0.5, 0, 1, "share of 18-year-olds in foster care",
                                     f"{EST}; DfE Staying Put statistics about 50-55%")
    staying_put_weeks: float = param(78.0, 0, 260, "weeks, mean", EST)


@dataclass(frozen=True)
class Fostering:
    """Foster households and the recruitment pipeline (Ofsted Fostering in England)."""

    mainstream_households: int = param(36_050, 0, 200_000, "households", OFSTED_F)
    la_share_of_mainstream: float = param(0.5, 0, 1, "share of households",
                                          f"{EST}; LA 27.9% vs IFA 24.8% of children (FOI 2024)")
    unusable_vacancy_share: float = param(0.45, 0, 1, "share of vacant places",
                                          f"{EST}; Ofsted reports many vacancies not usable")
    complex_approved_share: float = param(0.10, 0, 1, "share of households", EST)
    teen_approved_share: float = param(0.55, 0, 1, "share approved for 11+", EST)
    enquiries_per_year: float = param(138_075, 0, 1e6, "enquiries/year", OFSTED_F)
    ifa_share_of_enquiries: float = param(0.79, 0, 1, "share", "Ofsted, Fostering 2022-23")
    ifa_share_of_applications: float = param(0.62, 0, 1, "share",
                                             "Ofsted, Fostering in England 2022-23")
    ifa_share_of_approvals: float = param(0.55, 0, 1, "share",
                                          "Ofsted, Fostering in England 2023-24")
    application_rate: float = param(0.06, 0, 1, "applications/enquiry",
                                    f"{OFSTED_F}: 8,280/138,075")
    approval_rate: float = param(0.49, 0, 1, "approvals/application",
                                 f"{OFSTED_F}: 4,035/8,280")
    assessment_weeks: float = param(26.0, 1, 104, "weeks, mean", f"{EST}; statutory guide 8 months")
    assessors_per_100_households: float = param(
        20.0, 0.1, 100, "assessment slots per 100 households",
        f"{EST}; about 4,100 assessments under way at once (8,280 a year x 26 weeks)")
    carers_outside_la_share: float = param(0.5, 0, 1, "share of carers living in another LA",
                                           f"{EST}; calibrated to 41% placed outside their LA")
    deregistration_rate: float = param(0.125, 0, 1, "per household per year",
                                       f"{OFSTED_F}: 5,435/43,905")
    la_to_ifa_transfer_share: float = param(0.10, 0, 1, "share of LA deregistrations", EST)


@dataclass(frozen=True)
class Residential:
    """Children's homes, supported accommodation and the providers that run them."""

    homes_2019: int = param(2_304, 0, 20_000, "homes", f"{OFSTED_H} 2019")
    la_run_homes_2019: int = param(418, 0, 20_000, "homes", f"{OFSTED_H} 2019")
    voluntary_share_of_independent: float = param(0.06, 0, 1, "share", f"{CLA} 2019: 6% vs 35%")
    places_per_home: float = param(3.76, 1, 20, "places per home (mean)",
                                   f"{OFSTED_H} 2023: 10,818 places in 2,880 homes")
    complex_specialist_share: float = param(0.35, 0, 1, "share of homes", EST)
    min_age: float = param(8.0, 0, 17, "years", EST)
    supported_places: int = param(
        3_100, 0, 100_000, "places (16-17 supported accommodation, 31 March 2019)",
        f"{EST}: the 2019 stock places about 2,570 young people (3.3%) in supported "
        "accommodation, so 3,100 places are 83% full (5,500 left units half empty and 37 "
        "providers failed in the first year); DfE counted 6,180 living independently or "
        "semi-independently at 31 March 2019 (Looked after children in independent or "
        "semi-independent placements, February 2020), the rest of whom the model places in "
        "foster care")
    supported_entry_occupancy: float = param(
        0.9, 0.1, 10, "the LA's young people in supported accommodation / usable places in "
        "the LA, counting a new 6-place unit, at which a provider opens it (quarterly)",
        f"{EST}; 9.8% of children in care lived in supported accommodation in September "
        "2024 (FOI survey of 150 LAs), against 3.3% in the model's 2019 stock")
    large_group_count: int = param(21, 0, 500, "groups",
                                   "Ofsted 2022: 21 largest own 929 homes (42% of private)")
    large_group_share: float = param(0.42, 0, 1, "share of private homes", "Ofsted 2022")
    leveraged_share: float = param(0.5, 0, 1, "share of large groups with debt", EST)
    debt_years_revenue: float = param(1.5, 0, 20, "years of revenue", EST)
    interest_rate: float = param(0.08, 0, 1, "per year", EST)
    cash_weeks: float = param(10.0, 0, 520, "weeks of costs held as cash", EST)
    cost_shock_sd: float = param(0.15, 0, 2, "sd of quarterly cost shock", EST)
    entry_rate: float = param(0.05, 0, 1, "new homes per quarter per home, per unit margin "
                              "above the hurdle",
                              f"{EST}; calibrated to 2,880 homes in 2023 ({OFSTED_H})")
    entry_hurdle_margin: float = param(
        0.18, 0, 0.9, "operating margin below which no new home is opened (the return "
        "investors require)", f"{EST}; CMA: margins of 19-23% persisted 2016-20 while homes "
        "were added, so entry stops somewhat below them")
    manager_supply_per_quarter: float = param(60.0, 0, 10_000, "new registered managers/quarter",
                                              EST)
    registration_weeks: float = param(26.0, 0, 260, "weeks from decision to opening", EST)
    property_cost_index: dict = param(
        {"North East": 0.70, "North West": 0.78, "Yorkshire and Humber": 0.80,
         "East Midlands": 0.85, "West Midlands": 0.88, "East of England": 1.10,
         "London": 1.60, "South East": 1.25, "South West": 1.05},
        0.1, 5, "relative running cost", f"{EST} (regional house prices and wages)",
    )
    siting_cost_elasticity: float = param(2.0, 0, 10, "", f"{EST}; CMA: homes cluster where cheap")


@dataclass(frozen=True)
class Prices:
    """Unit costs and prices, weekly, pounds (2019 prices)."""

    in_house_foster_cost: float = param(520.0, 0, 1e5, "GBP/week", f"{EST} (about £450-£600)")
    kinship_foster_cost: float = param(300.0, 0, 1e5, "GBP/week", EST)
    ifa_cost: float = param(665.0, 0, 1e5, "GBP/week", f"{CMA}: price about £820, margin 19%")
    home_cost_per_place: float = param(2_625.0, 0, 1e5, "GBP/week per place, filled or not",
                                       f"{CMA}: price £3,830 = cost / 0.85 x (1 + 0.24)")
    la_home_cost_per_place: float = param(4_600.0, 0, 1e5, "GBP/week", f"{EST} (£4,000-£6,000)")
    supported_cost: float = param(1_100.0, 0, 1e5, "GBP/week", EST)
    emergency_cost: float = param(10_000.0, 0, 1e6, "GBP/week", f"{EST} (£10,000 and more)")
    home_markup: float = param(0.24, 0, 5, "markup on full cost at target occupancy",
                               f"calibrated to {CMA} 23% margin (2016-20) at 80-95% "
                               "occupancy")
    ifa_markup: float = param(0.22, 0, 5, "markup on cost", f"calibrated to {CMA} 19% margin")
    scarcity_markup: float = param(0.8, 0, 20, "x base markup at full occupancy, homes",
                                   f"{EST}; CMA: home prices +3.5%/year real 2016-20")
    ifa_scarcity_markup: float = param(0.15, 0, 20, "x base markup at full occupancy, IFAs",
                                       f"{EST}; CMA: IFA prices fell in real terms 2016-20")
    target_occupancy: float = param(0.85, 0.1, 1, "share of places", EST)
    fragmentation_markup: float = param(0.05, 0, 5, "markup when buyers are fully fragmented",
                                        EST)
    reprice_weeks: int = param(13, 1, 104, "weeks between price reviews", EST)


@dataclass(frozen=True)
class Matching:
    """How an LA searches for a placement: preference order and cost-distance-fit score."""

    candidates: int = param(8, 1, 200, "vacancies compared per search", EST)
    match_probability: float = param(
        0.35, 0.01, 1, "chance a vacancy of the right type and band suits a given child",
        f"{EST}; stands for matching criteria the model does not represent (school, "
        "culture, behaviour, other children in the home); calibrated to 20% > 20 miles")
    supported_first_entry_age: float = param(
        16.0, 16, 18, "age at entering care from which standard-needs 16-17s are offered "
        "supported accommodation before foster carers (18: unaccompanied children only)",
        f"{EST}; supported accommodation held 9.8% of children in care (FOI survey of "
        "150 LAs, 1 September 2024), about 40% of 16-17s")
    foster_radius_miles: float = param(60.0, 1, 500, "miles", EST)
    home_radius_miles: float = param(250.0, 1, 500, "miles", EST)
    cost_weight: float = param(1.0, 0, 100, "per £100/week", EST)
    distance_weight: float = param(0.25, 0, 100, "per mile", EST)
    out_of_area_penalty: float = param(2.0, 0, 100, "score points", EST)
    block_contract_share: float = param(
        0.15, 0, 1, "reserved places / the LA's children in private homes",
        f"{EST}; LAs block-book a minority of residential places (CMA 2022)")
    block_discount: float = param(0.08, 0, 0.9, "discount on the spot price", EST)
    block_years: float = param(2.0, 0.25, 10, "years a block contract runs", EST)
    emergency_research_weeks: int = param(2, 1, 52, "weeks between searches", EST)


@dataclass(frozen=True)
class Stability:
    """Placement endings: breakdowns and provider notice."""

    breakdown_rate: dict = param(
        {"kinship": 0.11, "la_foster": 0.35, "ifa_foster": 0.38, "la_home": 0.66,
         "private_home": 0.74, "supported": 0.63, "emergency": 0.0},
        0, 10, "per placement per year", f"calibrated to 10% with 3+ placements ({CLA})",
    )
    misfit_multiplier: float = param(2.0, 1, 20, "x breakdown when need and home do not fit", EST)
    distance_multiplier_per_10_miles: float = param(0.05, 0, 5, "x per 10 miles", EST)
    teen_multiplier: float = param(1.5, 1, 10, "x for 13+", EST)
    provider_notice_share: float = param(0.12, 0, 1, "share of independent endings by provider",
                                         f"{CLA} 2024: 8% carer request, 1% closure")
    notice_weeks: float = param(4.0, 0, 52, "weeks of notice given", EST)


@dataclass(frozen=True)
class PolicySpec:
    """A policy named in the scenario: resolved by :mod:`sim.policies`."""

    name: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """One complete set of assumptions for a run. Frozen: policies never mutate it."""

    name: str = "baseline"
    description: str = "2019 stock run forward with published flows; no reforms."
    start_year: int = param(2019, 2019, 2019, "year (stock at 31 March)", CLA)
    scale: float = param(1.0, 0.001, 1.0, "share of England's children and supply", "")
    record_every_weeks: int = param(4, 1, 52, "weeks between per-LA snapshots", "")
    demand: Demand = field(default_factory=Demand)
    fostering: Fostering = field(default_factory=Fostering)
    residential: Residential = field(default_factory=Residential)
    prices: Prices = field(default_factory=Prices)
    matching: Matching = field(default_factory=Matching)
    stability: Stability = field(default_factory=Stability)
    policies: tuple[PolicySpec, ...] = ()
    only_las: tuple[str, ...] = ()
    """Restrict the run to these LAs (codes or names); empty means all 152."""
    initial_population: str = ""
    """An SSDA903 folder (``sim export-903`` or an LA's own extract): the children looked
    after on its 31 March start the run for the LAs it covers, instead of the national
    tables. Relative paths are relative to the scenario file. Empty: national tables."""
    source_file: str = ""

    def replace(self, **changes: Any) -> Scenario:
        """A copy with top-level fields or dotted group fields (``"prices.ifa_cost"``) changed."""
        groups: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for key, value in changes.items():
            if "." in key:
                group, name = key.split(".", 1)
                groups.setdefault(group, {})[name] = value
            else:
                f = {f.name: f for f in dataclasses.fields(self)}.get(key)
                if f is None:
                    raise ScenarioError(f"unknown scenario field {key!r}")
                where = f"{self.source_file or '<scenario>'}: {key}"
                kind = get_type_hints(Scenario)[key]
                if kind in (int, float):
                    _check_number(value, f, where)
                    if kind is int and not float(value).is_integer():
                        raise ScenarioError(f"{where}: expected a whole number, got {value!r}")
                    value = kind(value)
                if key == "only_las" and (isinstance(value, str) or not all(
                        isinstance(v, str) for v in value)):
                    raise ScenarioError(f"{where}: expected a list of LA codes or names")
                if key == "only_las":
                    value = tuple(value)
                top[key] = value
        for group, values in groups.items():
            current = getattr(self, group, None)
            if not dataclasses.is_dataclass(current):
                raise ScenarioError(f"unknown parameter group {group!r}")
            top[group] = _build(type(current), {**_asdict_shallow(current), **values},
                                self.source_file or "<replace>", group)
        return _validate(dataclasses.replace(self, **top))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (TOML/JSON-ready) that :func:`scenario_from_dict` reads back."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "source_file":
                continue
            if f.name == "policies":
                out["policies"] = [{"name": p.name, **p.params} for p in value]
            elif dataclasses.is_dataclass(value):
                out[f.name] = _asdict_shallow(value)
            else:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


GROUPS = ("demand", "fostering", "residential", "prices", "matching", "stability")


def _asdict_shallow(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _check_number(value: Any, f: dataclasses.Field, where: str) -> None:
    lo, hi, unit = f.metadata.get("lo"), f.metadata.get("hi"), f.metadata.get("unit", "")
    allowed = f"a number in [{lo}, {hi}]" + (f" ({unit})" if unit else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ScenarioError(f"{where}: expected {allowed}, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ScenarioError(f"{where}: {value!r} is out of range; allowed {allowed}")


def _build(cls: type, values: dict[str, Any], file: str, prefix: str) -> Any:
    """Construct a parameter group, checking names, types and ranges."""
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            raise ScenarioError(
                f"{file}: unknown field {prefix}.{key} (allowed: {', '.join(fields)})"
            )
    out: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in values:
            continue
        value = values[name]
        where = f"{file}: {prefix}.{name}"
        kind = hints[name]
        if kind in (int, float):
            _check_number(value, f, where)
            if kind is int and not float(value).is_integer():
                raise ScenarioError(f"{where}: expected a whole number, got {value!r}")
            value = kind(value)
        elif kind is dict:
            default = f.default_factory() if callable(f.default_factory) else {}
            if not isinstance(value, dict):
                raise ScenarioError(f"{where}: expected a table of {', '.join(default)}")
            if default and all(str(k).isdigit() for k in default):
                # Year-keyed series (e.g. starts per year) may add years.
                unknown = {k for k in value if not (str(k).isdigit() and 2000 <= int(k) <= 2100)}
            else:
                unknown = set(value) - set(default) if default else set()
            if unknown:
                raise ScenarioError(
                    f"{where}: unknown key {sorted(unknown)[0]!r} (allowed: {', '.join(default)})"
                )
            merged = {**default, **{str(k): v for k, v in value.items()}}
            for k, v in merged.items():
                _check_number(v, f, f"{where}.{k}")
            value = merged
        out[name] = value
    return cls(**out)


def _validate(scenario: Scenario) -> Scenario:
    """Cross-field checks that single ranges cannot express."""
    where = scenario.source_file or "<scenario>"
    mix = scenario.demand.entry_age_mix
    if abs(sum(mix.values()) - 1.0) > 1e-6:
        raise ScenarioError(
            f"{where}: demand.entry_age_mix must sum to 1 (sums to {sum(mix.values()):.4f})"
        )
    r = scenario.residential
    if r.la_run_homes_2019 > r.homes_2019:
        raise ScenarioError(
            f"{where}: residential.la_run_homes_2019 exceeds residential.homes_2019")
    return scenario


def scenario_from_dict(data: dict[str, Any], file: str = "<dict>") -> Scenario:
    """Build and validate a scenario from plain data (as read from TOML)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{file}: expected a table of scenario fields")
    data = dict(data)
    if "parameters" in data:  # a parameter file (e.g. from `sim calibrate`) under our values
        data = _with_parameter_file(data, file)
    top_fields = {f.name: f for f in dataclasses.fields(Scenario)}
    kwargs: dict[str, Any] = {"source_file": file}
    for key, value in data.items():
        if key not in top_fields or key == "source_file":
            allowed = ", ".join(k for k in top_fields if k != "source_file")
            raise ScenarioError(f"{file}: unknown field {key!r} (allowed: {allowed})")
        if key in GROUPS:
            cls = type(getattr(Scenario(), key))
            if not isinstance(value, dict):
                raise ScenarioError(f"{file}: [{key}] must be a table")
            kwargs[key] = _build(cls, value, file, key)
        elif key == "policies":
            if not isinstance(value, list):
                raise ScenarioError(f"{file}: policies must be an array of tables [[policies]]")
            specs = []
            for i, entry in enumerate(value):
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ScenarioError(f"{file}: policies[{i}].name is required (a policy name)")
                params = {k: v for k, v in entry.items() if k != "name"}
                specs.append(PolicySpec(entry["name"], params))
            kwargs["policies"] = tuple(specs)
        elif key == "only_las":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ScenarioError(f"{file}: only_las must be a list of LA codes or names")
            kwargs["only_las"] = tuple(value)
        elif key in ("name", "description", "initial_population"):
            if not isinstance(value, str):
                raise ScenarioError(f"{file}: {key} must be a string")
            kwargs[key] = value
        else:
            f = top_fields[key]
            _check_number(value, f, f"{file}: {key}")
            if get_type_hints(Scenario)[key] is int:
                if not float(value).is_integer():
                    raise ScenarioError(f"{file}: {key}: expected a whole number, got {value!r}")
                kwargs[key] = int(value)
            else:
                kwargs[key] = float(value)
    scenario = _validate(Scenario(**kwargs))
    if scenario.policies:
        from sim.policies import validate_policies

        validate_policies(scenario)
    return scenario


def read_parameters(path: str | Path, where: str = "--params") -> dict[str, dict[str, Any]]:
    """A parameter file: TOML tables of parameter groups only (``[matching]`` ...).

    Written by ``sim calibrate``; used by a scenario's ``parameters = "FILE"`` (the
    scenario's own values win) or by ``sim run --params FILE`` (the file's values win).
    A top-level ``[meta]`` table (how the values were found) is ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"{where}: no such parameter file {str(path)!r}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: not a valid TOML parameter file ({err})") from None
    data.pop("meta", None)
    for key, value in data.items():
        if key not in GROUPS or not isinstance(value, dict):
            raise ScenarioError(f"{path}: {key!r} is not a parameter group table (allowed: "
                                f"{', '.join(GROUPS)}, meta)")
        _build(type(getattr(Scenario(), key)), value, str(path), key)  # names and ranges
    return data


def parameter_overrides(path: str | Path, where: str = "--params") -> dict[str, Any]:
    """A parameter file as dotted overrides for :meth:`Scenario.replace`."""
    return {f"{group}.{name}": value for group, values in read_parameters(path, where).items()
            for name, value in values.items()}


def _with_parameter_file(data: dict[str, Any], file: str) -> dict[str, Any]:
    """Scenario data with a parameter file's groups merged under the scenario's own."""
    text = data.pop("parameters")
    if not isinstance(text, str):
        raise ScenarioError(f"{file}: parameters must be the path of a parameter TOML file")
    path = Path(text)
    if not path.is_absolute() and file.endswith(".toml"):
        path = Path(file).parent / path
    for group, values in read_parameters(path, f"{file}: parameters").items():
        own = data.get(group, {})
        if not isinstance(own, dict):
            continue  # reported as a bad group by scenario_from_dict
        merged = dict(values)
        for name, value in own.items():
            both = isinstance(value, dict) and isinstance(merged.get(name), dict)
            merged[name] = {**merged[name], **value} if both else value
        data[group] = merged
    return data


def load_scenario(path: str | Path | None) -> Scenario:
    """Read a scenario TOML file; ``None`` gives the built-in baseline."""
    if path is None:
        return Scenario()
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{path}: not valid TOML ({err})") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file") from None
    return scenario_from_dict(data, str(path))


def describe_parameters() -> list[dict[str, Any]]:
    """Every parameter with its default, unit, range and source (for docs and `sim params`)."""
    rows = []
    base = Scenario()
    for group in GROUPS:
        obj = getattr(base, group)
        for f in dataclasses.fields(obj):
            rows.append({
                "parameter": f"{group}.{f.name}",
                "default": getattr(obj, f.name),
                "unit": f.metadata.get("unit", ""),
                "range": (f.metadata.get("lo"), f.metadata.get("hi")),
                "source": f.metadata.get("source", ""),
            })
    return rows
