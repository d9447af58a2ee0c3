"""The starting supply of care in 2019: foster households, children's homes and providers.

Foster households are spread across LAs in proportion to each LA's fostered children;
a share of carers live across the boundary in a neighbouring LA. LA carers belong to
their LA's service, IFA carers to an agency (a few large groups, many small agencies).
Private children's homes are sited where running a home is cheap rather than where
children come from, as the CMA found; LA-run homes sit in their own LA. Every home and
household is at a real postcode.
"""

from __future__ import annotations

import bisect
import functools
from typing import TYPE_CHECKING

import numpy as np

from sim.agents.foster_household import FosterHousehold
from sim.agents.provider import ChildrensHome, Provider, SupportedHome
from sim.types import PlacementType, Sector

if TYPE_CHECKING:
    from sim.model import CareMarketModel

PLACES_DIST = (np.array([1, 2, 3, 4]), np.array([0.45, 0.40, 0.12, 0.03]))
SIBLING_PLACES_P = np.array([0.0, 0.0, 0.8, 0.2])  # carers recruited for sibling groups
SUPPORTED_UNIT_PLACES = 6
N_IFAS_ENGLAND = 318  # Ofsted, Fostering in England 2024-25: 318 IFA services
N_LARGE_IFA_GROUPS = 7  # Ofsted 2022: 7 largest IFA groups hold 59% of private IFA places
LARGE_IFA_SHARE = 0.59


def stochastic_round(rng: np.random.Generator, x: np.ndarray | float) -> np.ndarray:
    """Round so that the expected value is preserved (keeps small-scale runs unbiased)."""
    x = np.asarray(x, dtype=float)
    base = np.floor(x)
    return (base + (rng.random(x.shape) < (x - base))).astype(int)


@functools.cache
def _places_cdf(sibling: float) -> list[float]:
    """Cumulative distribution of a new household's places, given the share recruited
    for sibling groups."""
    p = PLACES_DIST[1] if sibling <= 0 else (
        (1 - sibling) * PLACES_DIST[1] + sibling * SIBLING_PLACES_P)
    return np.cumsum(p).tolist()


def approval_range(rng: np.random.Generator, teen_share: float) -> tuple[float, float]:
    """Ages a new mainstream household is approved for."""
    u = rng.random()
    if u < teen_share * 0.55:
        return 0.0, 18.0
    if u < teen_share:
        return 11.0, 18.0
    return 0.0, 11.0


def _neighbours(model: CareMarketModel, la: int) -> list[int]:
    """Other LAs within 25 miles of ``la`` (cached: asked once per approval)."""
    cache: dict[int, list[int]] = model.__dict__.setdefault("_carer_neighbours", {})
    if la not in cache:
        d = model.la_distance[la]
        cache[la] = np.flatnonzero((d < 25.0) & (d > 0)).tolist()
    return cache[la]


def new_foster_household(model: CareMarketModel, ptype: PlacementType, service, la: int,
                         rng: np.random.Generator, places: int | None = None) -> FosterHousehold:
    """Approve one household (mainstream, or kinship for ``places`` children).

    It serves ``la``; with ``carers_outside_la_share`` it lives in a neighbouring LA
    within about 25 miles, at a real postcode there.
    """
    f = model.scenario.fostering
    home_la = la
    if rng.random() < f.carers_outside_la_share:
        # Carers often live across the boundary: a neighbouring LA within ~25 miles.
        near = _neighbours(model, la)
        if near:
            home_la = near[int(rng.integers(len(near)))]
    pc_index, east, north = model.geography.sample_postcode(home_la, rng)
    teen, sibling, complex_ = f.teen_approved_share, 0.0, f.complex_approved_share
    recruitment = getattr(model, "recruitment", None)  # None while the 2019 stock is built
    if recruitment is not None and ptype != PlacementType.KINSHIP:
        # Recruitment targeted at shortage groups (pipeline levers; 0 at baseline).
        lv, region = recruitment.levers, model.geography.las[la].region
        in_house = ptype == PlacementType.LA_FOSTER
        teen = min(teen + lv.value("targeted_teen_share", region, in_house), 1.0)
        sibling = min(lv.value("targeted_sibling_share", region, in_house), 1.0)
        complex_ = complex_ + lv.value("targeted_complex_share", region, in_house)
    if places is None:
        # Inverse-CDF draw (what rng.choice does, without its per-call overhead).
        places = 1 + min(bisect.bisect_right(_places_cdf(sibling), rng.random()), 3)
    lo, hi = approval_range(rng, teen)
    hh = FosterHousehold(
        model, ptype, service, la if ptype == PlacementType.LA_FOSTER else home_la,
        pc_index, east, north, places, 0.0, lo, hi, bool(rng.random() < complex_),
    )
    hh.location_la = home_la
    # Some vacancies are not usable (carer on a break, approval under review).
    hh.blocked = int(rng.binomial(places, model.unusable_place_probability))
    model.register_setting(hh)
    return hh


def build_fostering(model: CareMarketModel, rng: np.random.Generator) -> None:
    """LA in-house and IFA mainstream households, sized to Ofsted's 2019-22 figures."""
    f = model.scenario.fostering
    weight = model.la_table["foster_demand"]
    n_total = f.mainstream_households * model.scenario.scale * model.share["foster"]
    la_counts = stochastic_round(rng, n_total * f.la_share_of_mainstream * weight / weight.sum())
    for la in model.active_las:
        for _ in range(la_counts[la]):
            new_foster_household(model, PlacementType.LA_FOSTER, la, la, rng)
    # IFAs: a few large groups (59% of places) and many small agencies, each in a region.
    n_ifa_households = n_total * (1 - f.la_share_of_mainstream)
    regions = sorted({model.geography.las[i].region for i in model.active_las})
    region_weight = np.array([sum(weight[i] for i in model.active_las
                                  if model.geography.las[i].region == r) for r in regions])
    region_weight = region_weight / region_weight.sum()
    n_small = max(1, round((N_IFAS_ENGLAND - N_LARGE_IFA_GROUPS) * model.scenario.scale
                           * model.share["foster"]))
    p = model.scenario.prices
    markup = p.ifa_markup
    large = [Provider(model, "ifa", Sector.PRIVATE, "England", 0.0, 0.0,
                      model.scenario.residential.interest_rate, markup, f"IFA group {g + 1}")
             for g in range(N_LARGE_IFA_GROUPS)]
    small = []
    for k in range(n_small):
        region = regions[int(rng.choice(len(regions), p=region_weight))]
        sector = Sector.VOLUNTARY if rng.random() < 0.15 else Sector.PRIVATE
        small.append(Provider(model, "ifa", sector, region, 0.0, 0.0, 0.0, markup,
                              f"IFA {k + 1}"))
    for prov in large + small:
        model.register_provider(prov)
    hh_counts = stochastic_round(rng, n_ifa_households * weight / weight.sum())
    for la in model.active_las:
        region = model.geography.las[la].region
        local_small = [s for s in small if s.region == region] or small
        for _ in range(hh_counts[la]):
            if rng.random() < LARGE_IFA_SHARE:
                prov = large[int(rng.integers(len(large)))]
            else:
                prov = local_small[int(rng.integers(len(local_small)))]
            hh = new_foster_household(model, PlacementType.IFA_FOSTER, prov, la, rng)
            prov.settings.append(hh)
    for prov in large + small:
        model.market.capitalise(prov, rng)


def home_siting_weights(model: CareMarketModel) -> np.ndarray:
    """Where independent providers open homes: where running costs are low.

    Not where children come from: the CMA found homes clustered where property is cheap.

    Weight = child population x (regional cost index) ^ -elasticity.
    """
    r = model.scenario.residential
    w = np.zeros(len(model.geography.las))
    for i in model.active_las:
        la = model.geography.las[i]
        w[i] = model.la_table["child_pop"][i] * r.property_cost_index[la.region] ** (
            -r.siting_cost_elasticity)
    return w / w.sum()


def open_home(model: CareMarketModel, provider: Provider, la: int,
              rng: np.random.Generator) -> ChildrensHome:
    """A new registered children's home at a real postcode in ``la``."""
    r, p = model.scenario.residential, model.scenario.prices
    pc = model.geography.sample_postcodes(model.geography.las[la], 1, rng)
    places = int(np.clip(rng.poisson(r.places_per_home - 1) + 1, 1, 12))
    region = model.geography.las[la].region
    if provider.sector == Sector.LOCAL_AUTHORITY:
        cost = p.la_home_cost_per_place
    else:
        cost = p.home_cost_per_place * r.property_cost_index[region]
    home = ChildrensHome(model, provider, la, int(pc.index[0]), float(pc.easting[0]),
                         float(pc.northing[0]), places, 0.0, cost,
                         bool(rng.random() < r.complex_specialist_share), r.min_age)
    provider.settings.append(home)
    model.register_setting(home)
    model.market.price_setting(home)
    return home


def build_residential(model: CareMarketModel, rng: np.random.Generator) -> None:
    """Children's homes (LA-run, large private groups, small private and voluntary) and
    supported accommodation, at Ofsted's 2019 counts."""
    r, scale = model.scenario.residential, model.scenario.scale * model.share["residential"]
    geo = model.geography
    # LA-run homes in their own LA, where the LA has residential demand.
    res = model.la_table["residential_demand"]
    la_counts = stochastic_round(rng, r.la_run_homes_2019 * scale * res / res.sum())
    for la in model.active_las:
        if la_counts[la] == 0:
            continue
        prov = Provider(model, "homes", Sector.LOCAL_AUTHORITY, geo.las[la].region, 0.0, 0.0,
                        0.0, 0.0, f"{geo.las[la].name} children's homes")
        prov.home_la = la
        model.register_provider(prov)
        for _ in range(la_counts[la]):
            open_home(model, prov, la, rng)
    # Independent homes.
    n_indep = int(stochastic_round(rng, (r.homes_2019 - r.la_run_homes_2019) * scale))
    siting = home_siting_weights(model)
    n_groups = max(1, round(r.large_group_count * min(1.0, scale * 4)))
    groups = [Provider(model, "homes", Sector.PRIVATE, "England", 0.0, 0.0, r.interest_rate,
                       0.0, f"Home group {g + 1}") for g in range(n_groups)]
    for g in groups:
        model.register_provider(g)
    small: list[Provider] = []
    for _ in range(n_indep):
        la = int(rng.choice(len(siting), p=siting))
        if rng.random() < r.large_group_share:
            prov = groups[int(rng.integers(len(groups)))]
        elif small and rng.random() < 0.55:
            prov = small[int(rng.integers(len(small)))]
        else:
            sector = (Sector.VOLUNTARY if rng.random() < r.voluntary_share_of_independent * 2
                      else Sector.PRIVATE)
            prov = Provider(model, "homes", sector, geo.las[la].region, 0.0, 0.0, 0.0, 0.0)
            model.register_provider(prov)
            small.append(prov)
        open_home(model, prov, la, rng)
    for prov in groups + small:
        model.market.capitalise(prov, rng, leveraged=prov in groups)
    # Supported accommodation near demand (mostly urban 16-17s).
    pop = model.la_table["child_pop"]
    n_units = stochastic_round(
        rng, r.supported_places * model.scenario.scale * model.share["child_pop"]
        / SUPPORTED_UNIT_PLACES * pop / pop.sum())
    for la in model.active_las:
        if n_units[la] == 0:
            continue
        prov = new_supported_provider(model, la)
        for _ in range(n_units[la]):
            open_supported_unit(model, prov, la, rng)
        model.market.capitalise(prov, rng)


def new_supported_provider(model: CareMarketModel, la: int) -> Provider:
    """The provider that runs supported accommodation in ``la`` (one per LA)."""
    info = model.geography.las[la]
    prov = Provider(model, "supported", Sector.PRIVATE, info.region, 0.0, 0.0, 0.0, 0.0,
                    f"Supported accommodation, {info.name}")
    model.register_provider(prov)
    model.market.supported_providers[la] = prov
    return prov


def open_supported_unit(model: CareMarketModel, prov: Provider, la: int,
                        rng: np.random.Generator) -> SupportedHome:
    """A 6-place supported accommodation unit at a postcode in ``la``, priced and filed."""
    geo = model.geography
    pc = geo.sample_postcodes(geo.las[la], 1, rng)
    unit = SupportedHome(model, prov, la, int(pc.index[0]), float(pc.easting[0]),
                         float(pc.northing[0]), SUPPORTED_UNIT_PLACES, 0.0,
                         model.scenario.prices.supported_cost)
    prov.settings.append(unit)
    model.register_setting(unit)
    model.market.price_setting(unit)
    return unit
