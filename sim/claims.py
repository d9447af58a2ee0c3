"""Stakeholders' claims tested in an experiment: ``[[claims]]`` blocks and their verdicts.

An experiment file may list claims, each a scenario pair, an outcome and the direction
the claim expects::

    [[claims]]
    id = "H12"
    text = "Financial oversight reduces disorderly exits"
    scenario = "financial_oversight"        # an arm: a scenario's name in this experiment
    reference = "baseline"                  # optional: default the arm's own reference
    outcome = "children_displaced"          # a summary outcome (`sim compare --outcome`)
    expect = "decrease"                     # increase | decrease | no_change |
                                            # no_increase | no_decrease
    tolerance = 0.02                        # relative to the reference mean: no_* only
    evidence = "assumed"                    # optional: published | assumed
    [claims.grid]                           # optional: the uncertain parameter's range
    "policies.financial_oversight.transfer_success_rate" = [0.2, 0.8]

A claim's grid adds arms: its scenario (and its reference) at each value, compared with
the baseline at the same point. The verdict reads the 95% interval of the paired
difference (scenario − reference, England or the run's LAs, end of run):

* ``increase`` / ``decrease``: *holds* when the interval is entirely above / below 0,
  *does not hold* when it is entirely on the other side (or exactly 0 in every seed);
* ``no_change``: *holds* when it is entirely within ± tolerance × |reference mean|,
  *does not hold* when entirely outside that band;
* ``no_increase`` / ``no_decrease`` ("matches or beats"): *holds* when the interval is
  entirely below + band / above − band, *does not hold* when entirely beyond it;
* anything else (or fewer than two seeds) is *inconclusive*.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

EXPECT = ("increase", "decrease", "no_change", "no_increase", "no_decrease")
BANDED = ("no_change", "no_increase", "no_decrease")
EVIDENCE = ("published", "assumed")
CLAIM_FIELDS = ("id", "text", "scenario", "reference", "outcome", "expect", "tolerance",
                "evidence", "grid")
HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
ASSUMED_NOTE = "depends on an assumed effect size"
PUBLISHED_NOTE = "rests on published parameters"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class Claim:
    """One checked ``[[claims]]`` entry; ``pairs`` are filled in when arms are built."""

    id: str
    text: str
    scenario: str
    outcome: str
    expect: str
    reference: str | None = None
    tolerance: float | None = None
    evidence: str | None = None
    grid: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    pairs: tuple[tuple[str, str, str], ...] = ()
    """(row label, arm, reference arm): "as given" and one row per grid point."""

    def points(self) -> list[dict[str, Any]]:
        """Every combination of the claim's grid values (none: no points)."""
        keys = [k for k, _ in self.grid]
        return [dict(zip(keys, combo, strict=True))
                for combo in itertools.product(*(v for _, v in self.grid))] if keys else []

    def describe(self) -> dict[str, Any]:
        """Plain data for the experiment manifest."""
        return {"id": self.id, "text": self.text, "scenario": self.scenario,
                "reference": self.reference, "outcome": self.outcome, "expect": self.expect,
                "tolerance": self.tolerance, "evidence": self.evidence,
                "grid": {k: list(v) for k, v in self.grid},
                "pairs": [{"row": r, "arm": a, "reference": ref} for r, a, ref in self.pairs]}


def point_label(point: dict[str, Any]) -> str:
    """``capacity_dependence = 0.5``: a grid point with policy/group prefixes dropped."""
    return ", ".join(f"{k.split('.')[-1]} = {json.dumps(v) if not isinstance(v, str) else v}"
                     for k, v in point.items())


# -- reading -------------------------------------------------------------------------------
def parse_claims(value: Any, file: str, labels: list[str]) -> tuple[Claim, ...]:
    """Check ``[[claims]]``; ``labels`` are the experiment's scenario labels (baseline first).

    Every mistake is a one-line :class:`~sim.experiment.ExperimentError`.
    """
    from sim.experiment import ExperimentError

    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ExperimentError(f"{file}: claims: expected an array of tables [[claims]], got "
                              f"{value!r}")
    return tuple(_claim(c, file, f"claims[{i}]", labels, ExperimentError)
                 for i, c in enumerate(value))


def _claim(data: dict[str, Any], file: str, where: str, labels: list[str],
           error: type[Exception]) -> Claim:
    from sim.experiment import _flatten, check_parameter
    from sim.summary import known_outcomes

    unknown = [k for k in data if k not in CLAIM_FIELDS]
    if unknown:
        raise error(f"{file}: {where}: unknown field {unknown[0]!r} (allowed: "
                    f"{', '.join(CLAIM_FIELDS)})")
    cid = data.get("id")
    if not isinstance(cid, str) or not _ID.match(cid):
        raise error(f"{file}: {where}.id: expected letters, digits, '_', '-' or '.' (e.g. "
                    f"\"H12\"), got {cid!r}")
    where = f"{where} ({cid})"
    for key in ("text", "scenario", "outcome", "expect"):
        if key not in data:
            raise error(f"{file}: {where}.{key}: required")
        if not isinstance(data[key], str) or not data[key].strip():
            raise error(f"{file}: {where}.{key}: expected a non-empty string, got "
                        f"{data[key]!r}")
    scenarios = labels[1:]
    if data["scenario"] not in scenarios:
        raise error(f"{file}: {where}.scenario: unknown scenario {data['scenario']!r} "
                    f"(allowed: {', '.join(scenarios) or 'none: list scenario files first'})")
    reference = data.get("reference")
    if reference is not None and (reference not in labels or reference == data["scenario"]):
        allowed = ", ".join(x for x in labels if x != data["scenario"])
        raise error(f"{file}: {where}.reference: expected another scenario of this "
                    f"experiment (allowed: {allowed}), got {reference!r}")
    known = known_outcomes()
    if data["outcome"] not in known:
        raise error(f"{file}: {where}.outcome: unknown outcome {data['outcome']!r} "
                    f"(allowed: {', '.join(known)})")
    expect = data["expect"]
    if expect not in EXPECT:
        raise error(f"{file}: {where}.expect: expected one of {', '.join(EXPECT)}, got "
                    f"{expect!r}")
    tolerance = data.get("tolerance")
    if expect in BANDED:
        if tolerance is None:
            raise error(f"{file}: {where}.tolerance: required for expect = {expect} (a "
                        "share of the reference mean, e.g. 0.02)")
        if (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                or not 0 <= tolerance <= 1):
            raise error(f"{file}: {where}.tolerance: expected a number in [0, 1] (share of "
                        f"the reference mean), got {tolerance!r}")
        tolerance = float(tolerance)
    elif tolerance is not None:
        raise error(f"{file}: {where}.tolerance: only for expect = {', '.join(BANDED)} "
                    f"(expect is {expect})")
    evidence = data.get("evidence")
    if evidence is not None and evidence not in EVIDENCE:
        raise error(f"{file}: {where}.evidence: expected one of {', '.join(EVIDENCE)}, got "
                    f"{evidence!r}")
    raw_grid = data.get("grid", {})
    if not isinstance(raw_grid, dict):
        raise error(f"{file}: {where}.grid: expected a table of parameter = [values]")
    grid = _flatten(raw_grid)
    for key, values in grid.items():
        at = f"{file}: {where}.grid.{key}"
        check_parameter(key, at)
        if not isinstance(values, list) or not values:
            raise error(f"{at}: expected a non-empty list of values, got {values!r}")
        if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
            raise error(f"{at}: values repeat; allowed distinct values")
    return Claim(cid, data["text"].strip(), data["scenario"], data["outcome"], expect,
                 reference, tolerance, evidence, tuple((k, tuple(v)) for k, v in grid.items()))


# -- verdicts ------------------------------------------------------------------------------
def verdict(expect: str, low: float, high: float, reference_mean: float = 0.0,
            tolerance: float | None = None) -> str:
    """Whether the 95% interval [low, high] of the paired difference supports the claim."""
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        return INCONCLUSIVE
    band = (tolerance or 0.0) * abs(reference_mean) if not math.isnan(reference_mean) else 0.0
    if expect == "increase":
        return HOLDS if low > 0 else FAILS if high <= 0 else INCONCLUSIVE
    if expect == "decrease":
        return HOLDS if high < 0 else FAILS if low >= 0 else INCONCLUSIVE
    if expect == "no_change":
        if -band <= low and high <= band:
            return HOLDS
        return FAILS if low > band or high < -band else INCONCLUSIVE
    if expect == "no_increase":
        return HOLDS if high <= band else FAILS if low > band else INCONCLUSIVE
    if expect == "no_decrease":
        return HOLDS if low >= -band else FAILS if high < -band else INCONCLUSIVE
    raise ValueError(f"unknown expectation {expect!r} (allowed: {', '.join(EXPECT)})")


def evidence_note(evidence: str | None) -> str:
    return {"assumed": ASSUMED_NOTE, "published": PUBLISHED_NOTE}.get(evidence or "", "–")


def expectation(expect: str, tolerance: float | None) -> str:
    """``no change (± 2% of the reference)`` and the like, for the table."""
    words = expect.replace("_", " ")
    if expect in BANDED:
        sign = {"no_change": "±", "no_increase": "+", "no_decrease": "−"}[expect]
        return f"{words} ({sign}{100 * (tolerance or 0):g}% of the reference)"
    return words


CLAIM_COLUMNS = ["id", "claim", "scenario", "reference", "parameters", "outcome", "label",
                 "diff_unit", "expect", "tolerance", "n", "reference_mean", "scenario_mean",
                 "mean_diff", "ci_low", "ci_high", "verdict", "evidence", "evidence_note"]


def claims_table(loaded: Any) -> pd.DataFrame:
    """One row per claim and grid point: the paired difference, its interval and verdict.

    ``loaded`` is :class:`sim.summary.Loaded`; claims are read from its manifest.
    """
    from sim.summary import outcome_info, paired_differences

    rows = []
    england = loaded.values[loaded.values["level"] == "england"]
    cache: dict[tuple[str, str], pd.DataFrame] = {}
    for claim in loaded.manifest.get("claims") or []:
        info = outcome_info(claim["outcome"])
        for pair in claim["pairs"]:
            key = (pair["arm"], pair["reference"])
            if key not in cache:
                cache[key] = paired_differences(england, loaded.runs, *key)
            d = cache[key]
            d = d[d["outcome"] == claim["outcome"]]
            r = d.iloc[0] if len(d) else None

            def get(col: str, r: Any = r) -> float:
                return float(r[col]) if r is not None else math.nan

            rows.append({
                "id": claim["id"], "claim": claim["text"], "scenario": pair["arm"],
                "reference": pair["reference"], "parameters": pair["row"],
                "outcome": claim["outcome"], "label": info.label,
                "diff_unit": "pp" if info.unit == "%" else info.unit,
                "expect": claim["expect"], "tolerance": claim.get("tolerance"),
                "n": int(r["n"]) if r is not None else 0,
                "reference_mean": get("reference_mean"), "scenario_mean": get("scenario_mean"),
                "mean_diff": get("mean_diff"), "ci_low": get("ci_low"),
                "ci_high": get("ci_high"),
                "verdict": verdict(claim["expect"], get("ci_low"), get("ci_high"),
                                   get("reference_mean"), claim.get("tolerance")),
                "evidence": claim.get("evidence"),
                "evidence_note": evidence_note(claim.get("evidence")),
            })
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def claims_display(table: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the report shows it."""
    from sim.summary import format_difference

    def diff(r: Any) -> str:
        if r.n == 0:
            return "no finished pairs"
        return format_difference(r, r.diff_unit)

    return pd.DataFrame({
        "claim": [f"{r.id}: {r.claim}" for r in table.itertuples()],
        "scenario pair": [f"{r.scenario} vs {r.reference}" for r in table.itertuples()],
        "parameters": table["parameters"],
        "outcome": [f"{r.label} ({r.diff_unit})" if r.diff_unit else r.label
                    for r in table.itertuples()],
        "expected": [expectation(r.expect, r.tolerance) for r in table.itertuples()],
        "reference mean": [_num(v) for v in table["reference_mean"]],
        "difference (95% interval)": [diff(r) for r in table.itertuples()],
        "verdict": table["verdict"],
        "evidence": table["evidence_note"],
    })


def print_claims(table: pd.DataFrame) -> None:
    """One line per claim row: id, outcome, pair, difference with its interval, verdict."""
    from sim.summary import format_difference

    print("\nclaims: scenario minus reference, mean paired difference (95% interval)")
    for r in table.itertuples():
        diff = format_difference(r, r.diff_unit) if r.n else "no finished pairs"
        params = "" if r.parameters == "as given" else f" [{r.parameters}]"
        print(f"{r.id:<5} {_short(r.label, 40):<40} {r.scenario.split(' [')[0]} vs "
              f"{r.reference.split(' [')[0]}{params}: {diff} -> {r.verdict} "
              f"({expectation(r.expect, r.tolerance)})")


def _short(label: str, width: int = 48) -> str:
    label = label.replace(" (over the run)", "")
    return label if len(label) <= width else label[: width - 1] + "…"


def _num(value: float) -> str:
    if value != value:
        return "–"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}"


def claim_pairs(claim: Claim, add: Any, sources: dict[str, Any], baseline: Any,
                base: Any, current: Any = None) -> tuple[tuple[str, str, str], ...]:
    """Arms a claim needs, made with ``add(source, point, reference) -> Arm``.

    Rows: the scenario as given, then each grid point in order; a grid point that
    changes nothing is the as-given pair, shown once, under its grid value.
    ``current(scenario label, key)`` gives the scenario's own values of a grid parameter,
    to label the as-given row.
    """
    rows: list[tuple[str, str, str]] = []
    given = "as given"
    if claim.grid and current is not None:
        values = {k: current(claim.scenario, k) for k, _ in claim.grid}
        if all(len({json.dumps(v, default=str) for v in vs}) == 1 for vs in values.values()):
            given = f"{point_label({k: vs[0] for k, vs in values.items()})} (as given)"
    for point in [{}, *claim.points()]:
        base_ref = add(baseline, point, base.label)
        arm = add(sources[claim.scenario], point, base_ref.label)
        if claim.reference is None:
            ref = arm.reference or base.label
        elif claim.reference == baseline.label:
            ref = base_ref.label
        else:
            ref = add(sources[claim.reference], point, base_ref.label).label
        label = point_label(point) if point else given
        if point and rows[0][0] == given and rows[0][1:] == (arm.label, ref):
            rows[0] = ("", "", "")  # dropped: this grid row is the scenario as given
            label = f"{label} (as given)"
        rows.append((label, arm.label, ref))
    return tuple(r for r in rows if r[0])


# -- report --------------------------------------------------------------------------------
def claim_blocks(table: pd.DataFrame, figure: str | None = None) -> list[tuple[str, Any]]:
    """Report blocks (heading, explanation, table, figure) for the claims section."""
    blocks: list[tuple[str, Any]] = [("h2", "Stakeholders' claims tested")]
    blocks.append(("p", "Each row compares a scenario with its reference on the same seeds "
                   "at the end of the run. A claim holds when the 95% interval of the paired "
                   "difference lies entirely on the side the claim expects (for 'no change', "
                   "entirely within the stated share of the reference mean), does not hold "
                   "when it lies entirely on the other side (outside the band), and is "
                   "inconclusive otherwise. Grid rows repeat the test over the range of the "
                   "uncertain parameter. 'Depends on an assumed effect size' marks results "
                   "that follow from a parameter no publication gives: the model shows what "
                   "that assumption implies, not that it is true."))
    blocks.append(("table", claims_display(table)))
    counts = table["verdict"].value_counts()
    blocks.append(("p", "Verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}"
                                                for v in (HOLDS, FAILS, INCONCLUSIVE))
                   + f" (of {len(table)} rows). Every row with its numbers is in claims.csv."))
    if figure:
        blocks.append(("img", (figure, "Claims: paired differences relative to the reference")))
    return blocks


VERDICT_COLOURS = {HOLDS: "#1b7837", FAILS: "#b2182b", INCONCLUSIVE: "#777777"}


def claims_figure(table: pd.DataFrame, path: Any) -> Any:
    """Forest plot of every claim row: difference as % of the reference mean, by verdict."""
    from pathlib import Path

    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from sim.figures import _save

    t = table[table["n"] > 0].reset_index(drop=True)
    path = Path(path)
    ref = t["reference_mean"].abs().where(t["reference_mean"] != 0)
    rel = pd.DataFrame({c: 100 * t[c] / ref for c in ("mean_diff", "ci_low", "ci_high")})
    same = t.duplicated(["id", "label", "parameters"], keep=False)
    labels = []
    for k, r in enumerate(t.itertuples()):
        extra = [] if r.parameters == "as given" else [r.parameters]
        if same[k]:
            extra.insert(0, f"{r.scenario.split(' [')[0]} vs {r.reference.split(' [')[0]}")
        if not r.reference_mean:
            extra.append("reference 0: see the table")
        labels.append(f"{r.id} {_short(r.label)}" + (f"\n[{'; '.join(extra)}]" if extra else ""))
    fig = Figure(figsize=(10, max(2.5, 0.36 * len(t) + 1.6)))
    ax = fig.subplots()
    y = np.arange(len(t))[::-1]
    for k, r in enumerate(t.itertuples()):
        colour = VERDICT_COLOURS[r.verdict]
        m, lo, hi = rel.loc[k, "mean_diff"], rel.loc[k, "ci_low"], rel.loc[k, "ci_high"]
        if np.isnan(m):
            continue
        err = [[np.nan_to_num(m - lo)], [np.nan_to_num(hi - m)]]
        ax.errorbar([m], [y[k]], xerr=err, fmt="o", color=colour, ms=4, elinewidth=1.8,
                    capsize=2)
        if r.expect in BANDED and r.tolerance:
            band = 100 * r.tolerance
            ax.plot([-band, band], [y[k], y[k]], color=colour, alpha=0.2, lw=7,
                    solid_capstyle="butt")
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_ylim(-0.7, len(t) - 0.3)
    ax.set_xlabel("scenario minus reference, % of the reference mean (95% interval)",
                  fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=c, marker="o", lw=1.8, label=v)
               for v, c in VERDICT_COLOURS.items()]
    handles.append(Line2D([], [], color="0.5", alpha=0.3, lw=7,
                          label="band of 'no change' (tolerance)"))
    ax.legend(handles=handles, fontsize=8, loc="best", frameon=False)
    ax.set_title("Claims in the model: paired differences at the end of the run", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
