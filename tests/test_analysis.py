"""Measures, sensitivity analysis (SALib), calibration and parameter files, at tiny scale."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.errors import ScenarioError, SimInputError

TINY = {"only_las": ["E08000001"], "scale": 0.2, "years": 0.3, "seeds": [1]}


def test_measures(small_run) -> None:
    from sim.measures import measure, measures

    _, result = small_run
    last = result.national.iloc[-1]
    assert measure(result, "children_in_care") == last["children_in_care"]
    assert measure(result, "children_in_care_england") == pytest.approx(
        last["children_in_care"] / 0.01)
    shares = [measure(result, g) for g in ("foster_share", "residential_share",
                                           "with_parents_share", "adoption_share")]
    assert 0.5 < shares[0] < 1 and sum(shares) <= 1.0 + 1e-9
    assert measure(result, "starts_per_year") > 0
    assert set(measures(result, ["sufficiency", "share_ifa_foster"])) == {
        "sufficiency", "share_ifa_foster"}
    with pytest.raises(SimInputError, match="unknown measure"):
        measure(result, "happiness")


def test_overrides_merge_table_entries() -> None:
    from sim.sampling import overrides_for
    from sim.scenario import Scenario

    base = Scenario()
    out = overrides_for(base, ["stability.breakdown_rate.la_foster", "matching.candidates"],
                        [0.3, 6.4])
    rates = out["stability.breakdown_rate"]
    assert rates["la_foster"] == 0.3 and rates["ifa_foster"] == base.stability.breakdown_rate[
        "ifa_foster"]
    assert out["matching.candidates"] == 6
    with pytest.raises(SimInputError, match="unknown field"):
        overrides_for(base, ["matching.nothing"], [1.0])


def test_sensitivity_morris(tmp_path) -> None:
    from sim.sensitivity import SensitivitySpec, run_sensitivity

    spec = SensitivitySpec.from_dict({
        **TINY, "name": "t", "method": "morris", "samples": 2,
        "outcomes": ["share_far_20_miles", "foster_share"],
        "parameters": {"matching.match_probability": [0.2, 0.6],
                       "stability.breakdown_rate.la_foster": [0.2, 0.5]}})
    res = run_sensitivity(spec, tmp_path, executor="inprocess")
    assert res.runs == 2 * 3
    t = res.indices
    assert set(t["parameter"]) == set(spec.space.names)
    assert set(t["outcome"]) == {"share_far_20_miles", "foster_share"}
    assert (t["mu_star"] >= 0).all() and t["mu_star"].notna().all()
    for name in ("indices.csv", "samples.csv", "indices.png", "sensitivity.json"):
        assert (tmp_path / name).exists()


def test_sensitivity_sobol_in_parallel(tmp_path) -> None:
    from sim.sensitivity import SensitivitySpec, run_sensitivity

    spec = SensitivitySpec.from_dict({
        **TINY, "years": 0.1, "method": "sobol", "samples": 2, "outcomes": ["sufficiency"],
        "parameters": {"matching.match_probability": [0.2, 0.6]}})
    res = run_sensitivity(spec, tmp_path, executor="pool", workers=2)
    assert res.runs == 2 * 3
    assert {"S1", "ST", "S1_conf", "ST_conf"} <= set(res.indices.columns)


def test_common_random_numbers() -> None:
    """The same point on the same seeds gives the same values (in any executor)."""
    from sim.sampling import Evaluator, ParameterSpace, RunPlan

    plan = RunPlan(seeds=(1, 2), years=0.1, scale=0.2, only_las=("E08000001",),
                   outcomes=("children_in_care", "sufficiency"))
    space = ParameterSpace(("matching.match_probability",), ((0.2, 0.6),))
    with Evaluator(space, plan, "inprocess") as ev:
        a = ev.evaluate(np.array([[0.3], [0.3]]))
    pd.testing.assert_series_equal(a.iloc[0], a.iloc[1], check_names=False)


@pytest.mark.parametrize(("spec", "message"), [
    ({"method": "fast"}, "method"),
    ({"method": "sobol", "samples": 3}, "power of 2"),
    ({"outcomes": []}, "outcomes"),
    ({"parameters": {"matching.match_probability": [0.6, 0.2]}}, "lo < hi"),
    ({"parameters": {"matching.match_probability": [0.0, 0.5]}}, "out of range"),
    ({"parameters": {"nothing.x": [0, 1]}}, "unknown group"),
    ({"colour": "red"}, "unknown field"),
])
def test_sensitivity_spec_errors(spec, message) -> None:
    from sim.sensitivity import SensitivitySpec

    base = {**TINY, "outcomes": ["sufficiency"],
            "parameters": {"matching.match_probability": [0.2, 0.6]}}
    with pytest.raises(SimInputError, match=message):
        SensitivitySpec.from_dict({**base, **spec})


def test_calibrate_writes_usable_parameter_file(tmp_path, write_toml) -> None:
    from sim.calibrate import CalibrationSpec, calibrate, loss
    from sim.scenario import load_scenario, parameter_overrides

    spec = CalibrationSpec.from_dict({
        **TINY, "name": "t", "design_points": 3, "refine_evaluations": 2,
        "parameters": {"matching.match_probability": [0.2, 0.6],
                       "stability.breakdown_rate.ifa_foster": [0.2, 0.6]},
        "targets": [{"measure": "share_outside_la", "figure": "distance.outside_la_2019"},
                    {"measure": "share_far_20_miles", "figure": "distance.over_20_miles",
                     "key": "2019", "weight": 2.0}]})
    assert spec.targets[0].value == 0.41 and spec.targets[1].value == 0.20
    res = calibrate(spec, tmp_path, executor="inprocess")
    assert res.best_loss <= res.default_loss + 1e-12
    assert res.best_loss == pytest.approx(min(res.history["loss"]))
    assert set(res.history["stage"]) >= {"default", "design", "refine"}
    assert len(res.fit) == 2 and math.isfinite(res.fit["calibrated"].iloc[0])
    assert loss({"share_outside_la": 0.41, "share_far_20_miles": 0.2}, spec.targets) == 0
    # The parameter file works in a scenario (scenario values win) and with --params.
    file = tmp_path / "calibrated.toml"
    over = parameter_overrides(file)
    assert over["matching.match_probability"] == pytest.approx(
        res.best["matching.match_probability"], rel=1e-5)
    sc = load_scenario(write_toml(f'parameters = "{file}"\n[matching]\ncandidates = 5\n'
                                  '[stability.breakdown_rate]\nkinship = 0.2\n'))
    assert sc.matching.match_probability == pytest.approx(over["matching.match_probability"])
    assert sc.matching.candidates == 5
    rates = sc.stability.breakdown_rate
    assert rates["kinship"] == 0.2
    assert rates["ifa_foster"] == pytest.approx(over["stability.breakdown_rate"]["ifa_foster"])


def test_parameter_file_errors(tmp_path, write_toml) -> None:
    from sim.scenario import load_scenario, read_parameters

    bad = tmp_path / "bad.toml"
    bad.write_text("[matching]\nmatch_probability = 7\n")
    with pytest.raises(ScenarioError, match="out of range"):
        read_parameters(bad)
    bad.write_text("name = 'x'\n")
    with pytest.raises(ScenarioError, match="not a parameter group"):
        read_parameters(bad)
    with pytest.raises(ScenarioError, match="no such parameter file"):
        load_scenario(write_toml('parameters = "missing.toml"\n'))


def test_calibrate_target_errors() -> None:
    from sim.calibrate import CalibrationSpec

    base = {**TINY, "parameters": {"matching.match_probability": [0.2, 0.6]}}
    with pytest.raises(SimInputError, match="at least one"):
        CalibrationSpec.from_dict(base)
    with pytest.raises(SimInputError, match="estimate"):
        CalibrationSpec.from_dict({**base, "targets": [
            {"measure": "mean_price_ifa", "figure": "unit_costs.inhouse_foster_weekly",
             "key": "low"}]})
    with pytest.raises(SimInputError, match="give figure"):
        CalibrationSpec.from_dict({**base, "targets": [{"measure": "sufficiency"}]})
