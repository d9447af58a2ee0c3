"""Checks on the packaged calibration data (sim/data) against the published figures.

Each test compares the per-LA table with an independent national publication, or checks
that a malformed file fails loudly, so a bad edit to the data cannot pass unnoticed.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources
from pathlib import Path

import pytest

from sim.data import (
    PLACEMENT_CATEGORIES,
    CalibrationDataError,
    Figure,
    FigureGroup,
    la_figures_by_code,
    load_la_figures,
    load_national,
)
from sim.data.calibration import _load_la_figures_from, _load_national_from

ONS_CODE = re.compile(r"^E(06|08|09|10)\d{6}$")

GREATER_MANCHESTER = {"Bolton", "Bury", "Manchester", "Oldham", "Rochdale", "Salford",
                      "Stockport", "Tameside", "Trafford", "Wigan"}


def _text(name: str) -> str:
    return (resources.files("sim.data") / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------
# Per-LA table
# ---------------------------------------------------------------------------------------


def test_152_authorities_with_unique_codes() -> None:
    las = load_la_figures()
    assert len(las) == 152
    ons = [la.ons_code for la in las]
    assert len(set(ons)) == 152
    assert all(ONS_CODE.match(code) for code in ons)
    dfe = [la.dfe_la_code for la in las]
    assert len(set(dfe)) == 152
    assert all(re.fullmatch(r"\d{3}", code) for code in dfe)
    assert set(la_figures_by_code()) == set(ons)


def test_region_counts() -> None:
    # On the 2021 geography of the table: East Midlands has 10 (Northamptonshire split
    # into North and West in 2021) and South West 15 (Bournemouth and Poole merged into
    # BCP in 2019, Isles of Scilly counted separately); DfE names the region
    # "Yorkshire and Humber". The 2019 geography had East Midlands 9, South West 16.
    counts = Counter(la.region for la in load_la_figures())
    assert counts == {
        "North East": 12,
        "North West": 23,
        "Yorkshire and Humber": 15,
        "East Midlands": 10,
        "West Midlands": 14,
        "East of England": 11,
        "London": 33,
        "South East": 19,
        "South West": 15,
    }


def test_children_looked_after_sum_to_published_national_total() -> None:
    published = load_national().cla_stock[2019]
    assert published == 78_150
    total = sum(la.cla_2019 for la in load_la_figures())
    assert total == pytest.approx(published, rel=0.005)  # actual 78,153


def test_uasc_sum_consistent_with_published_total_given_suppression() -> None:
    # 24 LAs have UASC suppressed (1 to 5 children each) and the national figure is
    # rounded to the nearest 10, so the known cells must lie within
    # [published - 5 * suppressed - 5, published + 5]. Actual: 5,005 known.
    published = load_national().uasc.stock[2019]
    las = load_la_figures()
    known = sum(la.uasc for la in las if la.uasc is not None)
    suppressed = sum(la.uasc is None for la in las)
    assert suppressed == 24
    assert published - 5 * suppressed - 5 <= known <= published + 5
    # Imputing the midpoint (3) for each suppressed cell lands within 1% of the total.
    assert known + 3 * suppressed == pytest.approx(published, rel=0.01)


def test_rates_match_counts() -> None:
    for la in load_la_figures():
        computed = 1e4 * la.cla_2019 / la.child_pop_0_17
        assert abs(computed - la.cla_rate_per_10k) <= 0.5, la.name


def test_placement_mix_matches_published_2019_mix() -> None:
    las = load_la_figures()
    children = sum(la.cla_2019 for la in las)
    filled = Counter[str]()
    for la in las:
        for col, n in la.filled_placements().items():
            filled[col] += n
    share = {col: n / children for col, n in filled.items()}
    published = load_national().placement_mix_2019
    # Like for like: each published share is one DfE column of the table.
    assert share["placed_foster"] == pytest.approx(published["foster"], abs=0.015)
    assert share["placed_secure_homes_hostels"] == pytest.approx(
        published["secure_homes_semi_independent"], abs=0.015)
    assert share["placed_with_parents"] == pytest.approx(published["with_parents"], abs=0.015)
    assert share["placed_for_adoption"] == pytest.approx(
        published["placed_for_adoption"], abs=0.015)
    # The model's "residential" adds two columns the published mix leaves unitemised
    # (7% together with other placements), so it lies between 12% and 12% + 7%.
    mix = Counter[str]()
    for la in las:
        for cat, s in la.placement_mix().items():
            mix[cat] += s * la.cla_2019 / children
    unitemised = 1 - sum(published.value.values())  # type: ignore[union-attr]
    assert published["secure_homes_semi_independent"] <= mix["residential"]
    assert mix["residential"] <= published["secure_homes_semi_independent"] + unitemised
    assert mix["foster"] == pytest.approx(published["foster"], abs=0.015)


def test_each_la_placement_mix_is_a_distribution() -> None:
    for la in load_la_figures():
        mix = la.placement_mix()
        assert tuple(mix) == PLACEMENT_CATEGORIES
        assert sum(mix.values()) == pytest.approx(1.0, abs=1e-9), la.name
        assert min(mix.values()) >= 0.0, la.name


def test_filled_placements_keep_known_cells_and_reach_the_total() -> None:
    for la in load_la_figures():
        filled = la.filled_placements()
        for col, n in filled.items():
            known = getattr(la, col)
            if known is not None:
                assert n == known, (la.name, col)
        if la.suppressed_placements():
            assert sum(filled.values()) == pytest.approx(la.cla_2019), la.name


def test_suppressed_cells_are_filled_in_proportion_to_national_shares() -> None:
    la = la_figures_by_code()["E06000002"]  # Middlesbrough: other_residential, community
    assert set(la.suppressed_placements()) == {"placed_other_residential",
                                               "placed_other_community"}
    weights = dict.fromkeys(la.filled_placements(), 0.0)
    weights |= {"placed_other_residential": 1.0, "placed_other_community": 3.0}
    filled = la.filled_placements(weights)
    remainder = la.cla_2019 - sum(getattr(la, c) or 0 for c in filled)
    assert remainder == 13
    assert filled["placed_other_residential"] == pytest.approx(13 / 4)
    assert filled["placed_other_community"] == pytest.approx(13 * 3 / 4)


def test_reorganised_authorities_get_dfe_codes() -> None:
    by_code = la_figures_by_code()
    assert by_code["E06000058"].dfe_la_code == "839"
    assert by_code["E06000062"].dfe_la_code == "941"
    assert by_code["E08000003"].dfe_la_code == "352"  # Manchester, as published


# ---------------------------------------------------------------------------------------
# National figures
# ---------------------------------------------------------------------------------------


def test_every_figure_has_source_unit_and_period() -> None:
    figures = load_national().all()
    assert len(figures) > 80
    for fig in figures:
        assert isinstance(fig, Figure)
        assert fig.source.strip() and fig.unit.strip() and fig.period.strip(), fig.name
        assert "README" not in fig.source and "/work" not in fig.source, fig.name
        if fig.unit == "share":
            values = fig.value.values() if isinstance(fig.value, dict) else [fig.value]
            assert all(0 <= v <= 1 for v in values), fig.name


def test_estimates_are_flagged() -> None:
    national = load_national()
    assert {f.name for f in national.estimates()} == {
        "unit_costs.inhouse_foster_weekly",
        "unit_costs.la_childrens_home_weekly",
        "unit_costs.unregistered_weekly",
    }
    assert national.unit_costs.inhouse_foster_weekly.value == {"low": 450.0, "high": 600.0}
    assert not national.cla_stock.estimate


def test_national_series_and_groups() -> None:
    national = load_national()
    assert national.cla_stock.value == {
        "2019": 78150, "2020": 80000, "2021": 80780, "2022": 82090,
        "2023": 83760, "2024": 83630, "2025": 81770,
    }
    assert national.starts[2024] == 33_050
    assert national.ceasings[2024] == 33_620
    fostering = national.fostering_2021_22
    assert isinstance(fostering, FigureGroup)
    assert fostering.households_total.scalar() == (
        fostering.households_mainstream.scalar() + fostering.households_family_friends.scalar())
    assert fostering.names() == (
        "households_total", "households_mainstream", "households_family_friends",
        "approved_places", "vacant_places", "households_approved", "households_deregistered",
        "enquiries", "applications")
    assert national.figure("fostering_2021_22.enquiries").scalar() == 138_075


def test_published_counts_and_shares_agree() -> None:
    national = load_national()
    stock = national.cla_stock[2023]
    for key in ("foster", "secure_homes_semi_independent"):
        share = national.placement_counts_2023[key] / stock
        assert share == pytest.approx(national.placement_mix_2023[key], abs=0.005), key
    for name in ("age_mix_2022", "placement_mix_2024_foi", "placement_provider_2019"):
        assert sum(national.figure(name).value.values()) <= 1.01, name  # type: ignore[union-attr]


def test_unknown_figure_name_suggests_a_close_one() -> None:
    with pytest.raises(KeyError, match="cla_stock"):
        load_national().figure("cla_stok")


# ---------------------------------------------------------------------------------------
# Policies as published
# ---------------------------------------------------------------------------------------


def test_greater_manchester_pathfinder() -> None:
    policies = load_national().policies
    by_code = la_figures_by_code()
    members = policies.rcc_pathfinders["greater_manchester"]
    assert len(members) == 10
    assert {by_code[c].name for c in members} == GREATER_MANCHESTER
    assert {by_code[c].region for c in members} == {"North West"}
    assert policies.launch_year_month("greater_manchester") == (2025, 4)


def test_south_east_pathfinder_and_home_and_future() -> None:
    policies = load_national().policies
    by_code = la_figures_by_code()
    south_east = set(policies.rcc_pathfinders["south_east"])
    assert len(south_east) == 19
    assert south_east == {la.ons_code for la in load_la_figures() if la.region == "South East"}
    home_and_future = set(policies.rcc_pathfinders["south_east_home_and_future"])
    assert len(home_and_future) == 15
    out = {by_code[c].name for c in south_east - home_and_future}
    assert out == {"Hampshire", "Kent", "Slough", "Isle of Wight"}
    assert {by_code[c].name for c in policies.rcc_home_and_future_joining} == {"Isle of Wight"}
    assert policies.launch_year_month("south_east") == (2025, 6)


def test_policy_parameters() -> None:
    policies = load_national().policies
    assert policies.rcc_max_las == 20
    assert policies.rcc_revenue_total_gbp == 3_460_000
    assert policies.rcc_capital_each_gbp == 5_000_000
    assert policies.fostering_budget_gbp == 27_000_000
    assert policies.fostering_programme_years == 2
    assert policies.fostering_first_hub_region == "North East"
    assert policies.fostering_nma_uplift == pytest.approx(0.1243)
    assert policies.la_homes_capital_gbp == 259_000_000
    assert policies.la_homes_capital_places == 350
    assert policies.la_homes_capital_deadline == "2025-12"
    assert policies.kinship_support_gbp == 9_000_000
    assert set(policies.rejected_options) == {"price cap", "profit cap", "windfall tax"}


# ---------------------------------------------------------------------------------------
# Malformed files fail loudly, naming the file and the field
# ---------------------------------------------------------------------------------------


def _write_national(tmp_path: Path, old: str, new: str) -> Path:
    text = _text("national.toml")
    assert old in text, old
    path = tmp_path / "broken_national.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('unit = "children"\nperiod = "31 March, 2019 to 2025"', 'period = "31 March, 2019"',
         "figures.cla_stock.unit"),
        ("value = 43905", 'value = "many"', "figures.fostering_2021_22.households_total.value"),
        ("value = 0.13\n", "value = 13\n", "figures.uasc.share_under_16.value"),
        ("value = 0.13\n", "value = 0.13\nsauce = 'x'\n", "figures.uasc.share_under_16.sauce"),
        ('"E08000010", # Wigan', '"E08000010", "E99999999",',
         "policies.rcc_pathfinders.greater_manchester.members"),
        ('launch = "2025-04"', 'launch = "April 2025"',
         "policies.rcc_pathfinders.greater_manchester.launch"),
        ("[figures.starts]", "[figures.startz]", "figures.startz"),
        ("value = 259000000", "value = [259]", "policies.la_homes_capital.budget.value"),
    ],
)
def test_malformed_national_file_names_file_and_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    path = _write_national(tmp_path, old, new)
    with pytest.raises(CalibrationDataError) as err:
        _load_national_from(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    assert field in message


def test_invalid_toml_syntax_names_the_file(tmp_path: Path) -> None:
    path = _write_national(tmp_path, "[figures.starts]", "[figures.starts")
    with pytest.raises(CalibrationDataError, match="not valid TOML") as err:
        _load_national_from(path)
    assert str(path) in str(err.value)


def test_unmodified_copy_loads(tmp_path: Path) -> None:
    path = tmp_path / "national.toml"
    path.write_text(_text("national.toml"), encoding="utf-8")
    assert len(_load_national_from(path).all()) == len(load_national().all())


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("E06000001,805", "X06000001,805", "ons_code"),
        ("E06000001,805,Hartlepool,North East,284", "E06000001,805,Hartlepool,North East,2x4",
         "cla_31mar2019"),
        ("E06000001,805", "E06000001,806", "dfe_la_code"),
        ("cla_rate_per_10k_2019,", "rate,", "header"),
    ],
)
def test_malformed_la_table_names_file_and_field(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    text = _text("la_cla_2019.csv")
    assert old in text
    path = tmp_path / "broken_la.csv"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CalibrationDataError) as err:
        _load_la_figures_from(path)
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and field in message
