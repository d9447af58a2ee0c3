"""Financial oversight: coverage, early warning, planned moves and contingency transfers.

The mechanism test runs the North East's 12 LAs at full scale for two years over
paired seeds 1-3. Provider failures are rare in one region at the default cost shocks
(about one in three years), so it raises ``residential.cost_shock_sd`` from 0.15 to 0.3,
lowers ``residential.cash_weeks`` from 10 to 5 and covers every independent provider
(thresholds 0, supported accommodation included): what is tested is that failures under
oversight displace fewer children.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_model import invariant_violations

from sim.errors import ScenarioError
from sim.geography import load_geography
from sim.model import CareMarketModel
from sim.policies._provision import HELD
from sim.scenario import PolicySpec, Scenario, load_scenario
from sim.types import PlacementType, Sector

NORTH_EAST = tuple(la.ons_code for la in load_geography().las if la.region == "North East")
COVER_ALL = {"min_places": 0, "min_children": 0, "kinds": ["homes", "ifa", "supported"]}


def _scenario(policies: list[tuple[str, dict]], **changes) -> Scenario:
    base = Scenario().replace(only_las=NORTH_EAST, **changes)
    return dataclasses.replace(base, policies=tuple(PolicySpec(n, p) for n, p in policies))


def _oversight(model: CareMarketModel):
    return next(p for p in model.policies if p.name == "financial_oversight")


def _revenue_books_agree(model: CareMarketModel) -> None:
    for prov in model.providers:
        if prov.sector == Sector.LOCAL_AUTHORITY:
            continue
        paid = sum(c.weekly_cost for s in prov.settings if s.open for c in s.occupants)
        assert prov.revenue_rate == pytest.approx(paid, rel=1e-9, abs=1e-6), prov.name


# ---------------------------------------------------------------------------------------
# Coverage
# ---------------------------------------------------------------------------------------


def test_coverage_follows_the_thresholds() -> None:
    model = CareMarketModel(_scenario([("financial_oversight", {
        "min_places": 150, "min_children": 10**6, "min_region_share": 1.0})]), seed=1)
    model.step()  # week 0: the policy switches on and designates providers
    covered = {p for p in model.providers if p.covered_by_oversight}
    assert covered, "the large IFA groups hold 150+ places"
    for prov in model.providers:
        big = (prov.kind in ("homes", "ifa") and prov.sector != Sector.LOCAL_AUTHORITY
               and prov.places >= 150)
        assert (prov in covered) == big, prov.name
    assert all(p.kind != "supported" for p in covered)


def test_geographic_concentration_alone_can_cover_a_provider() -> None:
    sizes_only = CareMarketModel(_scenario([("financial_oversight", {
        "min_places": 10**6, "min_children": 10**6, "min_region_share": 1.0})]), seed=1)
    by_share = CareMarketModel(_scenario([("financial_oversight", {
        "min_places": 10**6, "min_children": 10**6, "min_region_share": 0.05})]), seed=1)
    sizes_only.step()
    by_share.step()
    assert _oversight(sizes_only).counts["covered"] == 0
    assert _oversight(by_share).counts["covered"] > 0


# ---------------------------------------------------------------------------------------
# Early warning, duty to warn, contingency
# ---------------------------------------------------------------------------------------


def test_a_warned_provider_takes_no_one_new_and_its_children_move_to_fitting_places() -> None:
    model = CareMarketModel(_scenario([("financial_oversight", {
        **COVER_ALL, "detection_probability": 1.0, "lead_time_weeks": 52.0,
        "review_weeks": 1, "transfer_success_rate": 0.0})]), seed=2)
    initial = len(model.children)
    target = max((p for p in model.providers if p.kind == "homes"
                  and p.sector == Sector.PRIVATE), key=lambda p: p.occupied)
    children = [c for s in target.settings if s.open for c in s.occupants]
    assert len(children) >= 5
    # Running at a loss with ten weeks of cash: inside the lead time, but it survives
    # the week-4 accounts.
    target.cost_multiplier = 3.0
    target.cash = 10 * (target.weekly_cost() - target.weekly_revenue())
    assert target.cash > 0
    model.step()  # week 1: covered, reviewed and warned
    policy = _oversight(model)
    assert policy.counts["warnings"] >= 1 and target in policy._held
    # Its homes are out of every LA's search (no open vacancy, held for no real buyer).
    assert all(s.slot_index < 0 and s.reserved_for == HELD
               for s in target.settings if s.open)
    ids = {c.unique_id for c in children}
    moved_out = set()
    for _ in range(3):
        model.step()
        assert not invariant_violations(model, initial)
        moved_out |= {c.unique_id for c in children
                      if c.unique_id in model.children and c.setting not in target.settings}
        inside = {c.unique_id for s in target.settings for c in s.occupants}
        assert inside <= ids, "no child is newly placed with a provider under warning"
    assert moved_out, "planned moves should have moved some children out"
    # Planned moves go to places that meet the child's needs, never emergency ones.
    assert all(model.children[i].ptype != PlacementType.EMERGENCY for i in moved_out
               if model.children[i].ptype is not None)
    assert policy.counts["planned_moves"] >= len(moved_out)


def test_a_failing_covered_provider_passes_to_a_new_operator_and_no_child_is_displaced(
) -> None:
    model = CareMarketModel(_scenario([("financial_oversight", {
        **COVER_ALL, "transfer_success_rate": 1.0, "detection_probability": 0.0})]), seed=3)
    initial = len(model.children)
    for _ in range(3):
        model.step()
    target = max((p for p in model.providers if p.kind == "homes"
                  and p.sector == Sector.PRIVATE), key=lambda p: p.occupied)
    homes = [s for s in target.settings if s.open]
    children = [c for s in homes for c in s.occupants]
    displaced = model.outcomes.displaced
    target.cash = -1e12  # week 4 keeps the accounts: it cannot pay
    model.step()
    assert not target.active
    successor = homes[0].provider
    assert successor is not target and successor.active and successor.covered_by_oversight
    assert all(s.provider is successor and s.open for s in homes)
    assert successor.cash > 0 and successor.debt == 0
    assert model.outcomes.displaced == displaced
    assert all(c.setting in homes for c in children if c.unique_id in model.children
               and c.placement_starts[-1] < model.week)
    assert not invariant_violations(model, initial)
    _revenue_books_agree(model)
    for _ in range(8):
        model.step()
    assert not invariant_violations(model, initial)
    _revenue_books_agree(model)


def test_without_a_buyer_a_covered_provider_fails_as_before() -> None:
    model = CareMarketModel(_scenario([("financial_oversight", {
        **COVER_ALL, "transfer_success_rate": 0.0, "detection_probability": 0.0})]), seed=3)
    for _ in range(3):
        model.step()
    target = max((p for p in model.providers if p.kind == "homes"
                  and p.sector == Sector.PRIVATE), key=lambda p: p.occupied)
    n = target.occupied
    displaced = model.outcomes.displaced
    target.cash = -1e12
    model.step()
    assert not target.active and all(not s.open for s in target.settings)
    assert model.outcomes.displaced >= displaced + n // 2


def test_compliance_cost_is_charged_and_the_regulator_is_paid_for() -> None:
    model = CareMarketModel(_scenario([("financial_oversight", {
        **COVER_ALL, "compliance_cost_share": 0.01, "regulator_cost_gbp_per_year": 5e6})]),
        seed=1)
    for _ in range(5):
        model.step()
    policy = _oversight(model)
    assert policy.counts["compliance_gbp"] > 0
    share = model.scenario.scale * model.share["child_pop"]
    assert model.outcomes.policy_spend.sum() == pytest.approx(5e6 * share / 52.1775)
    table = model.policies[0].outputs(model)["financial_oversight"]
    assert set(table["event"]) >= {"coverage"}


# ---------------------------------------------------------------------------------------
# Mechanism: fewer children displaced by sudden closures
# ---------------------------------------------------------------------------------------


def test_oversight_lowers_children_displaced_by_closures() -> None:
    stress = {"residential.cost_shock_sd": 0.3, "residential.cash_weeks": 5.0}
    base, over, rescued = [], [], 0
    for seed in (1, 2, 3):
        m0 = CareMarketModel(_scenario([], **stress), seed=seed)
        base.append(int(m0.run(2).national["children_displaced"].iloc[-1]))
        m1 = CareMarketModel(_scenario([("financial_oversight", COVER_ALL)], **stress),
                             seed=seed)
        over.append(int(m1.run(2).national["children_displaced"].iloc[-1]))
        counts = _oversight(m1).counts
        rescued += counts["children_kept"] + counts["planned_moves"]
    assert sum(base) > 100, f"too few closures to compare: {base}"
    assert sum(over) < 0.6 * sum(base), f"displaced: baseline {base}, oversight {over}"
    assert rescued > 0


# ---------------------------------------------------------------------------------------
# Malformed parameters
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "needles"), [
    ("detection_probability = 1.5", ["policies[0].detection_probability", "[0, 1]"]),
    ('transfer_success_rate = "high"', ["policies[0].transfer_success_rate", "a number"]),
    ('kinds = ["homes", "schools"]', ["policies[0].kinds", "'schools'", "'ifa'"]),
    ("min_places = -5", ["policies[0].min_places", "out of range"]),
    ("review_weeks = 2.5", ["policies[0].review_weeks", "whole number"]),
])
def test_malformed_oversight_parameters_are_one_line_errors(write_toml, body, needles) -> None:
    path = write_toml(f'[[policies]]\nname = "financial_oversight"\n{body}\n', "bad.toml")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    message = str(excinfo.value)
    assert "\n" not in message and "bad.toml" in message
    for needle in needles:
        assert needle in message, message


def test_defaults_alone_run() -> None:
    model = CareMarketModel(_scenario([("financial_oversight", {})]), seed=1, scale=0.2)
    result = model.run(0.3)
    assert np.isfinite(result.national["total_spend"]).all()


def test_an_ifa_sold_as_a_going_concern_takes_its_carers_places_with_it() -> None:
    # A sale moves every household, with its children and Staying Put places, to the
    # buyer: both IFAs' running totals of filled and empty carer places must follow.
    from sim.policies._provision import new_operator, transfer_all, transfer_setting

    model = CareMarketModel(_scenario([]), seed=2)
    model.run(years=0.5)
    ifas = sorted((p for p in model.providers if p.kind == "ifa" and p.active),
                  key=lambda p: p.carer_filled, reverse=True)
    seller, other = ifas[0], ifas[1]
    filled, places = seller.carer_filled, seller.carer_places
    assert filled > 0
    buyer = new_operator(model, "ifa", Sector.PRIVATE, seller.region, "buyer")
    transfer_setting(model, next(s for s in other.settings if s.open and s.occupants), buyer)
    moved = (buyer.carer_filled, buyer.carer_places)
    assert moved[0] > 0
    transfer_all(model, seller, buyer)
    assert (seller.carer_filled, seller.carer_places) == (0, 0)
    assert (buyer.carer_filled, buyer.carer_places) == (filled + moved[0], places + moved[1])
    for _ in range(9):  # now, and after each of 8 weeks (stock count not checked here)
        assert [v for v in invariant_violations(model, 0) if "carer" in v] == []
        model.step()
