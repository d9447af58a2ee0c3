"""Baseline against published figures: full-scale runs, several seeds.

Calibration targets are figures the parameters were tuned to; validation targets are
published figures the model was *not* tuned to. Tolerances are stated beside each check
with the reason. The national run is at 1:1 scale because distance depends on how dense
supply is: a 1-in-10 market has 10 times fewer vacancies per LA and places children
further away. Runs go in a process pool (one per seed) to keep the file under ~2 min on
two cores.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from sim.data import load_national
from sim.model import CareMarketModel

SEEDS = (1, 2, 3)
YEARS = 10  # 31 March 2019 -> 31 March 2029: published figures to 2025, then no drift


def _run(seed: int) -> dict:
    result = CareMarketModel(None, seed=seed, scale=1.0).run(years=YEARS)
    n = result.national
    annual = result.annual_national().set_index("year")
    at = {round(y): row for y, row in zip(n["year"] - 0.25, n.itertuples(), strict=True)}
    last = n.iloc[-1]
    return {
        "stock": {y: int(annual.loc[y, "children_in_care"]) for y in annual.index},
        "starts": {y: int(annual.loc[y, "starts"]) for y in annual.index},
        "ceased": {y: int(annual.loc[y, "ceased"]) for y in annual.index},
        "three_plus": {y: float(annual.loc[y, "share_3plus_placements"]) for y in annual.index},
        "siblings": {y: float(annual.loc[y, "share_siblings_separated"])
                     for y in annual.index},
        "age_mix": {k: float(annual.loc[2023, f"share_age_{k}"])
                    for k in ("under_1", "1_4", "5_9", "10_15", "16_17")},
        "far": float(n["share_far_20_miles"].iloc[52:].mean()),
        "outside": float(n["share_outside_la"].iloc[52:].mean()),
        # at each 31 March snapshot (every 52 weeks, as the annual table)
        "far_at": {y: float(n["share_far_20_miles"].iloc[52 * (y - 2019)])
                   for y in range(2021, 2019 + YEARS + 1)},
        "outside_at": {y: float(n["share_outside_la"].iloc[52 * (y - 2019)])
                       for y in range(2021, 2019 + YEARS + 1)},
        "homes": {y: int(at[y].homes_open) for y in at},
        # DfE year ending 31 March y: the 52 weeks before that snapshot
        "margin_homes_year": {2019 + k: float(n["margin_homes"].iloc[52 * k - 51:52 * k + 1]
                                              .mean()) for k in range(1, YEARS + 1)},
        "mix": {y: _mix(at[y]) for y in at},
        "price_home": float(n["mean_price_private_home"].iloc[52:157].mean()),
        "price_ifa": float(n["mean_price_ifa"].iloc[52:157].mean()),
        "margin_homes": float(n["margin_homes"].iloc[52:157].mean()),
        "margin_ifa": float(n["margin_ifa"].iloc[52:157].mean()),
        "foster_households": (int(n["foster_households"].iloc[0]), int(last.foster_households)),
        "median_foster": float(annual.loc[2023, "median_distance_foster"]),
        "median_homes": float(annual.loc[2023, "median_distance_homes"]),
        "homes_far": float(annual.loc[2024, "share_homes_far_20_miles"]),
    }


def _mix(row) -> dict[str, float]:
    """Placement shares of all children in care at a 31 March snapshot."""
    n = row.children_in_care
    return {"homes": (row.n_private_home + row.n_la_home) / n,
            "residential": (row.n_private_home + row.n_la_home + row.n_supported) / n,
            "foster": (row.n_kinship + row.n_la_foster + row.n_ifa_foster) / n,
            "kinship": row.n_kinship / n, "with_parents": row.n_with_parents / n}


@pytest.fixture(scope="module")
def runs() -> list[dict]:
    context = multiprocessing.get_context("forkserver")  # no fork of a threaded process
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        return list(pool.map(_run, SEEDS))


@pytest.fixture(scope="module")
def published():
    return load_national()


def _mean(runs, key, sub=None):
    values = [r[key] if sub is None else r[key][sub] for r in runs]
    return float(np.mean(values))


def _share(runs, year, kind):
    """Mean over seeds of a placement share at 31 March ``year``."""
    return float(np.mean([r["mix"][year][kind] for r in runs]))


# -- calibration targets ---------------------------------------------------------------
def test_stock_follows_the_published_series(runs, published):
    # +-7%: the published stock is a revised series that is not always starts minus
    # ceasings, and the model has no pandemic dip in ceasings (2021); 2025 starts are an
    # estimate. Through 2025, the last published year, so a drift after 2023 is caught.
    for year in (2020, 2021, 2022, 2023, 2024, 2025):
        target = published.cla_stock[year]
        assert _mean(runs, "stock", year) == pytest.approx(target, rel=0.07), year


def test_starts_and_ceasings_match_published_flows(runs, published):
    # Starts +-8% (Poisson entries, published 2020-24); ceasings +-12% (exit hazards are
    # fixed by age, while published ceasings fell in the pandemic and rose with older
    # starts). The 2020-21 starts and 2025 ceasings are unverified (sim/data/national.toml).
    for year in (2020, 2021, 2022, 2023, 2024):
        assert _mean(runs, "starts", year) == pytest.approx(published.starts[year],
                                                            rel=0.08), year
    for year in (2022, 2023, 2024, 2025):
        assert _mean(runs, "ceased", year) == pytest.approx(published.ceasings[year],
                                                            rel=0.12), year


def test_three_or_more_placements_near_ten_percent(runs):
    # DfE: 10% every year 2019-2024. +-2 points: breakdown rates were tuned on one seed.
    for year in (2021, 2022, 2023):
        assert 0.08 <= _mean(runs, "three_plus", year) <= 0.12, year


def test_siblings_separated_near_37_percent(runs):
    # CCo: 37%. +-10 points: few sibling groups per LA make this measure noisy. Every
    # 31 March from 2021, so a drift (separated groups never reunited) is caught.
    for year in (2021, 2022, 2023, 2024, 2025):
        assert 0.27 <= _mean(runs, "siblings", year) <= 0.47, year


def test_childrens_homes_grow_as_published(runs, published):
    # Ofsted: 2,304 homes (2019) -> 2,880 (2023). +-10% on the 2023 count.
    assert _mean(runs, "homes", 2019) == pytest.approx(2_304, rel=0.02)
    assert _mean(runs, "homes", 2023) == pytest.approx(2_880, rel=0.10)


def test_placement_mix_after_burn_in(runs, published):
    # DfE 2022 and 2023: secure units, children's homes and semi-independent living 16%
    # and 17% (the model's homes plus supported accommodation); foster care 71% in 2022,
    # with the 6% DfE does not itemise placed as fostered in the model (docs/ODD.md);
    # with parents 7%. +-3 points, +-2 for with parents: the 2019 mix is seeded by LA, so
    # these check that entries, moves and exits keep it.
    for year, key in ((2022, "placement_mix_2022"), (2023, "placement_mix_2023")):
        target = getattr(published, key).value["secure_homes_semi_independent"]
        assert abs(_share(runs, year, "residential") - target) <= 0.03, year
    mix_2022 = published.placement_mix_2022.value
    assert abs(_share(runs, 2022, "foster") - (mix_2022["foster"] + 0.06)) <= 0.03
    assert abs(_share(runs, 2022, "with_parents") - mix_2022["with_parents"]) <= 0.02
    # 1 September 2024 (FOI survey of 150 LAs, not DfE): children's homes 11.4%, kinship
    # foster 15.6%; read at 31 March 2024, +-2.5 points.
    foi = published.placement_mix_2024_foi.value
    assert abs(_share(runs, 2024, "homes") - foi["childrens_homes"]) <= 0.025
    assert abs(_share(runs, 2024, "kinship") - foi["kinship_foster"]) <= 0.025


def test_prices_and_margins_near_cma(runs):
    # CMA: homes ~£3,830-4,200/week, IFA ~£820/week; margins 23% and 19% (2016-20).
    # Prices +-10%; margins over 2020-21 within 8 points (entry erodes them later).
    assert 3_450 <= _mean(runs, "price_home") <= 4_600
    assert 740 <= _mean(runs, "price_ifa") <= 900
    assert abs(_mean(runs, "margin_homes") - 0.23) <= 0.08
    assert abs(_mean(runs, "margin_ifa") - 0.19) <= 0.08


def test_childrens_home_market_holds_after_2024(runs):
    # No published margins after the CMA's 2016-20 (19-23%, with homes being added all
    # the while). The children's-home market must neither collapse (before entry waited
    # for a hurdle margin and complex needs could emerge in care, margins fell to 2-5% in
    # 2026-29 and failures cut homes by a fifth) nor run away: each year's mean margin
    # 2025-29 within 8-35%, and homes in 2029 within 10% below to 30% above 2024's.
    for year in range(2025, 2019 + YEARS + 1):
        assert 0.08 <= _mean(runs, "margin_homes_year", year) <= 0.35, year
    homes_2024 = _mean(runs, "homes", 2024)
    assert 0.9 * homes_2024 <= _mean(runs, "homes", 2029) <= 1.3 * homes_2024
    # ... and the children's-home share of children in care stays within 2 points.
    assert abs(_share(runs, 2029, "homes") - _share(runs, 2024, "homes")) <= 0.02


def test_foster_households_decline_slowly(runs):
    # Ofsted: mainstream households fell about 1.3% a year 2021-22 to 2024-25.
    first, last = np.mean([r["foster_households"] for r in runs], axis=0)
    yearly = (last / first) ** (1 / YEARS) - 1
    assert -0.035 <= yearly <= 0.0


def test_distance_calibration(runs):
    # DfE: 20-22% placed > 20 miles (2019-2024); 41% outside own LA (2019). The match
    # probability and carers living across boundaries were tuned to these. +-5/+-7 points.
    assert abs(_mean(runs, "far") - 0.21) <= 0.05
    assert abs(_mean(runs, "outside") - 0.41) <= 0.07


def test_distance_does_not_drift(runs):
    # DfE: the share > 20 miles was 20-22% every year 2019-2024, and 41% were outside
    # their LA in 2019, with no sign of a trend. Each 31 March 2021-2025 within the same
    # bands, so a drift after the calibration period is caught.
    for year in (2021, 2022, 2023, 2024, 2025):
        assert abs(_mean(runs, "far_at", year) - 0.21) <= 0.05, year
        assert abs(_mean(runs, "outside_at", year) - 0.41) <= 0.07, year


# -- validation targets (not tuned to) -------------------------------------------------
def test_median_distances_validation(runs):
    # DfE 2015: median 5.5 miles in foster care, 17.8 miles in secure units and children's
    # homes. Wide bands (foster 3-9, homes 10-30 miles): an older year, and the model has
    # no secure units.
    assert 3.0 <= _mean(runs, "median_foster") <= 9.0
    assert 10.0 <= _mean(runs, "median_homes") <= 30.0


def test_children_in_homes_placed_far_validation(runs):
    # DfE 2024: 49% of children in children's homes or secure units > 20 miles (+-15).
    assert abs(_mean(runs, "homes_far") - 0.49) <= 0.15


AGE_BANDS = {"under_1": "under_1", "1_4": "age_1_4", "5_9": "age_5_9", "10_15": "age_10_15",
             "16_17": "age_16_plus"}


@pytest.mark.parametrize("band", ["under_1", "1_4", "5_9", "10_15", "16_17"])
def test_age_mix_validation(runs, published, band):
    # DfE 2022 age mix, read at 31 March 2023 (the 2019 stock is seeded with it, so this
    # checks it is kept, not only reproduced). Each band within 5 points. The 16-17 band
    # was a known gap (about 20%) until starts took DfE's published share aged 16+ from
    # 2023 (demand.starts_aged_16_17); it is now about 22%.
    target = published.age_mix_2022.value[AGE_BANDS[band]]
    assert abs(_mean(runs, "age_mix", band) - target) <= 0.05
