"""How well a run reproduces each LA's published figures.

DfE's LA-level table is for 31 March 2019, the model's starting point. The stock is
seeded from it, so the fair comparison is after the model's own dynamics have run: the
31 March snapshot a year or more later (entries by LA, exits, moves and the market
decide the stock and placement mix by then). Published values are scaled by the run's
``scale`` so that a 1-in-10 run compares like with like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.data import load_la_figures
from sim.results import RunResult

SIM_GROUPS = {
    "foster": ("n_kinship", "n_la_foster", "n_ifa_foster"),
    "residential": ("n_la_home", "n_private_home", "n_supported"),
    "with_parents": ("n_with_parents",),
    "adoption": ("n_adoption",),
}


def la_fit_table(result: RunResult, year: int | None = None) -> pd.DataFrame:
    """Simulated vs published children looked after and placement mix, per LA.

    ``year`` picks the 31 March snapshot (default: one year after the start, or the
    last one available).
    """
    by_la = result.by_la
    annual = result.annual
    years = sorted(annual["year"].unique())
    if year is None:
        year = years[min(1, len(years) - 1)]
    week = int(annual.loc[annual["year"] == year, "week"].iloc[0])
    snap = by_la[by_la["week"] == week].set_index("la")
    scale = float(result.meta.get("scale", 1.0))
    rows = []
    for la in load_la_figures():
        if la.ons_code not in snap.index:
            continue
        s = snap.loc[la.ons_code]
        mix = la.placement_mix()
        n_sim = float(s["children_in_care"])
        row = {
            "la": la.ons_code, "la_name": la.name, "region": la.region,
            "published_cla_2019": la.cla_2019 * scale, "simulated_cla": n_sim,
        }
        row["cla_error_pct"] = (100 * (n_sim - row["published_cla_2019"])
                                / max(row["published_cla_2019"], 1e-9))
        for group, cols in SIM_GROUPS.items():
            sim_share = sum(float(s[c]) for c in cols) / n_sim if n_sim else np.nan
            row[f"published_{group}_share"] = mix[group]
            row[f"simulated_{group}_share"] = sim_share
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs["year"] = int(year)
    return table


def fit_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One line per measure: median absolute error and correlation across LAs."""
    out = [{
        "measure": "children looked after",
        "median_abs_error": float(table["cla_error_pct"].abs().median()),
        "unit": "% of published",
        "correlation": float(table["published_cla_2019"].corr(table["simulated_cla"])),
    }]
    for group in SIM_GROUPS:
        pub, sim = table[f"published_{group}_share"], table[f"simulated_{group}_share"]
        out.append({
            "measure": f"{group} share",
            "median_abs_error": float(100 * (sim - pub).abs().median()),
            "unit": "percentage points",
            "correlation": float(pub.corr(sim)),  # pairwise: LAs with no children drop out
        })
    return pd.DataFrame(out)
