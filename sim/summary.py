"""Paired differences against the baseline, with 95% intervals, from finished runs.

Run *i* of every arm shares seed *i* with its reference arm (common random numbers), so
the comparison is made seed by seed: d_i = outcome(arm, seed i) − outcome(reference,
seed i). The summary gives the mean of the d_i and its 95% t-interval (mean ± t₀.₉₇₅,n−1
· sd/√n). Pairing removes the noise the two runs share, so intervals are much narrower
than comparing two independent means; an arm identical to its reference has every
d_i = 0 and an interval of exactly [0, 0].

Outcomes are taken at the end of the run: the national weekly series at its last week
(cumulative counters are totals over the run), the last 31 March snapshot (3+
placements, siblings separated, median distances), and per LA, region and Regional Care
Cooperative (RCC) the last per-LA snapshot aggregated from counts. Shares are in per
cent, so their differences are in percentage points (pp); spend in £m a week.
"""

from __future__ import annotations

import functools
import math
import tomllib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import SimInputError
from sim.store import DONE, ResultsStore


@dataclass(frozen=True)
class Outcome:
    """How an outcome is shown: label, unit, and the factor from the model's units."""

    label: str
    unit: str
    factor: float = 1.0


def _registry() -> dict[str, Outcome]:
    from sim.types import TYPE_NAMES, PlacementType

    pct, gbpm = 100.0, 1e-6
    r = {
        "children_in_care": Outcome("children in care", "children"),
        "sufficiency": Outcome("sufficiency: in the kind of home needs call for", "%", pct),
        "emergency": Outcome("emergency/unregistered placements", "children"),
        "share_far_20_miles": Outcome("placed > 20 miles from home", "%", pct),
        "share_outside_la": Outcome("placed outside own LA", "%", pct),
        "mean_distance_miles": Outcome("mean distance from home", "miles"),
        "weekly_spend": Outcome("placement spend", "£m/week", gbpm),
        "void_spend": Outcome("spend on empty block-contracted places", "£m/week", gbpm),
        "policy_spend": Outcome("spend on the reforms themselves", "£m/week", gbpm),
        "total_spend": Outcome("total spend (placements + reforms)", "£m/week", gbpm),
        "block_contracted_places": Outcome("block-contracted places", "places"),
        "spend_vs_budget": Outcome("placement spend as share of 2019 budget", "%", pct),
        "starts": Outcome("children entering care (over the run)", "children"),
        "ceased": Outcome("children leaving care (over the run)", "children"),
        "moves": Outcome("placement moves (over the run)", "moves"),
        "breakdowns": Outcome("placement breakdowns (over the run)", "placements"),
        "provider_endings": Outcome("placements ended by providers (over the run)",
                                    "placements"),
        "children_displaced": Outcome("children displaced by closures (over the run)",
                                      "children"),
        "homes_opened": Outcome("children's homes opened (over the run)", "homes"),
        "homes_closed": Outcome("children's homes closed (over the run)", "homes"),
        "providers_failed": Outcome("providers failed (over the run)", "providers"),
        "fostering_enquiries": Outcome("fostering enquiries (over the run)", "enquiries"),
        "fostering_applications": Outcome("fostering applications (over the run)",
                                          "applications"),
        "fostering_approvals": Outcome("foster households approved (over the run)",
                                       "households"),
        "fostering_deregistrations": Outcome("foster households deregistered (over the run)",
                                             "households"),
        "homes_open": Outcome("children's homes open", "homes"),
        "la_homes_open": Outcome("LA children's homes open", "homes"),
        "home_places": Outcome("children's home places", "places"),
        "foster_households": Outcome("foster households (mainstream)", "households"),
        "kinship_households": Outcome("kinship foster households", "households"),
        "foster_places": Outcome("foster places", "places"),
        "foster_vacancies": Outcome("vacant foster places", "places"),
        "mean_price_private_home": Outcome("mean price, private children's home", "£/week"),
        "mean_price_ifa": Outcome("mean price, IFA placement", "£/week"),
        "margin_homes": Outcome("operating margin, children's homes", "%", pct),
        "margin_ifa": Outcome("operating margin, IFAs", "%", pct),
        # Last 31 March snapshot (DfE's annual measures).
        "share_3plus_placements": Outcome("3+ placements in the year to 31 March", "%", pct),
        "share_siblings_separated": Outcome("siblings separated", "%", pct),
        "share_homes_far_20_miles": Outcome("children in homes > 20 miles away", "%", pct),
        "median_distance_miles": Outcome("median distance from home, 31 March", "miles"),
        "median_distance_foster": Outcome("median distance, foster care", "miles"),
        "median_distance_homes": Outcome("median distance, children's homes", "miles"),
    }
    for t, name in enumerate(TYPE_NAMES):
        label = PlacementType(t).label
        r[f"n_{name}"] = Outcome(f"children in {label}", "children")
        r[f"unit_cost_{name}"] = Outcome(f"mean weekly cost, {label}", "£/week")
    return r


OUTCOMES = _registry()
HEADLINE = ("sufficiency", "emergency", "share_far_20_miles", "share_outside_la",
            "total_spend", "share_3plus_placements", "share_siblings_separated",
            "children_displaced", "homes_open", "foster_households")
ANNUAL_OUTCOMES = ("share_3plus_placements", "share_siblings_separated",
                   "share_homes_far_20_miles", "median_distance_miles",
                   "median_distance_foster", "median_distance_homes")
AREA_OUTCOMES = ("children_in_care", "sufficiency", "emergency", "share_far_20_miles",
                 "share_outside_la", "mean_distance_miles", "weekly_spend", "policy_spend",
                 "total_spend", "share_3plus_placements", "share_siblings_separated",
                 "share_homes_far_20_miles")
LEVELS = ("england", "region", "rcc", "la")


def outcome_info(name: str) -> Outcome:
    return OUTCOMES.get(name, Outcome(name.replace("_", " "), ""))


def diff_unit(unit: str) -> str:
    """Differences of percentages are percentage points."""
    return "pp" if unit == "%" else unit


@functools.cache
def known_outcomes() -> tuple[str, ...]:
    """Every outcome name an experiment may list (the model's series and the registry)."""
    from sim.outcomes import _national_reporters  # the model's own list of weekly series

    names = [n for n in _national_reporters() if n != "week"]
    return tuple(dict.fromkeys([*names, *OUTCOMES]))


# -- values of one run ---------------------------------------------------------------------
def england_values(store: ResultsStore, key: str) -> dict[str, float]:
    """National outcomes of one finished run, in display units."""
    from sim.results import RunResult

    nat = store.read_table(key, "national")
    last = nat.iloc[-1]
    values: dict[str, float] = {}
    for col in nat.columns:
        if col in ("week", "year", "date") or not pd.api.types.is_numeric_dtype(nat[col]):
            continue
        values[col] = float(last[col]) * outcome_info(col).factor
    annual = store.read_table(key, "annual")
    if annual["year"].nunique() > 1:  # the first 31 March is the common starting stock
        result = RunResult(nat, store.read_table(key, "by_la"), annual, pd.DataFrame(), {},
                           store.read_table(key, "annual_england"))
        row = result.annual_national().iloc[-1]
        for col in ANNUAL_OUTCOMES:
            if col in row.index:
                values[col] = float(row[col]) * outcome_info(col).factor
    return values


def la_counts(store: ResultsStore, key: str) -> pd.DataFrame:
    """Per-LA counts at the end of the run, indexed by LA code: the base of area outcomes."""
    by_la = store.read_table(key, "by_la")
    last = by_la[by_la["week"] == by_la["week"].max()].set_index("la")
    n = last["children_in_care"]
    placed = n - last["n_with_parents"] - last["n_adoption"]
    out = pd.DataFrame({
        "la_name": last["la_name"], "region": last["region"], "children_in_care": n,
        "well_placed": last["well_placed"], "emergency": last["emergency"],
        "far_20_miles": last["far_20_miles"], "outside_la": last["outside_la"],
        "placed": placed, "distance_sum": last["mean_distance_miles"] * n,
        "weekly_spend": last["weekly_spend"], "policy_spend": last["policy_spend"],
    })
    annual = store.read_table(key, "annual")
    if annual["year"].nunique() > 1:
        a = annual[annual["year"] == annual["year"].max()].set_index("la")
        out["annual_in_care"] = a["children_in_care"]
        out["n_3plus"] = a["share_3plus_placements"] * a["children_in_care"]
        out["siblings_in_care"] = a["siblings_in_care"]
        out["siblings_separated"] = a["siblings_separated"]
        out["in_homes"] = a["in_homes"]
        out["homes_far_20_miles"] = a["homes_far_20_miles"]
        out["median_distance_la"] = a["median_distance_miles"]
    return out


def area_values(counts: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Outcomes of groups of LAs (``groups``: LA code -> area), from summed counts."""
    keep = counts.index.intersection(groups.index)
    numeric = counts.loc[keep].drop(columns=["la_name", "region", "median_distance_la"],
                                    errors="ignore")
    g = numeric.groupby(groups.loc[keep]).sum()

    def ratio(num: str, den: str, factor: float = 100.0) -> pd.Series:
        if num not in g or den not in g:
            return pd.Series(np.nan, index=g.index)
        return factor * g[num] / g[den].where(g[den] > 0)

    out = pd.DataFrame({
        "children_in_care": g["children_in_care"],
        "sufficiency": ratio("well_placed", "children_in_care"),
        "emergency": g["emergency"],
        "share_far_20_miles": ratio("far_20_miles", "placed"),
        "share_outside_la": ratio("outside_la", "placed"),
        "mean_distance_miles": ratio("distance_sum", "children_in_care", 1.0),
        "weekly_spend": g["weekly_spend"] * 1e-6,
        "policy_spend": g["policy_spend"] * 1e-6,
        "total_spend": (g["weekly_spend"] + g["policy_spend"]) * 1e-6,
        "share_3plus_placements": ratio("n_3plus", "annual_in_care"),
        "share_siblings_separated": ratio("siblings_separated", "siblings_in_care"),
        "share_homes_far_20_miles": ratio("homes_far_20_miles", "in_homes"),
    })
    out.index.name = "area"
    return out


# -- loading a results folder --------------------------------------------------------------
@dataclass
class Loaded:
    """A results folder read once: manifest, run table and per-run values."""

    store: ResultsStore
    manifest: dict[str, Any]
    runs: pd.DataFrame
    """arm, seed, key, status (done / failed / missing)."""
    values: pd.DataFrame
    """key, level, area, area_name, outcome, value for every finished run."""
    counts: dict[str, pd.DataFrame]

    @property
    def comparisons(self) -> list[tuple[str, str]]:
        return [(a["label"], a["reference"]) for a in self.manifest["arms"] if a["reference"]]


def load(store: ResultsStore | str) -> Loaded:
    """Read a results folder: which runs exist and their outcome values."""
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    manifest = store.read_manifest()
    runs = pd.DataFrame(manifest["runs"], columns=["arm", "seed", "key"])
    runs["status"] = [store.status(k) or "missing" for k in runs["key"]]
    frames, counts = [], {}
    for key in runs.loc[runs["status"] == DONE, "key"].unique():
        nat = england_values(store, key)
        frames.append(pd.DataFrame({"key": key, "level": "england", "area": "England",
                                    "area_name": "England", "outcome": list(nat),
                                    "value": list(nat.values())}))
        c = counts[key] = la_counts(store, key)
        for level, groups in (("region", c["region"]), ("la", pd.Series(c.index, c.index))):
            frames.append(_long(area_values(c, groups), key, level, c))
    values = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["key", "level", "area", "area_name", "outcome", "value"])
    return Loaded(store, manifest, runs, values, counts)


def _long(frame: pd.DataFrame, key: str, level: str, counts: pd.DataFrame) -> pd.DataFrame:
    long = frame.reset_index().melt(id_vars="area", var_name="outcome", value_name="value")
    long.insert(0, "key", key)
    long.insert(1, "level", level)
    names = counts["la_name"] if level == "la" else None
    long.insert(3, "area_name", long["area"].map(names) if names is not None else long["area"])
    return long


def cooperatives(manifest: dict[str, Any], arm_label: str) -> dict[str, list[str]]:
    """RCC name -> member LA codes, read from the arm's scenario ``[[policies]]`` blocks."""
    from sim.experiment import apply_overrides
    from sim.geography import load_geography
    from sim.policies import validate_policies
    from sim.scenario import scenario_from_dict

    arm = next(a for a in manifest["arms"] if a["label"] == arm_label)
    source = manifest["scenarios"][arm["scenario"]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scenario = scenario_from_dict(tomllib.loads(source["text"]), source["file"])
            scenario = apply_overrides(scenario, arm["overrides"])
            policies = validate_policies(scenario)
    except SimInputError:  # an arm whose parameters are invalid has no runs to group
        return {}
    geo = load_geography()
    out: dict[str, list[str]] = {}
    for policy in policies:
        if not policy.enabled:
            continue
        for coop in getattr(policy, "cooperatives", None) or []:
            out[coop.name] = [geo.las[i].ons_code for i in coop.members]
    return out


# -- paired differences --------------------------------------------------------------------
def t_interval(mean: np.ndarray, sd: np.ndarray, n: np.ndarray,
               level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided t-interval for a mean; NaN with fewer than two pairs."""
    from scipy.special import stdtrit  # Student's t quantile (lighter than scipy.stats)

    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stdtrit(np.where(n > 1, n - 1, np.nan), 0.5 + level / 2)
        half = np.where(np.asarray(sd) == 0, 0.0, t * np.asarray(sd) / np.sqrt(n))
    half = np.where(n > 1, half, np.nan)
    return np.asarray(mean) - half, np.asarray(mean) + half


def paired_differences(values: pd.DataFrame, runs: pd.DataFrame, arm: str,
                       reference: str) -> pd.DataFrame:
    """Per (level, area, outcome): mean paired difference arm − reference and its 95% CI."""
    done = runs[runs["status"] == DONE]
    cols = ["level", "area", "area_name", "outcome"]

    def of(label: str) -> pd.DataFrame:
        keys = done.loc[done["arm"] == label, ["seed", "key"]]
        return keys.merge(values, on="key").drop(columns="key")

    pairs = of(arm).merge(of(reference), on=["seed", *cols], suffixes=("_arm", "_ref"))
    pairs = pairs.dropna(subset=["value_arm", "value_ref"])
    pairs["diff"] = pairs["value_arm"] - pairs["value_ref"]
    pairs["abs_diff"] = pairs["diff"].abs()
    g = pairs.groupby(cols, sort=False)
    out = g.agg(n=("diff", "size"), reference_mean=("value_ref", "mean"),
                scenario_mean=("value_arm", "mean"), mean_diff=("diff", "mean"),
                sd_diff=("diff", "std"), max_abs=("abs_diff", "max")).reset_index()
    # An arm identical to its reference: every difference is exactly zero.
    out.loc[out["max_abs"] == 0, ["mean_diff", "sd_diff"]] = 0.0
    out = out.drop(columns="max_abs")
    out["ci_low"], out["ci_high"] = t_interval(out["mean_diff"].to_numpy(),
                                               out["sd_diff"].to_numpy(), out["n"].to_numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = 100 * out["mean_diff"] / out["reference_mean"].abs()
    out["rel_diff_pct"] = rel.where(out["reference_mean"] != 0)
    out.insert(0, "arm", arm)
    out.insert(1, "reference", reference)
    info = {name: outcome_info(name) for name in out["outcome"].unique()}
    out.insert(6, "label", out["outcome"].map(lambda o: info[o].label))
    out.insert(7, "unit", out["outcome"].map(lambda o: info[o].unit))
    out.insert(8, "diff_unit", out["unit"].map(diff_unit))
    return out


def summarise(loaded: Loaded, outcomes: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Paired differences for every comparison, outcome and level (England, region, RCC, LA)."""
    frames = []
    for arm, reference in loaded.comparisons:
        values = loaded.values
        coops = cooperatives(loaded.manifest, arm)
        if coops:
            values = pd.concat([values, _rcc_values(loaded, arm, reference, coops)],
                               ignore_index=True)
        frames.append(paired_differences(values, loaded.runs, arm, reference))
    columns = ["arm", "reference", "level", "area", "area_name", "outcome", "label", "unit",
               "diff_unit", "n", "reference_mean", "scenario_mean", "mean_diff", "sd_diff",
               "ci_low", "ci_high", "rel_diff_pct"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)[columns]
    if outcomes:
        out = out[out["outcome"].isin(outcomes)]
    order = {level: i for i, level in enumerate(LEVELS)}
    out = out.sort_values(["arm", "level", "area"], key=lambda s: s.map(order)
                          if s.name == "level" else s, kind="stable")
    return out.reset_index(drop=True)


def _rcc_values(loaded: Loaded, arm: str, reference: str,
                coops: dict[str, list[str]]) -> pd.DataFrame:
    groups = pd.Series({code: name for name, codes in coops.items() for code in codes})
    runs = loaded.runs[(loaded.runs["arm"].isin([arm, reference]))
                       & (loaded.runs["status"] == DONE)]
    frames = []
    for key in runs["key"].unique():
        frame = area_values(loaded.counts[key], groups)
        frames.append(_long(frame, key, "rcc", loaded.counts[key]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def arm_levels(loaded: Loaded, level: str = "england") -> pd.DataFrame:
    """Each arm's mean outcome over seeds with a 95% t-interval (not paired)."""
    done = loaded.runs[loaded.runs["status"] == DONE][["arm", "seed", "key"]]
    v = done.merge(loaded.values[loaded.values["level"] == level], on="key")
    g = v.groupby(["arm", "area", "outcome"], sort=False)["value"]
    out = g.agg(n="count", mean="mean", sd="std").reset_index()
    out["ci_low"], out["ci_high"] = t_interval(out["mean"].to_numpy(),
                                               out["sd"].fillna(0).to_numpy(),
                                               out["n"].to_numpy())
    return out


# -- series and flows for the figures ------------------------------------------------------
def national_series(loaded: Loaded, outcomes: list[str]) -> pd.DataFrame:
    """arm, seed, year, date, outcome, value (display units) for every finished run."""
    frames = []
    done = loaded.runs[loaded.runs["status"] == DONE]
    for key, group in done.groupby("key", sort=False):
        nat = loaded.store.read_table(key, "national")
        cols = [c for c in outcomes if c in nat.columns]
        long = nat[["year", "date", *cols]].melt(id_vars=["year", "date"], var_name="outcome")
        long["date"] = pd.to_datetime(long["date"])
        long["value"] *= long["outcome"].map(lambda o: outcome_info(o).factor)
        for arm, seed in group[["arm", "seed"]].itertuples(index=False):
            frames.append(long.assign(arm=arm, seed=seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["year", "date", "outcome", "value", "arm", "seed"])


def series_bands(series: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds and 95% t-interval, per arm, outcome and time."""
    g = series.groupby(["arm", "outcome", "year", "date"], sort=False)["value"]
    out = g.agg(n="count", mean="mean", sd="std").reset_index()
    out["ci_low"], out["ci_high"] = t_interval(out["mean"].to_numpy(),
                                               out["sd"].fillna(0).to_numpy(),
                                               out["n"].to_numpy())
    return out


def region_flows(loaded: Loaded) -> pd.DataFrame:
    """arm, home_region, placed_region, children: mean over seeds at the end of the run."""
    done = loaded.runs[loaded.runs["status"] == DONE]
    frames = []
    for key, group in done.groupby("key", sort=False):
        flows = loaded.store.read_table(key, "flows")
        f = flows.groupby(["home_region", "placed_region"])["children"].sum().reset_index()
        for arm, seed in group[["arm", "seed"]].itertuples(index=False):
            frames.append(f.assign(arm=arm, seed=seed))
    if not frames:
        return pd.DataFrame(columns=["arm", "home_region", "placed_region", "children"])
    allf = pd.concat(frames, ignore_index=True)
    seeds = allf.groupby("arm")["seed"].nunique()
    out = allf.groupby(["arm", "home_region", "placed_region"])["children"].sum().reset_index()
    out["children"] = out["children"] / out["arm"].map(seeds)
    return out


def format_difference(row: Any, unit: str = "") -> str:
    """``+1.23 pp (+0.50 to +1.96)``: the mean paired difference and its 95% interval."""
    d = _digits(row.mean_diff, row.ci_low, row.ci_high)
    if row.mean_diff == 0 and row.ci_low == 0 and row.ci_high == 0:
        return "0 (equal in every seed)"
    mean = f"{row.mean_diff:+,.{d}f}" + (f" {unit}" if unit else "")
    if math.isnan(row.ci_low):
        return f"{mean} (one seed: no interval)"
    return f"{mean} ({row.ci_low:+,.{d}f} to {row.ci_high:+,.{d}f})"


def _digits(mean: float, low: float, high: float) -> int:
    """Decimals that show the interval's precision: two significant figures of its half-width."""
    half = (high - low) / 2 if high == high and low == low else 0.0
    ref = half if half > 0 else abs(mean) if mean == mean and mean != 0 else 0.0
    if ref == 0:
        return 1
    return int(min(4, max(0, 1 - math.floor(math.log10(ref)))))
