"""Nested commissioning (ADCS): a cohort commissioned regionally on Greater Manchester and
neighbours with paired seeds, the sub-region clustering, switch-off, and bad blocks."""

from __future__ import annotations

import numpy as np
import pytest
from _rcc_runs import GREATER_MANCHESTER, START, arm, build, mean

from sim.errors import ScenarioError
from sim.geography import load_geography
from sim.policies.base import WEEKS_PER_YEAR
from sim.policies.nested_commissioning import NestedCommissioning, subregions
from sim.scenario import load_scenario
from sim.types import Need, PlacementType

ALL_LA = {"complex": "la", "disabled": "la", "standard_fostering": "la", "residential": "la"}
COMPLEX_REGIONAL = ("nested_commissioning",
                    {"start": START, "tiers": {**ALL_LA, "complex": "regional"}})


def test_complex_needs_commissioned_regionally_are_placed_better_and_cheaper() -> None:
    base, regional = arm(), arm(COMPLEX_REGIONAL)
    # Complex-needs children reach the region's complex-approved in-house carers and LA
    # homes: more of them in-house, fewer in placements that do not meet their needs,
    # and a lower mean weekly cost (in-house instead of bought-in).
    for b, r in zip(base, regional, strict=True):
        assert r["complex_in_house"] > 1.2 * b["complex_in_house"]
    assert mean(regional, "complex_not_met") < mean(base, "complex_not_met")
    assert mean(regional, "complex_cost") < mean(base, "complex_cost")
    table = regional[0]["tables"]["nested_cohorts"]
    assert set(table["cohort"]) == {"standard_fostering", "complex", "disabled"}
    assert set(table.loc[table["cohort"] == "complex", "tier"]) == {"regional"}


def test_every_tier_at_the_la_is_the_baseline() -> None:
    base = build([], seed=5, only_las=GREATER_MANCHESTER[:4]).run(years=0.3).national
    nested = build([("nested_commissioning", {"start": START, "tiers": ALL_LA})], seed=5,
                   only_las=GREATER_MANCHESTER[:4]).run(years=0.3).national
    assert base.drop(columns="policy_spend").equals(nested.drop(columns="policy_spend"))
    assert (nested["policy_spend"] == 0).all()  # no regional or sub-regional body in use


def test_subregions_are_groups_of_four_to_eight_neighbours() -> None:
    geo = load_geography()
    for region in geo.regions:
        las = [la.index for la in geo.in_region(region)]
        groups = subregions(las, 8)
        assert sorted(i for g in groups for i in g) == sorted(las)
        assert all(4 <= len(g) <= 8 for g in groups) or len(las) < 4
        assert subregions(las, 8) == groups  # deterministic
    london = [la.index for la in geo.in_region("London")]
    dist = geo.centroid_distance_matrix()
    widest = max(dist[np.ix_(g, g)].max() for g in subregions(london, 8))
    assert widest < dist[np.ix_(london, london)].max()  # tighter than the whole region


def test_switch_on_sets_cohort_hooks_and_end_restores_them() -> None:
    model = build([("nested_commissioning", {"start": START, "end": 2019.5})], seed=1,
                  only_las=GREATER_MANCHESTER)
    model.step()
    bolton = model.las[model.geography.la("E08000001").index]
    north_west = tuple(la.index for la in model.geography.in_region("North West"))
    assert bolton.cohort_pools[(PlacementType.LA_FOSTER, Need.COMPLEX)] == north_west
    assert bolton.cohort_pools[(PlacementType.LA_FOSTER, Need.STANDARD)] == (bolton.index,)
    assert bolton.buyer_for(Need.DISABLED) == "region:North West"
    assert bolton.buyer_for(Need.STANDARD) == bolton.code
    assert bolton.buyer.startswith("sub:North West:")  # homes block-bought sub-regionally
    spend = model.outcomes.policy_spend
    running = NestedCommissioning.defaults["running_cost_gbp_per_year"] / WEEKS_PER_YEAR
    assert spend.sum() > running  # the regional body and the sub-regional ones in use
    policy = model.policies[0]
    while model.week <= policy.week_of(model, 2019.5):
        model.step()
    assert bolton.cohort_pools == {} and bolton.cohort_buyers == {}
    assert bolton.buyer == bolton.code
    assert np.abs(spend).max() < 1e-6


def test_subregions_file(write_toml, tmp_path) -> None:
    (tmp_path / "sub.csv").write_text(
        "la_code,group\nE08000001,West\nE08000010,West\nE08000003,Core\n")
    path = write_toml('name = "x"\n[[policies]]\nname = "nested_commissioning"\n'
                      'subregions_file = "sub.csv"\nregions = ["North West"]\n')
    from sim.policies import validate_policies

    policy = validate_policies(load_scenario(path))[0]
    sub = policy.groups["subregional"]
    bolton, wigan = (load_geography().la(c).index for c in ("E08000001", "E08000010"))
    assert sub[bolton] == ("sub:West", tuple(sorted((bolton, wigan))))
    halton = load_geography().la("E06000006").index
    assert sub[halton] == ("E06000006", (halton,))  # not listed: its own LA


@pytest.mark.parametrize(("block", "expected"), [
    ('tiers = { complex = "national" }', "policies[0].tiers.complex: unknown tier 'national'"),
    ('tiers = { teenagers = "la" }', "policies[0].tiers.teenagers: unknown cohort"),
    ('regions = ["Wessex"]', "policies[0].regions[0]: unknown region 'Wessex'"),
    ('subregions_file = "none.toml"', "policies[0].subregions_file: no such file"),
    ("subregion_max_size = 1", "policies[0].subregion_max_size: 1 is out of range"),
    ('tiers = "regional"', "policies[0].tiers: expected a table"),
])
def test_bad_blocks_get_one_line_errors(write_toml, block, expected) -> None:
    path = write_toml(f'name = "x"\n[[policies]]\nname = "nested_commissioning"\n{block}\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert expected in str(err.value) and "\n" not in str(err.value)
