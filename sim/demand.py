"""Demand: children entering care, and when and why they leave.

Entering families (a child alone or 2-4 siblings) are Poisson per LA per week, at rates
set from the LA table and the national series of starts. Leaving care is sampled once,
at entry, from piecewise-constant weekly hazards by age band (return home, adoption,
special guardianship) with a boost in the first 26 weeks of care; reaching 18 ends
care. Sampling the exit time up front turns leaving care into one scheduled event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from sim.scenario import AGE_BAND_EDGES, AGE_BANDS, Demand
from sim.types import ExitReason, Need

WEEKS_PER_YEAR = 52.1775
EARLY_WEEKS = 26.0
_EDGES = np.array(AGE_BAND_EDGES)


@dataclass
class ExitHazards:
    """Weekly hazards by age band for the three permanence routes (mutable by policies)."""

    home: np.ndarray
    adoption: np.ndarray
    sgo: np.ndarray
    early_multiplier: float

    @classmethod
    def from_demand(cls, d: Demand) -> ExitHazards:
        def arr(table: dict) -> np.ndarray:
            return np.array([table[b] for b in AGE_BANDS], dtype=float)

        return cls(arr(d.exit_home_hazard), arr(d.adoption_hazard), arr(d.sgo_hazard),
                   d.early_exit_multiplier)


def age_band(age_years: np.ndarray) -> np.ndarray:
    """Index of the DfE age band (under 1, 1-4, 5-9, 10-15, 16-17)."""
    return np.clip(np.searchsorted(_EDGES, age_years, side="right") - 1, 0, len(AGE_BANDS) - 1)


def sample_exits(rng: np.random.Generator, now: float, age: np.ndarray,
                 weeks_in_care: np.ndarray, hz: ExitHazards) -> tuple[np.ndarray, np.ndarray]:
    """Draw each child's week and route of leaving care (vectorised competing risks).

    Hazards are constant within a segment bounded by age-band edges and the end of the
    early period, so the time to exit is exponential within each segment.
    """
    n = len(age)
    exit_week = np.full(n, np.inf)
    reason = np.full(n, int(ExitReason.AGE_18))
    t = np.zeros(n)  # weeks from now
    a = np.asarray(age, dtype=float).copy()
    w = np.asarray(weeks_in_care, dtype=float).copy()
    active = np.arange(n)
    for _ in range(16):
        if active.size == 0:
            break
        band = age_band(a[active])
        early = w[active] < EARLY_WEEKS
        h_home = hz.home[band] * np.where(early, hz.early_multiplier, 1.0)
        h_adopt = hz.adoption[band]
        h_sgo = hz.sgo[band]
        total = h_home + h_adopt + h_sgo
        to_edge = (_EDGES[band + 1] - a[active]) * WEEKS_PER_YEAR
        to_early = np.where(early, EARLY_WEEKS - w[active], np.inf)
        seg = np.maximum(np.minimum(to_edge, to_early), 1e-9)
        with np.errstate(divide="ignore"):
            draw = rng.exponential(1.0, size=active.size) / np.where(total > 0, total, np.nan)
        draw = np.where(total > 0, draw, np.inf)
        hit = draw < seg
        if hit.any():
            idx = active[hit]
            exit_week[idx] = now + t[idx] + draw[hit]
            u = rng.random(hit.sum()) * total[hit]
            reason[idx] = np.where(
                u < h_home[hit], int(ExitReason.RETURN_HOME),
                np.where(u < h_home[hit] + h_adopt[hit], int(ExitReason.ADOPTED),
                         int(ExitReason.SPECIAL_GUARDIANSHIP)))
        stay = ~hit
        idx = active[stay]
        t[idx] += seg[stay]
        a[idx] += seg[stay] / WEEKS_PER_YEAR
        w[idx] += seg[stay]
        reached_18 = a[idx] >= 18.0 - 1e-9
        done = idx[reached_18]
        exit_week[done] = now + t[done]
        reason[done] = int(ExitReason.AGE_18)
        active = idx[~reached_18]
    return exit_week, reason


def la_start_shares(cla_2019: np.ndarray, cla_2015: np.ndarray,
                    during_year: np.ndarray) -> np.ndarray:
    """Each LA's share of national starts, from its 2019 figures.

    Starts in the year = children looked after during the year - stock at its start; the
    stock a year earlier is estimated from the LA's own 2015-2019 growth.
    """
    growth = np.clip((cla_2019 - cla_2015) / 4.0, -0.2 * cla_2019, 0.2 * cla_2019)
    starts = during_year - (cla_2019 - growth)
    starts = np.where(np.isfinite(starts) & (starts > 0), starts, 0.35 * cla_2019)
    return starts / starts.sum()


def _for_year(table: dict, year: float) -> float | None:
    """The value of a year-keyed series (keys: DfE years ending 31 March) in the DfE
    year containing ``year``: the latest key at or before it; None before the first."""
    y = int(np.floor(year))
    known = [(int(k), v) for k, v in table.items() if int(k) <= y]
    return float(max(known)[1]) if known else None


def starts_for_year(d: Demand, year: float) -> float:
    """National starts per year at a (fractional) calendar year, stepwise by year: the
    first year's value before the series begins, the last year's after it ends."""
    value = _for_year(d.starts_per_year, year)
    if value is None:
        value = float(min((int(k), v) for k, v in d.starts_per_year.items())[1])
    return value


def entry_age_mix_for_year(d: Demand, year: float | None) -> dict[str, float]:
    """Ages of starts in a DfE year.

    ``entry_age_mix``, except that from the first year of ``starts_aged_16_17`` the share
    aged 16-17 is the published one (older starts, mostly unaccompanied asylum seekers,
    rose to 28-29% of starts in 2023-24) and the younger bands share the rest in the
    same proportions. Older starts leave care sooner, at 18, so this moves ceasings too.
    """
    mix = dict(d.entry_age_mix)
    older = None if year is None else _for_year(d.starts_aged_16_17, year)
    if older is not None:
        younger = 1.0 - mix["16_17"]
        for band in AGE_BANDS[:-1]:
            mix[band] *= (1.0 - older) / younger if younger > 0 else 0.0
        mix["16_17"] = older
    return mix


def draw_entrant_profiles(rng: np.random.Generator, n: int, d: Demand,
                          year: float | None = None) -> dict[str, np.ndarray]:
    """Age, sex, needs and UASC status of ``n`` entrants (vectorised) in a DfE year
    (None: ``entry_age_mix`` as given)."""
    mix = entry_age_mix_for_year(d, year)
    p = np.array([mix[b] for b in AGE_BANDS])
    band = rng.choice(len(AGE_BANDS), size=n, p=p / p.sum())
    lo, hi = _EDGES[band], _EDGES[band + 1]
    age = lo + rng.random(n) * (hi - lo)
    # Unaccompanied children are almost all teenagers (87% aged 16+).
    uasc = (age >= 14) & (rng.random(n) < d.uasc_share_of_starts / max(_share_14_plus(mix), 1e-9))
    need = np.full(n, int(Need.STANDARD))
    complex_ = (age >= 8) & (rng.random(n) < complex_chance_8_plus(d, mix))
    need[complex_] = int(Need.COMPLEX)
    disabled = ~complex_ & (rng.random(n) < d.disability_share)
    need[disabled] = int(Need.DISABLED)
    male = rng.random(n) < np.where(uasc, 0.9, d.male_share)
    return {"age": age, "uasc": uasc, "need": need, "male": male}


def _share_14_plus(mix: dict[str, float]) -> float:
    return mix["10_15"] / 3 + mix["16_17"]


def complex_chance_8_plus(d: Demand, mix: dict[str, float] | None = None) -> float:
    """Chance that an entrant aged 8 or over has complex needs (only 8+ entrants do), so
    that ``complex_needs_share`` of entrants with age mix ``mix`` (default:
    ``entry_age_mix``) have them."""
    if mix is None:
        mix = entry_age_mix_for_year(d, None)
    return d.complex_needs_share / max(_share_8_plus(mix), 1e-9)


def _share_8_plus(mix: dict[str, float]) -> float:
    return 0.4 * mix["5_9"] + mix["10_15"] + mix["16_17"]


SIBLING_SIZES = np.array([2, 3, 4])
SIBLING_SIZE_P = np.array([0.62, 0.27, 0.11])


def family_probability(share: float) -> float:
    """Chance an entering family is a sibling group, so that ``share`` of children are in one.

    With mean group size m: share = p m / (p m + 1 - p), so p = share / (m - share (m - 1)).
    """
    m = float(SIBLING_SIZES @ SIBLING_SIZE_P)
    return share / (m - share * (m - 1))


def mean_family_size(share: float) -> float:
    p = family_probability(share)
    return p * float(SIBLING_SIZES @ SIBLING_SIZE_P) + (1 - p)


def family_sizes(rng: np.random.Generator, n_families: int, share: float) -> np.ndarray:
    """Number of children in each entering family (1 = a child alone, 2-4 = siblings).

    Drawing families rather than children keeps the sibling share independent of scale.
    """
    sizes = np.ones(n_families, dtype=int)
    groups = rng.random(n_families) < family_probability(share)
    sizes[groups] = rng.choice(SIBLING_SIZES, size=int(groups.sum()), p=SIBLING_SIZE_P)
    return sizes


def stock_sibling_groups(rng: np.random.Generator, ages: np.ndarray, eligible: np.ndarray,
                         share: float, kinds: np.ndarray, same_kind_share: float,
                         age_gap: float = 5.0) -> list[list[int]]:
    """Brothers and sisters among one LA's children already in care (indices into ``ages``).

    Groups of 2-4 (sizes as for entering families) are formed around a randomly chosen
    child from eligible children whose ages are within ``age_gap`` years of theirs, until
    about ``share`` of all the children are in one. In ``same_kind_share`` of groups the
    siblings are all in the lead's kind of placement (``kinds``); in the rest each keeps
    their own, so groups that DfE's mix puts in different kinds of placement start out
    separated.
    """
    order = rng.permutation(np.flatnonzero(eligible)).tolist()
    target = share * len(ages)
    taken = [False] * len(ages)
    cdf = np.cumsum(SIBLING_SIZE_P).tolist()
    groups: list[list[int]] = []
    in_groups = 0
    for pos, lead in enumerate(order):
        if in_groups >= target:
            break
        if taken[lead]:
            continue
        size = int(SIBLING_SIZES[min(bisect.bisect_right(cdf, rng.random()), 2)])
        if size > target - in_groups and rng.random() * size >= target - in_groups:
            break  # the last family only in proportion, so small LAs are not overfilled
        same = rng.random() < same_kind_share
        members = [lead]
        for other in order[pos + 1:pos + 80]:
            if len(members) == size:
                break
            if (not taken[other] and abs(ages[other] - ages[lead]) <= age_gap
                    and (not same or kinds[other] == kinds[lead])):
                members.append(other)
        if len(members) < 2:
            continue
        for i in members:
            taken[i] = True
        groups.append(members)
        in_groups += len(members)
    return groups
