"""Paired-seed runs of Greater Manchester and three neighbours, shared by the RCC and
nested-commissioning mechanism tests.

The ten Greater Manchester LAs (the first RCC pathfinder) plus Warrington and Cheshire
East (North West, not members) and Calderdale (Yorkshire and the Humber, another region),
at full scale because distances and vacancies are only realistic at scale 1. Each arm is
run on the same seeds as the baseline and cached for the session.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import numpy as np

SEEDS = (1, 2, 3)
YEARS = 2.0
START = 2019.25  # policies in the mechanism tests start with the run
GREATER_MANCHESTER = tuple(f"E080000{i:02d}" for i in range(1, 11))
NEIGHBOURS = ("E06000007", "E06000049", "E08000033")  # Warrington, Cheshire East, Calderdale
REGION = GREATER_MANCHESTER + NEIGHBOURS


def build(policies: list[tuple[str, dict[str, Any]]], seed: int, only_las=REGION):
    """A model of the test region with these policies (not yet run)."""
    from sim.model import CareMarketModel
    from sim.scenario import PolicySpec, Scenario

    scenario = Scenario().replace(only_las=tuple(only_las))
    scenario = dataclasses.replace(
        scenario, policies=tuple(PolicySpec(name, params) for name, params in policies))
    return CareMarketModel(scenario, seed=seed)


def _placed(model, las: set[int]):
    from sim.types import PlacementType as PT

    return [c for c in model.children.values() if c.la in las
            and c.ptype not in (None, PT.WITH_PARENTS, PT.ADOPTION)]


@functools.cache
def _run(spec: str, seed: int) -> dict[str, Any]:
    from sim.types import Need
    from sim.types import PlacementType as PT

    model = build([(name, params) for name, params in json.loads(spec)], seed)
    result = model.run(years=YEARS)
    members = {model.geography.la(c).index for c in GREATER_MANCHESTER}
    kids = _placed(model, members)
    in_house = [c for c in kids if c.ptype == PT.LA_FOSTER]
    complex_ = _placed(model, set(model.active_las))
    complex_ = [c for c in complex_ if c.need == Need.COMPLEX]
    homes = [s for t in (PT.LA_HOME, PT.PRIVATE_HOME) for s in model.settings[t]]
    # Mean price paid for placements made since the start (prices are fixed at placement).
    episodes = model.outcomes.episodes.to_frame()
    current = [(c.ptype, c.weekly_cost) for c in kids if c.placed_week > 0]
    ended = episodes[episodes["la"].isin(members) & (episodes["start_week"] > 0)]

    def mean_price(ptype) -> float:
        prices = [p for t, p in current if t == ptype] + ended.loc[
            ended["placement_type"] == ptype, "weekly_cost"].tolist()
        return float(np.mean(prices))

    nat = result.national
    return {
        "in_house": len(in_house),
        "in_house_other_member": sum(1 for c in in_house if c.setting.la != c.la),
        "far_share": float(np.mean([c.distance > 20.0 for c in kids])),
        "price_private_home": mean_price(PT.PRIVATE_HOME),
        "price_ifa": mean_price(PT.IFA_FOSTER),
        "home_places_in_members": sum(s.places for s in homes if s.location_la in members),
        "members_in_homes_in_area": sum(1 for c in kids if c.ptype in (PT.LA_HOME, PT.PRIVATE_HOME)
                                        and c.setting.location_la in members),
        "complex_not_met": float(np.mean([not c.well_placed for c in complex_])),
        "complex_in_house": sum(1 for c in complex_ if c.ptype in (PT.LA_FOSTER, PT.LA_HOME)),
        "complex_cost": float(np.mean([c.weekly_cost for c in complex_])),
        "policy_spend": nat["policy_spend"].to_numpy(),
        "tables": result.policy_tables,
    }


def arm(*policies: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One run per seed of the region with these policies (none: the baseline)."""
    spec = json.dumps([[name, params] for name, params in policies], sort_keys=True)
    return [_run(spec, seed) for seed in SEEDS]


def mean(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))
