"""Paired-seed runs of one small region, shared by the policy mechanism tests.

Each arm (a list of policies) is run on the same seeds as the baseline; runs are cached
for the session so the baseline is run once however many test files compare with it.
The region is England's smallest (North East, 12 LAs) at full scale, because distances
and vacancies are only realistic at scale 1.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import numpy as np

SEEDS = (1, 2, 3)
YEARS = 2.5
REGION = "North East"
START = 2019.25  # policies in the mechanism tests start with the run


@functools.cache
def region_codes() -> tuple[str, ...]:
    from sim.geography import load_geography

    return tuple(la.ons_code for la in load_geography().in_region(REGION))


def build(policies: list[tuple[str, dict[str, Any]]], seed: int):
    """A model of the test region with these policies (not yet run)."""
    from sim.model import CareMarketModel
    from sim.scenario import PolicySpec, Scenario

    scenario = Scenario().replace(only_las=region_codes())
    scenario = dataclasses.replace(
        scenario, policies=tuple(PolicySpec(name, params) for name, params in policies))
    return CareMarketModel(scenario, seed=seed)


@functools.cache
def _run(spec: str, seed: int) -> dict[str, Any]:
    from sim.types import PlacementType as PT

    model = build([(name, params) for name, params in json.loads(spec)], seed)
    result = model.run(years=YEARS)
    nat = result.national
    last_year = nat[nat["week"] > nat["week"].max() - 52]
    end = nat.iloc[-1]
    foster = end["n_la_foster"] + end["n_ifa_foster"]
    counts = model.recruitment.counts
    return {
        "children_in_care": float(end["children_in_care"]),
        "starts": float(end["starts"]),
        "foster_households": float(end["foster_households"]),
        "la_households": float(len(model.settings[PT.LA_FOSTER])),
        "ifa_share_of_foster": float(end["n_ifa_foster"] / foster),
        "residential_share": float(
            (last_year["n_private_home"] + last_year["n_la_home"]).mean()
            / last_year["children_in_care"].mean()),
        "foster_vacancies": float(last_year["foster_vacancies"].mean()),
        "staying_put": float(sum(s.staying_put for t in (PT.LA_FOSTER, PT.IFA_FOSTER)
                                 for s in model.settings[t])),
        "sgo_exits": float(model.outcomes.ceased_by_reason[2]),
        "deregistrations": float(counts.deregistrations),
        "transfers_to_ifa": float(counts.transfers_to_ifa),
        "approvals": float(counts.approvals),
        "policy_spend": nat["policy_spend"].to_numpy(),
        "weeks": nat["week"].to_numpy(),
        "tables": result.policy_tables,
    }


def arm(*policies: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One run per seed of the region with these policies (none: the baseline)."""
    spec = json.dumps([[name, params] for name, params in policies], sort_keys=True)
    return [_run(spec, seed) for seed in SEEDS]


def mean(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))
