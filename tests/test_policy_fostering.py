"""The fostering recruitment and retention programme: published defaults, mechanism on a
small region with paired seeds, clean switch-off, and one-line errors for bad blocks."""

from __future__ import annotations

import numpy as np
import pytest
from _paired_runs import START, arm, build, mean

from sim.errors import ScenarioError
from sim.geography import load_geography
from sim.policies import REGISTRY
from sim.policies._levers import combine_in_house
from sim.recruitment import PipelineLevers
from sim.scenario import load_scenario
from sim.supply import new_foster_household
from sim.types import PlacementType

PROGRAMME = ("fostering_programme", {"start": START, "rollout": {"North East": START}})
# Only the allowance uplift, made large so three seeds show it: no budget, no targeting.
UPLIFT = ("fostering_programme", {"start": START, "budget_gbp": 0, "nma_uplift": 1.0,
                                  "allowance_share_of_cost": 1.0, "teen_target_share": 0.0,
                                  "sibling_target_share": 0.0, "complex_target_share": 0.0})


def test_defaults_are_the_published_programme() -> None:
    d = REGISTRY["fostering_programme"].defaults
    assert d["budget_gbp"] == 27_000_000 and d["programme_years"] == 2
    assert d["nma_uplift"] == pytest.approx(0.1243)
    assert d["rollout"]["North East"] == pytest.approx(2023.5)  # July 2023: "mid-2023"
    assert set(d["rollout"]) == set(load_geography().regions)
    assert all(y == pytest.approx(2024.25) for r, y in d["rollout"].items() if r != "North East")


def test_programme_adds_carers_and_cuts_ifa_use() -> None:
    base, policy = arm(), arm(PROGRAMME)
    assert mean(policy, "foster_households") > mean(base, "foster_households")
    assert mean(policy, "la_households") > 1.1 * mean(base, "la_households")
    assert mean(policy, "ifa_share_of_foster") < mean(base, "ifa_share_of_foster")
    assert mean(policy, "residential_share") <= mean(base, "residential_share") + 0.002


def test_programme_spends_its_regional_allocation_over_two_years() -> None:
    run = arm(PROGRAMME)[0]
    table = run["tables"]["fostering_programme"]
    row = table.set_index("region").loc["North East"]
    weeks = run["weeks"]
    funded = (weeks >= 1) & (weeks < round(2.0 * 52.1775))  # week 0 is the 2019 stock
    assert (run["policy_spend"][funded] > 0).all()
    assert (run["policy_spend"][~funded] == 0).all()
    # Weekly snapshots: each week's running cost, so the sum is the two years' spend.
    assert run["policy_spend"].sum() == pytest.approx(row["allocation_gbp"], rel=0.02)
    # The North East's share of England's fostered children, of £27m.
    assert 0.03 < row["allocation_gbp"] / 27e6 < 0.1
    assert row["enquiry_multiplier"] > 1 and 0 < row["hub_coverage"] <= 1


def test_allowance_uplift_cuts_moves_to_ifas_and_deregistration() -> None:
    base, uplift = arm(), arm(UPLIFT)
    assert mean(uplift, "transfers_to_ifa") < 0.8 * mean(base, "transfers_to_ifa")
    assert mean(uplift, "deregistrations") < mean(base, "deregistrations")


def test_uplift_sets_the_in_house_fee_and_switch_off_restores_everything() -> None:
    model = build([("fostering_programme", {"start": START, "end": 2019.75,
                                            "rollout": {"North East": START}})], seed=1)
    policy = model.policies[0]
    model.step()
    assert model.foster_fee_multiplier == pytest.approx(1 + 0.1243 * 0.5)
    assert model.ifa_transfer_pull() < 1.0
    assert model.recruitment.levers.in_house_by_region["North East"]["enquiries"] > 1
    assert model.outcomes.policy_spend.sum() > 0 and policy._retain in model.deregistration_hooks
    model.run(years=0.75)
    assert model.foster_fee_multiplier == 1.0
    assert model.recruitment.levers == PipelineLevers()
    assert model.deregistration_hooks == [] and not model.outcomes.policy_spend.any()


def test_targeting_levers_shape_new_in_house_approvals() -> None:
    model = build([], seed=1)
    la = model.active_las[0]
    region = model.geography.las[la].region
    rng = np.random.default_rng(5)
    combine_in_house(model.recruitment.levers, region, {
        "targeted_teen_share": 0.45, "targeted_sibling_share": 1.0})
    made = [new_foster_household(model, PlacementType.LA_FOSTER, la, la, rng)
            for _ in range(200)]
    assert all(h.max_age == 18.0 for h in made)  # every approval takes teenagers
    assert all(h.places >= 3 for h in made)  # and sibling groups
    ifa = [new_foster_household(model, PlacementType.IFA_FOSTER, model.providers[0], la, rng)
           for _ in range(200)]
    assert any(h.max_age == 11.0 for h in ifa)  # the in-house targeting skips IFAs


def test_regional_levers_compose_and_undo_exactly() -> None:
    lv = PipelineLevers()
    combine_in_house(lv, "London", {"enquiries": 1.7, "targeted_teen_share": 0.1})
    combine_in_house(lv, "London", {"enquiries": 1.3})
    assert lv.value("enquiries", "London", True) == pytest.approx(1.7 * 1.3)
    assert lv.value("enquiries", "London", False) == 1.0  # IFAs: national lever only
    assert lv.value("targeted_teen_share", "London", True) == pytest.approx(0.1)
    combine_in_house(lv, "London", {"enquiries": 1.3}, undo=True)
    combine_in_house(lv, "London", {"enquiries": 1.7, "targeted_teen_share": 0.1}, undo=True)
    assert lv == PipelineLevers()


@pytest.mark.parametrize(("block", "expected"), [
    ("budget_gbp = -1", ["policies[0].budget_gbp", "-1", "[0,"]),
    ('rollout = { "Wessex" = 2024.0 }', ["policies[0].rollout", "'Wessex'", "North East"]),
    ('rollout = { "London" = "soon" }', ["policies[0].rollout.London", "a year"]),
    ("marketing_share = 0.8", ["policies[0].marketing_share", "at most 1"]),
    ("cost_per_enquiry_gbp = 0", ["policies[0].cost_per_enquiry_gbp", "out of range"]),
    ("end = 2020.0\nstart = 2023.0", ["policies[0].end", "not after start"]),
    ("budget = 5", ["policies[0].budget", "unknown parameter", "budget_gbp"]),
])
def test_malformed_blocks_get_one_line_errors(write_toml, block, expected) -> None:
    path = write_toml(f'name = "x"\n[[policies]]\nname = "fostering_programme"\n{block}\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    for part in expected:
        assert part in message
