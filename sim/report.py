"""The experiment report: ``report.md`` and ``report.html`` from finished runs.

Rebuilt from the results folder alone (``sim report DIR``), so a report can be
regenerated at any time without rerunning anything. It holds the headline table of
paired differences, figures, regional/RCC/LA tables, failed runs and the provenance
(experiment and scenario text, seeds, package version, git commit, dates).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.store import FAILED, ResultsStore, atomic_write_text
from sim.summary import (
    AREA_OUTCOMES,
    HEADLINE,
    Loaded,
    format_difference,
    load,
    national_series,
    outcome_info,
    region_flows,
    series_bands,
    summarise,
)

Block = tuple[str, Any]


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    markdown: Path
    html: Path
    summary_csv: Path
    figures: dict[str, Path]
    table: pd.DataFrame
    """England-level paired differences for the headline outcomes."""


def chosen_outcomes(manifest: dict[str, Any], available: set[str]) -> list[str]:
    """The experiment's ``outcomes`` list, else the headline outcomes the runs have."""
    wanted = manifest.get("outcomes") or list(HEADLINE)
    return [o for o in wanted if o in available]


def write_summary(loaded: Loaded) -> tuple[pd.DataFrame, Path]:
    """Paired differences at every level, written as ``summary.csv`` and Parquet."""
    summary = summarise(loaded)
    root = loaded.store.root
    atomic_write_text(root / "summary.csv", summary.to_csv(index=False))
    summary.to_parquet(root / "summary.parquet", index=False)
    return summary, root / "summary.csv"


def build_report(out_dir: str | Path, map_outcome: str | None = None) -> Report:
    """Summary tables, figures and report.md/report.html for a results folder."""
    from sim import figures

    loaded = load(ResultsStore(out_dir))
    manifest = loaded.manifest
    root = loaded.store.root
    summary, summary_csv = write_summary(loaded)
    outcomes = chosen_outcomes(manifest, set(loaded.values["outcome"]))
    arms = [a["label"] for a in manifest["arms"]]
    baseline = arms[0]
    comparisons = loaded.comparisons
    fig_dir = root / "figures"
    made: dict[str, Path] = {}
    if len(loaded.values):
        series = national_series(loaded, [o for o in outcomes if o not in
                                           ("share_3plus_placements",
                                            "share_siblings_separated")][:6])
        made["timeseries"] = figures.timeseries_figure(series_bands(series),
                                                       list(dict.fromkeys(series["outcome"])),
                                                       fig_dir / "timeseries.png", arms)
        if len(summary):
            made["differences"] = figures.differences_figure(summary, outcomes,
                                                             fig_dir / "differences.png")
        map_outcome = map_outcome or next((o for o in outcomes if o in AREA_OUTCOMES),
                                          "sufficiency")
        featured = _featured(summary, comparisons, map_outcome)
        made["map"] = _map(loaded, summary, featured, baseline, map_outcome,
                           fig_dir / "map.png")
        flows = region_flows(loaded)
        if len(flows):
            from sim.geography import load_geography

            arm, ref = featured or (None, baseline)
            made["flows"] = figures.flows_figure(flows, ref, arm, fig_dir / "flows.png",
                                                 list(load_geography().regions))
    england = summary[(summary["level"] == "england") & summary["outcome"].isin(outcomes)]
    blocks = _blocks(loaded, summary, england, outcomes, made, root, map_outcome)
    if manifest.get("claims"):  # stakeholders' claims (sim.claims): table, figure, claims.csv
        from sim.claims import claim_blocks, claims_figure, claims_table

        claims = claims_table(loaded)
        atomic_write_text(root / "claims.csv", claims.to_csv(index=False))
        if len(claims) and (claims["n"] > 0).any():
            made["claims"] = claims_figure(claims, fig_dir / "claims.png")
        at = next((i for i, (kind, text) in enumerate(blocks)
                   if kind == "h2" and text != "How to read this"), len(blocks))
        blocks[at:at] = claim_blocks(claims, made.get("claims"))
    md_path, html_path = root / "report.md", root / "report.html"
    atomic_write_text(md_path, render_markdown(blocks))
    atomic_write_text(html_path, render_html(blocks, f"Experiment {manifest['name']}"))
    return Report(md_path, html_path, summary_csv, made, england)


def _featured(summary: pd.DataFrame, comparisons: list[tuple[str, str]],
              outcome: str) -> tuple[str, str] | None:
    """The comparison the map and flow figures show: the largest change in ``outcome``."""
    if not comparisons:
        return None
    la = summary[(summary["level"] == "la") & (summary["outcome"] == outcome)]
    size = la.groupby("arm")["mean_diff"].apply(lambda d: d.abs().mean())
    best = max(comparisons, key=lambda c: size.get(c[0], -1.0))
    return best


def _map(loaded: Loaded, summary: pd.DataFrame, featured: tuple[str, str] | None,
         baseline: str, outcome: str, path: Path) -> Path:
    from sim import figures
    from sim.summary import arm_levels

    info = outcome_info(outcome)
    in_run = {code for counts in loaded.counts.values() for code in counts.index}
    if featured:
        arm, ref = featured
        s = summary[(summary["level"] == "la") & (summary["outcome"] == outcome)
                    & (summary["arm"] == arm)]
        values = s.set_index("area")["mean_diff"]
        unit = "pp" if info.unit == "%" else info.unit
        return figures.map_figure(values, path,
                                  f"{info.label}: {arm} minus {ref}, by LA (mean paired "
                                  "difference at the end of the run)",
                                  f"difference ({unit})", diverging=True, las_in_run=in_run)
    levels = arm_levels(loaded, "la")
    values = levels[(levels["arm"] == baseline) & (levels["outcome"] == outcome)]
    return figures.map_figure(values.set_index("area")["mean"], path,
                              f"{info.label} by LA, {baseline} (mean over seeds)",
                              f"{info.label} ({info.unit})", diverging=False,
                              las_in_run=in_run)


# -- content -------------------------------------------------------------------------------
def _num(value: float) -> str:
    if value != value:
        return "–"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}"


def headline_table(england: pd.DataFrame, arm: str) -> pd.DataFrame:
    rows = england[england["arm"] == arm]
    return pd.DataFrame({
        "outcome": rows["label"], "unit": rows["unit"],
        "baseline": rows["reference_mean"].map(_num),
        "scenario": rows["scenario_mean"].map(_num),
        "difference (95% interval)": [format_difference(r, r.diff_unit)
                                      for r in rows.itertuples()],
        "seeds": rows["n"],
    })


def area_table(summary: pd.DataFrame, arm: str, level: str, outcomes: list[str]) -> pd.DataFrame:
    s = summary[(summary["arm"] == arm) & (summary["level"] == level)
                & summary["outcome"].isin(outcomes)]
    if s.empty:
        return pd.DataFrame()
    s = s.assign(cell=[format_difference(r) for r in s.itertuples()])
    table = s.pivot_table(index="area_name", columns="outcome", values="cell", aggfunc="first",
                          sort=False)
    table = table[[o for o in outcomes if o in table.columns]]
    table.columns = [f"{outcome_info(o).label} ({_unit(o)})" for o in table.columns]
    return table.reset_index().rename(columns={"area_name": level if level != "la" else "LA"})


def _unit(outcome: str) -> str:
    unit = outcome_info(outcome).unit
    return "pp" if unit == "%" else unit


def _blocks(loaded: Loaded, summary: pd.DataFrame, england: pd.DataFrame,
            outcomes: list[str], made: dict[str, Path], root: Path,
            map_outcome: str | None) -> list[Block]:
    m = loaded.manifest
    runs = loaded.runs
    infos = [loaded.store.info(k) for k in runs.loc[runs["status"] == "done", "key"].unique()]
    commits = sorted({i.get("git_commit") or "unknown" for i in infos})
    created = sorted(i.get("created", "") for i in infos if i.get("created"))
    scales = sorted({a["scale"] for a in m["arms"]})
    b: list[Block] = [("h1", f"Experiment: {m['name']}")]
    if m.get("description"):
        b.append(("p", m["description"]))
    n_done = int((runs["status"] == "done").sum())
    b.append(("p", f"{len(m['arms'])} scenario arms × {len(m['seeds'])} seeds "
              f"({', '.join(map(str, m['seeds']))}), {m['years']:g} year{'s' * (m['years'] != 1)} "
              "from 31 March 2019, "
              f"scale {', '.join(f'{s:g}' for s in scales)} of England. "
              f"{n_done} of {len(runs)} arm-seed runs finished."))
    b.append(("h2", "How to read this"))
    b.append(("p", "Every scenario is run on the same seeds as its baseline, so run i of a "
              "scenario and run i of the baseline share the same children, carers and shocks "
              "wherever the policy does not change them (common random numbers). Differences "
              "are taken seed by seed at the end of the run; the table gives their mean and "
              "a 95% t-interval. An interval that excludes zero means the difference is "
              "larger than run-to-run noise at this number of seeds; it does not make the "
              "model's assumptions true. Shares are in per cent and their differences in "
              "percentage points (pp); spend is in £ million a week."))
    if scales and min(scales) < 1:
        b.append(("p", "At a scale below 1 each LA has fewer vacancies than England has, so "
                  "distances and sibling separation are overstated; compare them with care."))
    if m.get("invalid") or any(a.get("invalid") for a in m["arms"]):
        bad = [f"{a['label']}: {a['invalid']}" for a in m["arms"] if a.get("invalid")]
        b.append(("p", "Arms with invalid parameters (their runs fail): " + "; ".join(bad)))
    for arm, reference in loaded.comparisons:
        b.append(("h2", f"{arm} vs {reference} (England)"))
        table = headline_table(england, arm)
        b.append(("table", table) if len(table) else ("p", "No finished pairs of runs."))
    if "differences" in made:
        b.append(("img", (made["differences"], "Paired differences with 95% intervals")))
    if "timeseries" in made:
        b.append(("h2", "Over time"))
        b.append(("img", (made["timeseries"], "National outcomes over time")))
    area_outcomes = [o for o in outcomes if o in AREA_OUTCOMES][:4]
    for level, title in (("region", "By region"), ("rcc", "By Regional Care Cooperative")):
        for arm, _ in loaded.comparisons:
            table = area_table(summary, arm, level, area_outcomes)
            if len(table):
                b.append(("h2", f"{title}: {arm}"))
                b.append(("p", "Mean paired difference (95% interval) at the end of the run."))
                b.append(("table", table))
    if "map" in made:
        b.append(("h2", "Map by local authority"))
        b.append(("img", (made["map"], f"Map of {map_outcome} by LA")))
        featured = _featured(summary, loaded.comparisons, map_outcome or "")
        if featured and map_outcome:
            arm = featured[0]
            la = summary[(summary["level"] == "la") & (summary["arm"] == arm)
                         & (summary["outcome"] == map_outcome)].copy()
            if len(la):
                la = la.reindex(la["mean_diff"].abs().sort_values(ascending=False).index)[:10]
                b.append(("p", f"LAs with the largest change in {outcome_info(map_outcome).label}"
                          f" ({arm}); every LA is in summary.csv (level = la)."))
                b.append(("table", pd.DataFrame({
                    "LA": la["area_name"], "baseline": la["reference_mean"].map(_num),
                    "scenario": la["scenario_mean"].map(_num),
                    f"difference ({_unit(map_outcome)}, 95% interval)":
                        [format_difference(r) for r in la.itertuples()]})))
    if "flows" in made:
        b.append(("h2", "Out-of-area placements"))
        b.append(("img", (made["flows"], "Placements between regions")))
    failed = runs[runs["status"] == FAILED]
    if len(failed):
        b.append(("h2", "Failed runs"))
        rows = []
        for r in failed.itertuples():
            rows.append({"scenario arm": r.arm, "seed": r.seed, "key": r.key,
                         "error": loaded.store.info(r.key).get("error", "")})
        b.append(("table", pd.DataFrame(rows)))
        b.append(("p", "Tracebacks are in runs/<key>/error.json; failed runs are tried again "
                  "when the experiment is rerun."))
    b.append(("h2", "Scenario arms"))
    b.append(("table", pd.DataFrame([{
        "arm": a["label"], "scenario file": m["scenarios"][a["scenario"]]["file"],
        "parameters changed": ", ".join(f"{k} = {v}" for k, v in a["overrides"].items()) or "–",
        "compared with": a["reference"] or "–",
        "runs finished": f"{int(((runs['arm'] == a['label']) & (runs['status'] == 'done')).sum())}"
                         f"/{len(m['seeds'])}"} for a in m["arms"]])))
    b.append(("h2", "Provenance"))
    b.append(("table", pd.DataFrame([
        {"item": "package", "value": f"care-market-sim {m['version']}"},
        {"item": "git commit(s)", "value": ", ".join(commits) or "unknown"},
        {"item": "seeds", "value": ", ".join(map(str, m["seeds"]))},
        {"item": "years", "value": f"{m['years']:g}"},
        {"item": "runs made", "value": f"{created[0]} to {created[-1]}" if created else "–"},
        {"item": "report written",
         "value": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")},
        {"item": "experiment file", "value": m.get("experiment_file", "")},
        {"item": "tables", "value": "summary.csv (every level and outcome); runs/<key>/ "
                                    "(Parquet per run)"},
    ])))
    b.append(("h3", "Experiment file"))
    b.append(("pre", m.get("experiment_text", "")))
    for label, s in m["scenarios"].items():
        b.append(("h3", f"Scenario {label} ({s['file']})"))
        b.append(("pre", s["text"]))
    return b


# -- rendering -----------------------------------------------------------------------------
def _md_cell(value: Any) -> str:
    text = "–" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(_md_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"{'#' * int(kind[1])} {content}")
        elif kind == "p":
            out.append(content)
        elif kind == "table":
            out.append(markdown_table(content))
        elif kind == "img":
            path, alt = content
            out.append(f"![{alt}](figures/{Path(path).name})")
        elif kind == "pre":
            out.append(f"```toml\n{content.rstrip()}\n```")
    return "\n\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:.9em}
th,td{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}th{background:#f3f3f3}
img{max-width:100%;margin:1em 0}pre{background:#f6f6f6;padding:1em;overflow:auto;
font-size:.85em}h2{margin-top:2em;border-bottom:1px solid #ccc}"""


def render_html(blocks: list[Block], title: str) -> str:
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
           f"</title><style>{_CSS}</style></head><body>"]
    for kind, content in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{html.escape(content)}</p>")
        elif kind == "table":
            out.append(content.to_html(index=False, border=0, na_rep="–"))
        elif kind == "img":
            path, alt = content
            out.append(f"<img src='figures/{html.escape(Path(path).name)}' "
                       f"alt='{html.escape(alt)}'>")
        elif kind == "pre":
            out.append(f"<details><summary>show</summary><pre>{html.escape(content)}</pre>"
                       "</details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- command line --------------------------------------------------------------------------
def print_table(england: pd.DataFrame) -> None:
    """The England-level paired differences, one block per compared arm."""
    if england.empty:
        print("no finished pairs of runs to compare")
        return
    width = min(48, max(len(label) for label in england["label"]))
    for arm, rows in england.groupby("arm", sort=False):
        ref = rows["reference"].iloc[0]
        print(f"\n{arm} vs {ref} (England, end of run; {rows['n'].max()} paired seeds)")
        print(f"{'outcome':<{width}}  {'unit':<10}{'baseline':>12}{'scenario':>12}  "
              "difference (95% interval)")
        for r in rows.itertuples():
            print(f"{r.label[:width]:<{width}}  {r.unit:<10}{_num(r.reference_mean):>12}"
                  f"{_num(r.scenario_mean):>12}  {format_difference(r, r.diff_unit)}")


def compare_command(args: Any) -> int:
    """``sim compare DIR``: the summary from finished runs, without running anything."""
    loaded = load(ResultsStore(args.results))
    summary, path = write_summary(loaded)
    # Default outcomes: those the summary has (annual ones need a run of a year or more).
    outcomes = args.outcome or [
        o for o in chosen_outcomes(loaded.manifest, set(loaded.values["outcome"]))
        if o in set(summary["outcome"])]
    unknown = [o for o in outcomes if o not in set(summary["outcome"])]
    if unknown and len(summary):
        from sim.errors import SimInputError

        allowed = ", ".join(dict.fromkeys(summary["outcome"]))
        raise SimInputError(f"--outcome: unknown outcome {unknown[0]!r} (allowed: {allowed})")
    level = summary[(summary["level"] == args.level) & summary["outcome"].isin(outcomes)]
    if args.level == "england":
        print_table(level)
    else:
        for arm, rows in level.groupby("arm", sort=False):
            print(f"\n{arm} vs {rows['reference'].iloc[0]} by {args.level}: mean paired "
                  "difference (95% interval)")
            print(area_table(rows, arm, args.level, outcomes).to_string(index=False))
    if loaded.manifest.get("claims"):
        from sim.claims import claims_table, print_claims

        claims = claims_table(loaded)
        atomic_write_text(loaded.store.root / "claims.csv", claims.to_csv(index=False))
        print_claims(claims)
    runs = loaded.runs
    missing = int((runs["status"] != "done").sum())
    print(f"\n{int((runs['status'] == 'done').sum())} of {len(runs)} arm-seed runs finished"
          + (f" ({missing} failed or not run)" if missing else "") + f"; written {path}")
    return 0


def report_command(args: Any) -> int:
    """``sim report DIR``: summary, figures and report.md/html again from finished runs."""
    written = build_report(args.results, map_outcome=args.map_outcome)
    print(f"report: {written.markdown} and {written.html}; figures: "
          f"{', '.join(p.name for p in written.figures.values())}; summary: "
          f"{written.summary_csv}")
    return 0
