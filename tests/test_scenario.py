"""Scenario loading and validation: defaults, ranges, malformed files, round trips.

A scenario is the single source of truth for every parameter, so these tests check that
every parameter is documented and its default allowed, that ``scenarios/baseline.toml``
loads, that every kind of malformed file is refused with a one-line
:class:`ScenarioError` naming the file and the field, and that ``to_dict`` /
``scenario_from_dict`` (and JSON in between) give back the same scenario.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.policies import REGISTRY, Policy
from sim.scenario import (
    GROUPS,
    Scenario,
    describe_parameters,
    load_scenario,
    scenario_from_dict,
)

PARAMS = describe_parameters()
BY_NAME = {row["parameter"]: row for row in PARAMS}


def _kind(name: str) -> type:
    group, field = name.split(".", 1)
    return get_type_hints(type(getattr(Scenario(), group)))[field]


def _values(default: Any) -> list[Any]:
    return list(default.values()) if isinstance(default, dict) else [default]


def _one_line_error(excinfo: pytest.ExceptionInfo, *needles: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ---------------------------------------------------------------------------------------
# Defaults and documentation
# ---------------------------------------------------------------------------------------


def test_defaults_load_and_validate() -> None:
    default = Scenario()
    assert load_scenario(None) == default
    assert default.name == "baseline"
    assert default.only_las == () and default.policies == ()
    assert sum(default.demand.entry_age_mix.values()) == pytest.approx(1.0)
    # An empty file is the defaults (apart from where it came from).
    assert scenario_from_dict({}, "empty.toml").to_dict() == default.to_dict()


def test_every_group_field_is_described_once() -> None:
    names = [row["parameter"] for row in PARAMS]
    assert len(names) == len(set(names))
    expected = [f"{g}.{f.name}" for g in GROUPS
                for f in dataclasses.fields(getattr(Scenario(), g))]
    assert names == expected


@pytest.mark.parametrize("row", PARAMS, ids=[row["parameter"] for row in PARAMS])
def test_parameter_has_unit_or_source_and_default_in_range(row: dict) -> None:
    assert row["unit"].strip() or row["source"].strip(), "neither unit nor source"
    lo, hi = row["range"]
    assert lo is not None and hi is not None, "every parameter needs a range"
    assert lo <= hi
    values = _values(row["default"])
    assert values, "a table parameter needs entries"
    for value in values:
        assert not isinstance(value, bool)
        assert isinstance(value, (int, float)) and math.isfinite(value)
        assert lo <= value <= hi, f"default {value} outside [{lo}, {hi}]"
    if _kind(row["parameter"]) is int:
        assert float(row["default"]).is_integer()


@pytest.mark.parametrize("name", ["start_year", "scale", "record_every_weeks"])
def test_top_level_numbers_have_defaults_in_range(name: str) -> None:
    field = {f.name: f for f in dataclasses.fields(Scenario)}[name]
    lo, hi = field.metadata["lo"], field.metadata["hi"]
    assert lo <= getattr(Scenario(), name) <= hi


def test_baseline_file_loads(repo_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = repo_root / "scenarios" / "baseline.toml"
    scenario = load_scenario(path)
    assert scenario.name == "baseline"
    assert scenario.source_file == str(path)
    # Everything the file does not set takes its default.
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    loaded, default = scenario.to_dict(), Scenario().to_dict()
    for key, value in default.items():
        if key not in written:
            assert loaded[key] == value, key
    # The README's relative form, from the checkout.
    monkeypatch.chdir(repo_root)
    assert load_scenario("scenarios/baseline.toml").to_dict() == loaded


# ---------------------------------------------------------------------------------------
# Malformed files
# ---------------------------------------------------------------------------------------

MALFORMED = {
    "unknown_top_level": ('name = "x"\ncolour = "blue"\n', ["colour"]),
    "unknown_group": ("[pricing]\nifa_cost = 700\n", ["pricing"]),
    "unknown_group_field": ("[prices]\nifa_costs = 700\n", ["prices.ifa_costs"]),
    "unknown_table_key": ("[demand.entry_age_mix]\nunder_2 = 0.2\n",
                          ["demand.entry_age_mix", "under_2"]),
    "out_of_range": ("[prices]\nifa_cost = -1\n", ["prices.ifa_cost", "-1", "out of range"]),
    "out_of_range_top": ("scale = 2.0\n", ["scale", "out of range"]),
    "out_of_range_in_table": ("[stability.breakdown_rate]\nkinship = 11\n",
                              ["stability.breakdown_rate.kinship", "out of range"]),
    "wrong_type_string": ('[prices]\nifa_cost = "cheap"\n', ["prices.ifa_cost", "cheap"]),
    "wrong_type_bool": ("[matching]\ncandidates = true\n", ["matching.candidates"]),
    "wrong_type_fraction": ("[matching]\ncandidates = 2.5\n",
                            ["matching.candidates", "whole number"]),
    "wrong_type_nan": ("[prices]\nifa_cost = nan\n", ["prices.ifa_cost"]),
    "wrong_type_group": ("prices = 3\n", ["prices"]),
    "wrong_type_table": ("[demand]\nentry_age_mix = 0.5\n", ["demand.entry_age_mix"]),
    "wrong_type_name": ("name = 3\n", ["name"]),
    "wrong_type_only_las": ('only_las = "Hartlepool"\n', ["only_las"]),
    "age_mix_not_one": ("[demand.entry_age_mix]\nunder_1 = 0.5\n",
                        ["demand.entry_age_mix", "sum to 1"]),
    "la_homes_exceed_homes": ("[residential]\nla_run_homes_2019 = 3000\n",
                              ["residential.la_run_homes_2019"]),
    "not_toml": ("this is not toml\n", ["not valid TOML"]),
    "unknown_policy": ('[[policies]]\nname = "no_such_reform"\n',
                       ["policies[0]", "no_such_reform"]),
    "policy_without_name": ("[[policies]]\nstart = 2024.0\n", ["policies[0].name"]),
    "policies_not_array": ('policies = "rcc"\n', ["policies"]),
}


@pytest.mark.parametrize(("text", "needles"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_file_is_one_line_error_naming_file_and_field(
        write_toml, text: str, needles: list[str]) -> None:
    path = write_toml(text, "bad_scenario.toml")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    message = _one_line_error(excinfo, str(path), *needles)
    assert message.startswith(f"{path}: ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    _one_line_error(excinfo, str(path), "no such")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00\x81 not text")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    _one_line_error(excinfo, str(path))


class _StandInReform(Policy):
    """A stand-in reform (the registry may be empty while reforms are being written)."""

    name: ClassVar[str] = "stand_in_reform"
    defaults: ClassVar[dict[str, Any]] = {"strength": 1.0}


@pytest.fixture
def reform_name(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(REGISTRY, _StandInReform.name, _StandInReform)
    return _StandInReform.name


@pytest.mark.parametrize(("body", "needles"), [
    ("start = 2024.0\nbogus = 1\n", ["policies[0].bogus"]),
    ('start = "soon"\n', ["policies[0].start", "soon"]),
    ("start = 2024.0\nend = 2023.0\n", ["policies[0].end"]),
])
def test_bad_policy_entries(write_toml, reform_name, body: str, needles: list[str]) -> None:
    path = write_toml(f'[[policies]]\nname = "{reform_name}"\n{body}', "policy.toml")
    with pytest.raises(ScenarioError) as excinfo:
        load_scenario(path)
    _one_line_error(excinfo, str(path), *needles)


def test_good_policy_entry_loads(write_toml, reform_name) -> None:
    path = write_toml(f'[[policies]]\nname = "{reform_name}"\nstart = 2024.0\n'
                      "strength = 2.0\n")
    scenario = load_scenario(path)
    assert [p.name for p in scenario.policies] == [reform_name]
    assert scenario.policies[0].params == {"start": 2024.0, "strength": 2.0}


def test_fraction_for_top_level_whole_number_is_refused(write_toml) -> None:
    path = write_toml("record_every_weeks = 2.5\n", "weeks.toml")
    refused = 0
    try:
        load_scenario(path)
    except ScenarioError:
        refused += 1
    try:
        Scenario().replace(record_every_weeks=2.5)
    except ScenarioError:
        refused += 1
    assert refused == 2


# ---------------------------------------------------------------------------------------
# replace()
# ---------------------------------------------------------------------------------------


def test_replace_changes_only_what_is_named() -> None:
    base = Scenario()
    new = base.replace(**{"prices.ifa_cost": 700.0, "scale": 0.5,
                          "stability.breakdown_rate": {"kinship": 0.2}})
    assert new.prices.ifa_cost == 700.0 and new.scale == 0.5
    # A partial table is merged into the default table.
    assert new.stability.breakdown_rate == {**base.stability.breakdown_rate, "kinship": 0.2}
    assert base.prices.ifa_cost == Scenario().prices.ifa_cost  # the original is untouched
    changed = {k for k, v in new.to_dict().items() if v != base.to_dict()[k]}
    assert changed == {"prices", "scale", "stability"}
    assert new.prices.kinship_foster_cost == base.prices.kinship_foster_cost


@pytest.mark.parametrize(("changes", "needle"), [
    ({"colour": 1}, "colour"),
    ({"pricing.ifa_cost": 1.0}, "pricing"),
    ({"prices.ifa_costs": 1.0}, "prices.ifa_costs"),
    ({"prices.ifa_cost": -1.0}, "prices.ifa_cost"),
    ({"scale": 0.0}, "scale"),
    ({"scale": float("nan")}, "scale"),
    ({"demand.entry_age_mix": {"under_1": 0.9}}, "entry_age_mix"),
])
def test_replace_refuses_bad_changes(changes: dict, needle: str) -> None:
    with pytest.raises(ScenarioError) as excinfo:
        Scenario().replace(**changes)
    _one_line_error(excinfo, needle)


# ---------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------

SCALAR_PARAMS = [row["parameter"] for row in PARAMS if not isinstance(row["default"], dict)]


def _value_in_range(name: str) -> st.SearchStrategy:
    lo, hi = BY_NAME[name]["range"]
    if _kind(name) is int:
        return st.integers(math.ceil(lo), math.floor(hi))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def changed_scenarios(draw) -> Scenario:
    names = draw(st.lists(st.sampled_from(SCALAR_PARAMS), min_size=1, max_size=8, unique=True))
    changes = {name: draw(_value_in_range(name)) for name in names}
    changes["scale"] = draw(st.floats(0.001, 1.0))
    if draw(st.booleans()):
        changes["only_las"] = tuple(draw(st.lists(
            st.sampled_from(["Hartlepool", "E09000033", "805", "Kent"]), max_size=3)))
    try:
        return Scenario().replace(**changes)
    except ScenarioError as err:  # only the cross-field checks may refuse in-range values
        assert "exceeds" in str(err), err
        assume(False)
        raise


def test_default_round_trip() -> None:
    scenario = Scenario()
    assert scenario_from_dict(scenario.to_dict()).to_dict() == scenario.to_dict()
    assert scenario_from_dict(scenario.to_dict()) == dataclasses.replace(
        scenario, source_file="<dict>")


@settings(max_examples=60, deadline=None)
@given(scenario=changed_scenarios())
def test_round_trip_through_dict_and_json(scenario: Scenario) -> None:
    data = scenario.to_dict()
    assert scenario_from_dict(data).to_dict() == data
    via_json = scenario_from_dict(json.loads(json.dumps(data)), "run.json")
    assert via_json.to_dict() == data
    assert via_json == dataclasses.replace(scenario, source_file="run.json")


def test_round_trip_with_policies(reform_name) -> None:
    data = Scenario().to_dict()
    data["policies"] = [{"name": reform_name, "start": 2023.25, "strength": 3.0}]
    scenario = scenario_from_dict(data, "policy.json")
    assert scenario.to_dict() == data
    assert scenario_from_dict(json.loads(json.dumps(scenario.to_dict()))).to_dict() == data


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(SCALAR_PARAMS), above=st.booleans(),
       excess=st.floats(1e-6, 1e6))
def test_any_out_of_range_value_is_refused_naming_the_field(name, above, excess) -> None:
    lo, hi = BY_NAME[name]["range"]
    value = hi + max(excess, abs(hi) * 1e-9) if above else lo - max(excess, abs(lo) * 1e-9)
    assume(value > hi if above else value < lo)
    if _kind(name) is int:
        value = math.ceil(value) if above else math.floor(value)
    group, field = name.split(".", 1)
    with pytest.raises(ScenarioError) as excinfo:
        scenario_from_dict({group: {field: value}}, "ranges.toml")
    _one_line_error(excinfo, "ranges.toml", name, "out of range")
    with pytest.raises(ScenarioError) as excinfo:
        Scenario().replace(**{name: value})
    _one_line_error(excinfo, name)
