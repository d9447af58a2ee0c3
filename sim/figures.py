"""Figures for an experiment, drawn for a policy audience (matplotlib, no display needed).

* :func:`timeseries_figure`: each arm's national series, mean over seeds with a 95% band.
* :func:`differences_figure`: paired differences against the baseline with 95%
  intervals (a forest plot), one panel per outcome.
* :func:`map_figure`: England by LA, every LA's real postcodes coloured by its value.
* :func:`flows_figure`: where each region's children are placed (out-of-area flows).

Every axis says what it measures and in which unit; figures are written as PNG through
matplotlib's object API (no pyplot), so no display is needed and a notebook's backend is
left alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.summary import diff_unit, outcome_info

DPI = 130
COLOURS = mpl.colormaps["tab10"].colors


def _axis_label(outcome: str, difference: bool = False) -> str:
    info = outcome_info(outcome)
    unit = diff_unit(info.unit) if difference else info.unit
    return f"{info.label} ({unit})" if unit else info.label


def _wrap(text: str, width: int = 38) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + len(w) + 1 > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join([*lines, line])


def timeseries_figure(bands: pd.DataFrame, outcomes: list[str], path: Path,
                      arms: list[str]) -> Path:
    """National series per arm: mean over seeds, shaded 95% interval."""
    outcomes = [o for o in outcomes if o in set(bands["outcome"])]
    ncols = 2 if len(outcomes) > 1 else 1
    nrows = max(1, math.ceil(len(outcomes) / ncols))
    fig = Figure(figsize=(6.2 * ncols, 3.4 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        for i, arm in enumerate(arms):
            b = bands[(bands["arm"] == arm) & (bands["outcome"] == outcome)]
            if b.empty:
                continue
            colour = COLOURS[i % len(COLOURS)]
            ax.plot(b["date"], b["mean"], color=colour, lw=1.6, label=arm)
            ax.fill_between(b["date"], b["ci_low"], b["ci_high"], color=colour, alpha=0.2,
                            lw=0)
        ax.set_title(_wrap(outcome_info(outcome).label, 60), fontsize=10)
        ax.set_ylabel(outcome_info(outcome).unit or "value", fontsize=9)
        ax.set_xlabel("date (the model starts on 31 March 2019)", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    n = int(bands.groupby("arm")["n"].max().min()) if len(bands) else 0
    fig.suptitle(f"National outcomes over time: mean of {n} runs per scenario, shaded 95% "
                 "interval", fontsize=11)
    fig.legend(handles, labels, loc="lower center", ncol=min(3, len(labels)), fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0.04 + 0.03 * math.ceil(len(labels) / 3), 1, 0.96))
    return _save(fig, path)


def differences_figure(summary: pd.DataFrame, outcomes: list[str], path: Path) -> Path:
    """Forest plot: mean paired difference and 95% interval per comparison and outcome."""
    s = summary[(summary["level"] == "england") & summary["outcome"].isin(outcomes)
                & (summary["n"] > 0)]
    outcomes = [o for o in outcomes if o in set(s["outcome"])]
    arms = list(dict.fromkeys(s["arm"]))
    ncols = 2 if len(outcomes) > 1 else 1
    nrows = max(1, math.ceil(len(outcomes) / ncols))
    height = max(2.0, 0.45 * len(arms) + 1.3)
    fig = Figure(figsize=(6.4 * ncols, height * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    y = np.arange(len(arms))[::-1]
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        rows = s[s["outcome"] == outcome].set_index("arm").reindex(arms)
        ax.set_ylim(-0.6, len(arms) - 0.4)
        mean = rows["mean_diff"].to_numpy(dtype=float)
        lo = rows["ci_low"].to_numpy(dtype=float)
        hi = rows["ci_high"].to_numpy(dtype=float)
        for k in range(len(arms)):
            if np.isnan(mean[k]):
                continue
            colour = "#b2182b" if lo[k] > 0 or hi[k] < 0 else "#2166ac"
            err = [[np.nan_to_num(mean[k] - lo[k])], [np.nan_to_num(hi[k] - mean[k])]]
            ax.errorbar([mean[k]], [y[k]], xerr=err, fmt="o", color=colour, ms=4.5,
                        elinewidth=2, capsize=3)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_yticks(y, [_wrap(a, 34) for a in arms], fontsize=8)
        ax.set_title(_wrap(outcome_info(outcome).label, 60), fontsize=10)
        ax.set_xlabel(f"difference from baseline ({diff_unit(outcome_info(outcome).unit)})",
                      fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(outcomes):]:
        ax.set_visible(False)
    fig.suptitle("Scenario minus baseline at the end of the run, paired by seed: mean and "
                 "95% interval\n(red: interval excludes zero)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return _save(fig, path)


def map_figure(values: pd.Series, path: Path, title: str, colour_label: str,
               diverging: bool, las_in_run: set[str] | None = None) -> Path:
    """England by LA: a sample of each LA's real postcodes coloured by the LA's value.

    ``values`` maps ONS LA codes to numbers; LAs without a value are drawn grey. A run
    on some LAs only (``las_in_run``) is drawn zoomed to them, with their names.
    """
    from sim.geography import load_geography

    geo = load_geography()
    la_of = np.repeat(np.arange(len(geo.las)), np.diff(geo.offsets))
    east, north = geo.easting / 1e3, geo.northing / 1e3
    per_la = np.array([values.get(la.ons_code, np.nan) for la in geo.las], dtype=float)
    in_run = np.array([las_in_run is None or la.ons_code in las_in_run for la in geo.las])
    zoom = bool(in_run.any() and not in_run.all())
    if zoom:
        inside = in_run[la_of]
        x0, x1 = east[inside].min(), east[inside].max()
        y0, y1 = north[inside].min(), north[inside].max()
        pad = 0.15 * max(x1 - x0, y1 - y0, 20.0)
        view = ((east >= x0 - pad) & (east <= x1 + pad)
                & (north >= y0 - pad) & (north <= y1 + pad))
    else:
        view = np.ones(len(la_of), dtype=bool)
    idx = np.flatnonzero(view)
    idx = idx[:: max(1, len(idx) // 150_000)]  # enough dots to fill every LA
    east, north, v = east[idx], north[idx], per_la[la_of[idx]]
    has = ~np.isnan(v)
    size = 0.3 if not zoom else 1.2
    fig = Figure(figsize=(7.2, 8.4))
    ax = fig.subplots()
    ax.set_facecolor("#dde6ee")  # so LAs coloured white (no change) stand out
    ax.scatter(east[~has], north[~has], s=size, c="0.72", lw=0, rasterized=True)
    if has.any():
        finite = per_la[~np.isnan(per_la)]
        if diverging:
            span = float(np.max(np.abs(finite))) or 1.0
            vmin, vmax, cmap = -span, span, "RdBu_r"
        else:
            vmin, vmax, cmap = float(finite.min()), float(finite.max()), "viridis"
            if vmin == vmax:
                vmin, vmax = vmin - 1, vmax + 1
        points = ax.scatter(east[has], north[has], s=size, c=v[has], cmap=cmap, vmin=vmin,
                            vmax=vmax, lw=0, rasterized=True)
        bar = fig.colorbar(points, ax=ax, shrink=0.6, pad=0.02)
        bar.set_label(colour_label, fontsize=9)
    if zoom:
        ax.set_xlim(east.min(), east.max())
        ax.set_ylim(north.min(), north.max())
    centroids = geo.centroids / 1e3
    if zoom and in_run.sum() <= 40:  # name the LAs in the run
        labels = [(la.name, centroids[la.index]) for la in geo.las if in_run[la.index]]
    else:  # name the regions
        labels = [(r, centroids[[la.index for la in geo.las if la.region == r]].mean(axis=0))
                  for r in geo.regions]
    for text, (cx, cy) in labels:
        ax.annotate(text, (cx, cy), fontsize=7, ha="center", color="0.15",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.6, "lw": 0},
                    annotation_clip=True)
    ax.set_aspect("equal")
    ax.set_xlabel("OS grid easting (km)", fontsize=9)
    ax.set_ylabel("OS grid northing (km)", fontsize=9)
    ax.set_title(_wrap(title, 70), fontsize=10)
    ax.text(0.01, 0.01, "Each dot is a postcode (ONS Postcode Directory), coloured by its LA;"
            " grey: not in the run or no value", transform=ax.transAxes, fontsize=7, color="0.3")
    fig.tight_layout()
    return _save(fig, path)


def flows_figure(flows: pd.DataFrame, reference: str, arm: str | None, path: Path,
                 regions: list[str]) -> Path:
    """Share of each home region's children placed in each region, and the change."""
    def matrix(label: str) -> pd.DataFrame:
        f = flows[flows["arm"] == label]
        m = f.pivot_table(index="home_region", columns="placed_region", values="children",
                          aggfunc="sum", fill_value=0.0)
        present = [r for r in regions if r in m.index or r in m.columns]
        m = m.reindex(index=present, columns=present, fill_value=0.0)
        return 100 * m.div(m.sum(axis=1).where(m.sum(axis=1) > 0), axis=0)

    ref = matrix(reference)
    panels = [(ref, f"{reference}: % of each home region's children placed in each "
               "region", False)]
    if arm is not None:
        panels.append((matrix(arm) - ref, f"{arm} minus {reference} (percentage points)",
                       True))
    n = len(ref)
    fig = Figure(figsize=(len(panels) * (0.55 * n + 4.0), 0.55 * n + 3.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (m, title, diverging) in zip(axes.flat, panels, strict=True):
        data = m.to_numpy(dtype=float)
        if diverging:
            span = float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 1.0
            image = ax.imshow(data, cmap="RdBu_r", vmin=-(span or 1.0), vmax=span or 1.0)
            fmt = "{:+.1f}"
        else:
            image = ax.imshow(data, cmap="Blues", vmin=0, vmax=100)
            fmt = "{:.0f}"
        for (i, j), value in np.ndenumerate(data):
            if np.isfinite(value) and (diverging or value >= 0.5):
                light = not diverging and value > 60
                ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7,
                        color="white" if light else "black")
        ax.set_xticks(range(n), [_wrap(r, 14) for r in m.columns], rotation=60, ha="right",
                      fontsize=7)
        ax.set_yticks(range(n), list(m.index), fontsize=7)
        ax.set_xlabel("region where the child is placed", fontsize=9)
        ax.set_ylabel("child's home region", fontsize=9)
        ax.set_title(_wrap(title, 55), fontsize=9)
        bar = fig.colorbar(image, ax=ax, shrink=0.7)
        bar.set_label("percentage points" if diverging else "% of the home region's children",
                      fontsize=8)
    fig.suptitle("Out-of-area placements between regions at the end of the run (mean over "
                 "seeds; off-diagonal: placed in another region)", fontsize=10)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=DPI)
    tmp.replace(path)
    return path
