"""Real geography: 152 LAs, postcodes mapped through the crosswalk, DfE-style distances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import SimInputError, UnknownLocalAuthority
from sim.geography import (
    DISTRICT_CROSSWALK,
    ENGLAND_GRID_EXTENT,
    distance_miles,
    format_postcode,
    load_geography,
    normalise_postcode,
)


@pytest.fixture(scope="module")
def geo():
    return load_geography()


def test_exactly_152_upper_tier_las(geo):
    assert len(geo.las) == 152
    assert len({la.ons_code for la in geo.las}) == 152
    assert len({la.dfe_code for la in geo.las}) == 152
    assert all(la.ons_code[:3] in {"E06", "E08", "E09", "E10"} for la in geo.las)


def test_nine_regions_with_published_counts(geo):
    # On the 2021 geography: Northamptonshire split in two (East Midlands 10) and
    # Bournemouth + Poole merged into BCP (South West 15).
    counts = {r: len(geo.in_region(r)) for r in geo.regions}
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


def test_every_la_has_postcodes_and_an_english_centroid(geo):
    e_min, e_max, n_min, n_max = ENGLAND_GRID_EXTENT
    for la in geo.las:
        assert la.n_postcodes > 50, la.name  # the smallest, Isles of Scilly, has ~100
        assert e_min <= la.centroid_easting <= e_max, la.name
        assert n_min <= la.centroid_northing <= n_max, la.name
    # Nationally: about 2.2 million English postcodes in the ONS directory.
    assert 2_000_000 < int(geo.offsets[-1]) < 2_600_000


def test_postcodes_sit_in_their_las_block(geo):
    manchester = geo.la("Manchester")
    block = geo.postcode_slice(manchester)
    assert geo.postcodes[block.start : block.stop].tolist().count(b"M11AA") == 1
    _, _, la = geo.locate("M1 1AA")
    assert la.ons_code == "E08000003"


@pytest.mark.parametrize(
    ("a", "b", "miles"),
    [
        # Worked by hand from the ONS grid references (metres):
        # M1 1AA (385022, 398985), M1 1AD (383849, 398594): sqrt(1173^2 + 391^2) = 1236.45 m
        ("M1 1AA", "M1 1AD", 0.7683),
        # SW1A 2AA (530047, 179951) to M1 1AA: sqrt(145025^2 + 219034^2) = 262694.0 m
        ("SW1A 2AA", "M1 1AA", 163.232),
        # NE1 4LP (424492, 565134) to LS1 4AP (429363, 433330): sqrt(4871^2 + 131804^2)
        ("NE1 4LP", "LS1 4AP", 81.955),
    ],
)
def test_hand_checked_distances(geo, a, b, miles):
    assert geo.postcode_distance_miles(a, b) == pytest.approx(miles, abs=0.1)
    assert geo.postcode_distance_miles(b, a) == pytest.approx(miles, abs=0.1)


def test_distance_is_vectorised():
    d = distance_miles(np.array([0.0, 0.0]), np.array([0.0, 0.0]), 1609.344, np.array([0.0, 0.0]))
    assert d.shape == (2,)
    assert np.allclose(d, 1.0)


@given(
    st.tuples(*[st.floats(0, 700_000, allow_nan=False)] * 4),
    st.tuples(*[st.floats(0, 700_000, allow_nan=False)] * 2),
)
def test_distance_is_a_metric(points, third):
    e1, n1, e2, n2 = points
    e3, n3 = third
    d12 = float(distance_miles(e1, n1, e2, n2))
    assert d12 >= 0
    assert d12 == pytest.approx(float(distance_miles(e2, n2, e1, n1)))
    assert d12 <= float(distance_miles(e1, n1, e3, n3) + distance_miles(e3, n3, e2, n2)) + 1e-9


def test_crosswalk_codes_resolve(geo):
    # Each 2023-24 district code maps to an upper-tier LA that is in the 152 and has postcodes.
    for district, utla in DISTRICT_CROSSWALK.items():
        la = geo.la(utla)
        assert la.n_postcodes > 0, district
    # Postcodes in the new Cumberland district (CA, e.g. Carlisle) land in Cumbria.
    _, _, la = geo.locate("CA3 8QG")
    assert la.name == "Cumbria"


def test_lookup_by_code_dfe_code_or_name(geo):
    assert geo.la("E08000003").name == "Manchester"
    assert geo.la("352").name == "Manchester"
    assert geo.la("manchester").ons_code == "E08000003"


def test_unknown_la_names_it_and_suggests(geo):
    with pytest.raises(UnknownLocalAuthority) as err:
        geo.la("Manchestre")
    message = str(err.value)
    assert "Manchestre" in message and "'Manchester'" in message
    assert "\n" not in message


def test_unknown_region_lists_the_nine(geo):
    with pytest.raises(SimInputError, match="London"):
        geo.in_region("Wessex")


def test_unknown_postcode_is_one_line(geo):
    with pytest.raises(SimInputError, match="ZZ99"):
        geo.locate("ZZ99 9ZZ")


def test_sampler_is_seeded_and_stays_in_la(geo):
    la = geo.la("Cornwall")
    a = geo.sample_postcodes(la, 200, np.random.default_rng(7))
    b = geo.sample_postcodes(la, 200, np.random.default_rng(7))
    assert np.array_equal(a.index, b.index)
    block = geo.postcode_slice(la)
    assert ((a.index >= block.start) & (a.index < block.stop)).all()
    assert all(geo.postcode(int(i)).startswith(("TR", "PL", "EX")) for i in a.index)


@settings(max_examples=30)
@given(st.text(alphabet="ab1 2", min_size=3, max_size=8))
def test_postcode_normal_form_round_trips(text):
    key = normalise_postcode(text)
    assert " " not in key
    if len(key) > 3:
        assert normalise_postcode(format_postcode(key)) == key
