"""Every registered policy: switched off or not yet started, it leaves a run untouched;
malformed policy blocks get one-line errors naming the file, the field and what is allowed;
and several policies combine in one run."""

from __future__ import annotations

import dataclasses
import textwrap

import pandas as pd
import pytest

from sim.errors import ScenarioError
from sim.model import CareMarketModel
from sim.policies import REGISTRY
from sim.scenario import PolicySpec, Scenario, load_scenario

REGION = ("E06000001", "E06000002", "E06000003", "E06000004", "E06000005")  # Tees Valley
YEARS = 1.0
SEED = 7


def _run(policies: tuple[PolicySpec, ...] = ()):
    scenario = dataclasses.replace(Scenario().replace(only_las=REGION), policies=policies)
    return CareMarketModel(scenario, seed=SEED).run(years=YEARS)


@pytest.fixture(scope="module")
def baseline():
    return _run()


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.national, b.national)
    pd.testing.assert_frame_equal(a.by_la, b.by_la)
    pd.testing.assert_frame_equal(a.episodes, b.episodes)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_policy_starting_after_the_run_leaves_results_bit_identical(name, baseline):
    """initialize() may prepare, but nothing may change before the start date."""
    later = _run((PolicySpec(name, {"start": 2019.25 + YEARS + 5}),))
    _same(later, baseline)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_policy_switched_off_leaves_results_bit_identical(name, baseline):
    off = _run((PolicySpec(name, {"start": 2019.25, "enabled": False}),))
    _same(off, baseline)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_policy_switched_on_runs_with_its_defaults(name):
    """Every policy runs from its published defaults alone, and records itself."""
    result = _run((PolicySpec(name, {"start": 2019.25}),))
    assert [p["name"] for p in result.meta["policies"]] == [name]
    assert (result.national["policy_spend"] >= 0).all()


def _load(tmp_path, body: str) -> Scenario:
    path = tmp_path / "bad.toml"
    path.write_text(textwrap.dedent(body))
    return load_scenario(path)


def _one_line_error(tmp_path, body: str) -> str:
    with pytest.raises(ScenarioError) as err:
        _load(tmp_path, body)
    message = str(err.value)
    assert "\n" not in message
    assert "bad.toml" in message
    return message


def test_unknown_policy_is_named_with_the_allowed_ones(tmp_path):
    msg = _one_line_error(tmp_path, """
        [[policies]]
        name = "regional_care_coop"
    """)
    assert "policies[0].name" in msg and "rcc" in msg


def test_end_before_start_is_refused(tmp_path):
    msg = _one_line_error(tmp_path, """
        [[policies]]
        name = "fostering_programme"
        start = 2025.0
        end = 2024.0
    """)
    assert "policies[0].end" in msg


def test_negative_budget_is_refused_with_its_range(tmp_path):
    msg = _one_line_error(tmp_path, """
        [[policies]]
        name = "fostering_programme"
        budget_gbp = -1
    """)
    assert "policies[0].budget_gbp" in msg and "allowed" in msg


def test_unknown_la_in_a_membership_is_refused(tmp_path):
    msg = _one_line_error(tmp_path, """
        [[policies]]
        name = "rcc"
        members = ["E08000003", "E99999999"]
    """)
    assert "policies[0].members" in msg and "E99999999" in msg


def test_unknown_parameter_is_named_with_the_allowed_ones(tmp_path):
    msg = _one_line_error(tmp_path, """
        [[policies]]
        name = "capital_programme"
        budget = 100
    """)
    assert "policies[0].budget" in msg


def test_wrong_type_is_refused(tmp_path):
    msg = _one_line_error(tmp_path, """
        [[policies]]
        name = "financial_oversight"
        enabled = "yes"
    """)
    assert "policies[0].enabled" in msg


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_numeric_parameter_has_a_range_and_is_checked(name):
    """No parameter escapes validation: each number has a declared range, and a value
    below it is refused."""
    cls = REGISTRY[name]
    for key, default in cls.defaults.items():
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        assert key in cls.ranges, f"{name}.{key} has no declared range"
        lo = cls.ranges[key][0]
        if lo is not None:
            from sim.policies.base import policy_from_spec

            with pytest.raises(ScenarioError, match=key):
                policy_from_spec(name, {key: lo - 1}, "x.toml", 0)


def test_policies_combine_in_one_run(baseline):
    combined = _run(tuple(PolicySpec(n, {"start": 2019.25}) for n in (
        "fostering_programme", "financial_oversight", "kinship_allowance")))
    assert len(combined.meta["policies"]) == 3
    assert combined.national["policy_spend"].iloc[-1] > 0
    # The run really changed: a combined reform is not the baseline.
    assert not combined.national["total_spend"].equals(baseline.national["total_spend"])
