"""The market levers: LA homes capital, profit and price caps, for-profit ban, tariff.

Mechanism tests use the North East's 12 LAs at full scale over paired seeds 1-2 and
two years (capital, profit cap), or the whole of England at 3% scale for two years
(national tariff: price dispersion needs regions with different running costs;
distances, which need full scale, are not measured there).
"""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pytest
from test_model import invariant_violations

from sim.errors import ScenarioError
from sim.geography import load_geography
from sim.model import CareMarketModel
from sim.policies import REGISTRY
from sim.scenario import PolicySpec, Scenario, load_scenario
from sim.types import PlacementType, Sector

NORTH_EAST = tuple(la.ons_code for la in load_geography().las if la.region == "North East")
MINE = ("capital_programme", "profit_cap", "national_tariff")


def _scenario(policies: list[tuple[str, dict]], only_las=NORTH_EAST, **changes) -> Scenario:
    base = Scenario().replace(only_las=only_las, **changes)
    return dataclasses.replace(base, policies=tuple(PolicySpec(n, p) for n, p in policies))


def _summary(model: CareMarketModel, years: float) -> dict[str, float]:
    last = model.run(years).national.iloc[-1]
    quoted = np.array([s.price for s in model.settings[PlacementType.PRIVATE_HOME]
                       if s.open and s.reserved_for is None])
    return {
        "la_homes_open": float(last["la_homes_open"]),
        "n_la_home": float(last["n_la_home"]),
        "n_private_home": float(last["n_private_home"]),
        "homes_opened": float(last["homes_opened"]),
        "price_paid": float(last["unit_cost_private_home"]),
        "quoted_mean": float(quoted.mean()),
        "quoted_cv": float(quoted.std() / quoted.mean()),
        "total_spend": float(last["total_spend"]),
    }


@cache
def _baseline(seed: int, years: float, national: bool = False) -> dict[str, float]:
    sc = _scenario([], only_las=(), scale=0.03) if national else _scenario([])
    return _summary(CareMarketModel(sc, seed=seed), years)


@cache
def _tiny_baseline():
    return CareMarketModel(_scenario([], only_las=(), scale=0.01), seed=4).run(0.3).national


def _one_line_error(write_toml, name: str, body: str, needles: list[str]) -> None:
    path = write_toml(f'[[policies]]\nname = "{name}"\n{body}\n', "bad.toml")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    message = str(excinfo.value)
    assert "\n" not in message and "bad.toml" in message
    for needle in needles:
        assert needle in message, message


# ---------------------------------------------------------------------------------------
# Every lever: runs on its defaults, and does nothing before it starts
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*MINE, "financial_oversight"])
def test_runs_on_defaults_and_keeps_invariants(name: str) -> None:
    model = CareMarketModel(_scenario([(name, {})], only_las=(), scale=0.02), seed=2)
    initial = len(model.children)
    for _ in range(20):
        model.step()
    assert not invariant_violations(model, initial)
    assert name in REGISTRY


@pytest.mark.parametrize("name", [*MINE, "financial_oversight"])
def test_a_lever_that_starts_after_the_run_changes_nothing(name: str) -> None:
    params = {"start": 2030.0, "mode": "for_profit_ban"} if name == "profit_cap" else {
        "start": 2030.0}
    if name == "capital_programme":
        params["deadline"] = 2031.0
    late = CareMarketModel(_scenario([(name, params)], only_las=(), scale=0.01), seed=4)
    assert _tiny_baseline().equals(late.run(0.3).national)


# ---------------------------------------------------------------------------------------
# Capital programme
# ---------------------------------------------------------------------------------------

CAPITAL = {"start": 2019.25, "deadline": 2020.75, "lead_weeks": 26.0,
           "manager_priority": "la_first"}


def test_capital_adds_la_home_places_and_lowers_the_private_share() -> None:
    base = [_baseline(seed, 2.0) for seed in (1, 2)]
    policy = [_summary(CareMarketModel(_scenario([("capital_programme", CAPITAL)]),
                                       seed=seed), 2.0) for seed in (1, 2)]

    def total(runs, key):
        return sum(r[key] for r in runs)

    def private_share(runs):
        private = total(runs, "n_private_home")
        return private / (private + total(runs, "n_la_home"))

    assert total(policy, "la_homes_open") >= total(base, "la_homes_open") + 4
    assert total(policy, "n_la_home") > total(base, "n_la_home")
    assert private_share(policy) < private_share(base)


def test_a_huge_budget_cannot_outrun_registered_manager_supply() -> None:
    model = CareMarketModel(_scenario([("capital_programme", {
        **CAPITAL, "budget_gbp": 1e11, "deadline": 2022.0, "lead_weeks": 52.0})]), seed=1)
    model.run(2.0)
    policy = model.policies[0]
    r = model.scenario.residential
    per_quarter = r.manager_supply_per_quarter * model.scenario.scale * model.share["residential"]
    quarters = model.week // 13  # the market recruits managers every 13 weeks
    assert policy.homes_planned > 50 * per_quarter * quarters  # the money is no limit
    assert 0 < policy.homes_commissioned <= per_quarter * quarters + 1e-9
    assert policy.managers_short > 0
    # Homes open only a lead time after they are commissioned.
    table = policy.outputs(model)["capital_programme"]
    assert (table["week_opened"] - table["week_commissioned"] == 52).all()
    assert policy.homes_opened == len(table) < policy.homes_commissioned


def test_capital_is_reported_as_policy_spend_while_homes_are_built() -> None:
    model = CareMarketModel(_scenario([("capital_programme", CAPITAL)]), seed=1)
    result = model.run(1.5)
    policy = model.policies[0]
    spend = result.national["policy_spend"].sum()  # pounds/week summed over weeks
    built = policy.homes_opened * policy.capital_per_home
    assert built <= spend + 1e-6
    assert spend <= policy.homes_commissioned * policy.capital_per_home + 1e-6
    # LA homes are sited in the LAs the programme chose, run by those LAs.
    for s in model.settings[PlacementType.LA_HOME]:
        assert s.provider.sector == Sector.LOCAL_AUTHORITY and s.provider.home_la == s.la


@pytest.mark.parametrize(("body", "needles"), [
    ('siting = "random"', ["policies[0].siting", "'demand'", "'shortfall'"]),
    ("budget_gbp = -1", ["policies[0].budget_gbp", "out of range"]),
    ("start = 2027.0\ndeadline = 2026.0", ["policies[0].deadline", "not after start"]),
    ('manager_priority = "la"', ["policies[0].manager_priority", "'la_first'"]),
])
def test_malformed_capital_parameters_are_one_line_errors(write_toml, body, needles) -> None:
    _one_line_error(write_toml, "capital_programme", body, needles)


# ---------------------------------------------------------------------------------------
# Profit cap, price cap, windfall tax, for-profit ban
# ---------------------------------------------------------------------------------------


def test_a_margin_cap_lowers_prices_and_new_private_homes() -> None:
    base = [_baseline(seed, 2.0) for seed in (1, 2)]
    capped = [_summary(CareMarketModel(_scenario([("profit_cap", {"start": 2019.25})]),
                                       seed=seed), 2.0) for seed in (1, 2)]
    for b, c in zip(base, capped, strict=True):
        assert c["price_paid"] < 0.95 * b["price_paid"]
    assert sum(c["homes_opened"] for c in capped) < 0.85 * sum(b["homes_opened"] for b in base)


def test_a_price_cap_caps_quoted_prices() -> None:
    model = CareMarketModel(_scenario([("profit_cap", {
        "start": 2019.25, "mode": "price_cap", "home_price_cap_gbp": 2500.0,
        "ifa_price_cap_gbp": 700.0})]), seed=1)
    model.step()
    model.market.reprice()
    for t, cap in ((PlacementType.PRIVATE_HOME, 2500.0), (PlacementType.IFA_FOSTER, 700.0)):
        prices = [s.price for s in model.settings[t] if s.reserved_for is None]
        assert prices and max(prices) <= cap + 1e-9
    assert min(s.price for s in model.settings[PlacementType.LA_HOME]) > 2500.0


def test_investors_exit_when_a_cap_denies_their_required_return() -> None:
    model = CareMarketModel(_scenario([("profit_cap", {
        "start": 2019.25, "max_margin": 0.02, "exit_rate": 1.0,
        "hurdle_margin_low": 0.05, "hurdle_margin_high": 0.06})]), seed=1)
    initial = len(model.children)
    for _ in range(30):
        model.step()
    policy = model.policies[0]
    assert policy.counts["exits"] > 0
    assert not invariant_violations(model, initial)
    exited = [p for p in model.providers if p.kind == "homes" and not p.active
              and p.sector == Sector.PRIVATE]
    assert exited
    for prov in exited:  # closing with notice: no one new, children moved by week 12
        assert all(not s.open or getattr(s, "retiring", False) for s in prov.settings)


def test_a_windfall_tax_takes_cash_and_dampens_entry() -> None:
    model = CareMarketModel(_scenario([("profit_cap", {
        "start": 2019.25, "mode": "windfall_tax", "tax_rate": 0.5})]), seed=1)
    model.run(1.1)
    policy = model.policies[0]
    assert policy.counts["tax_gbp"] > 0
    margin = model.market.home_margin()
    assert margin > policy.params["tax_threshold_margin"]
    assert policy._after_tax_entry(10.0) < 10.0


def test_a_for_profit_ban_stops_private_entry_and_phases_behind_new_capacity() -> None:
    model = CareMarketModel(_scenario([("profit_cap", {
        "start": 2019.25, "mode": "for_profit_ban", "phase_in_years": 1.0,
        "conversion_share": 0.3})]), seed=1)
    initial = len(model.children)
    model.run(1.5)
    policy = model.policies[0]
    assert model.market.homes_opened == 0  # no private home opened after the ban
    assert policy.counts["converted"] > 0 and policy.counts["charity_homes"] > 0
    replacement = policy._charity_places  # no LA capital in this run
    assert 0 < policy._winds.closed_places <= replacement
    charities = set(policy._charities.values())
    assert all(s.provider in charities for s in model.settings[PlacementType.PRIVATE_HOME]
               if s.provider.sector == Sector.VOLUNTARY and s.provider.name.startswith(
                   "Children's homes trust"))
    assert not invariant_violations(model, initial)


def test_a_ban_ahead_of_capacity_closes_more_homes() -> None:
    closed = []
    for behind in (True, False):
        model = CareMarketModel(_scenario([("profit_cap", {
            "start": 2019.25, "mode": "for_profit_ban", "phase_in_years": 1.0,
            "behind_capacity": behind})]), seed=2)
        model.run(1.0)
        closed.append(model.policies[0]._winds.closed_places)
    assert closed[1] > closed[0]


@pytest.mark.parametrize(("body", "needles"), [
    ('mode = "nationalise"', ["policies[0].mode", "'margin_cap'", "'for_profit_ban'"]),
    ('kinds = ["supported"]', ["policies[0].kinds", "'supported'", "'homes'"]),
    ("max_margin = 1.5", ["policies[0].max_margin", "out of range"]),
    ("hurdle_margin_low = 0.3\nhurdle_margin_high = 0.2", ["policies[0].hurdle_margin_high"]),
    ('behind_capacity = "yes"', ["policies[0].behind_capacity", "true or false"]),
])
def test_malformed_profit_parameters_are_one_line_errors(write_toml, body, needles) -> None:
    _one_line_error(write_toml, "profit_cap", body, needles)


# ---------------------------------------------------------------------------------------
# National tariff
# ---------------------------------------------------------------------------------------


def test_a_national_tariff_narrows_price_spread_and_lowers_prices() -> None:
    for seed in (1, 2):
        base = _baseline(seed, 2.0, national=True)
        model = CareMarketModel(_scenario([("national_tariff", {"start": 2019.25})],
                                          only_las=(), scale=0.03), seed=seed)
        tariff = _summary(model, 2.0)
        assert tariff["quoted_cv"] < 0.25 * base["quoted_cv"]
        assert tariff["price_paid"] < base["price_paid"]
        assert tariff["total_spend"] < base["total_spend"]
        assert len(model.policies[0].outputs(model)["national_tariff"]) >= 8


def test_open_book_pays_each_home_its_own_cost_plus_the_allowed_markup() -> None:
    model = CareMarketModel(_scenario([("national_tariff", {
        "start": 2019.25, "basis": "own_cost", "allowed_markup_homes": 0.1})],
        only_las=(), scale=0.02), seed=1)
    model.step()
    model.market.reprice()
    occupancy = model.scenario.prices.target_occupancy
    for s in model.settings[PlacementType.PRIVATE_HOME]:
        if s.reserved_for is None:
            assert s.price == pytest.approx(s.cost_per_place / occupancy * 1.1)


@pytest.mark.parametrize(("body", "needles"), [
    ('basis = "auction"', ["policies[0].basis", "'national'", "'own_cost'"]),
    ('kinds = ["schools"]', ["policies[0].kinds", "'schools'"]),
    ("allowed_markup_homes = -2", ["policies[0].allowed_markup_homes", "out of range"]),
])
def test_malformed_tariff_parameters_are_one_line_errors(write_toml, body, needles) -> None:
    _one_line_error(write_toml, "national_tariff", body, needles)
