"""The explorer's charts: time series of both arms and paired differences with intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.explorer.state import RUN_START, SERIES, Comparison

COLOURS = {"baseline": "#7f7f7f", "configuration": "#1f62b4"}


def series_figure(comparison: Comparison) -> Figure:
    """Weekly series of the run area, both arms: mean over seeds, band = range over seeds."""
    fig = Figure(figsize=(8.0, 5.2), dpi=90, layout="constrained")
    axes = fig.subplots(2, 2, sharex=True).ravel()
    start = comparison.policy_start
    for ax, column in zip(axes, SERIES, strict=True):
        title, unit, _ = SERIES[column]
        for arm, frame in comparison.series(column).items():
            ax.fill_between(frame["year"], frame["lo"], frame["hi"], color=COLOURS[arm],
                            alpha=0.18, lw=0)
            ax.plot(frame["year"], frame["mean"], color=COLOURS[arm], lw=1.4, label=arm)
        if start > RUN_START + 0.01:
            ax.axvline(start, color="black", lw=0.8, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="x", useOffset=False)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="best")
    for ax in axes[2:]:
        ax.set_xlabel("year (31 March 2019 = 2019.25)", fontsize=8)
    n = len(comparison.seeds)
    fig.suptitle(f"Run area, mean of {n} seed{'s' if n != 1 else ''} (band: range over seeds)",
                 fontsize=9)
    return fig


def difference_figure(summary: pd.DataFrame, group: str = "RCC members") -> Figure:
    """Paired differences (configuration - baseline), one row per outcome on its own
    scale, each with its 95% t-interval over seeds."""
    rows = summary[summary["group"] == group].reset_index(drop=True)
    n = max(len(rows), 1)
    height = 0.55 * n + 0.9
    fig = Figure(figsize=(8.0, height), dpi=90)
    fig.subplots_adjust(left=0.42, right=0.8, top=1 - 0.45 / height, bottom=0.3 / height,
                        hspace=1.0)
    axes = np.atleast_1d(fig.subplots(n, 1))
    for ax, row in zip(axes, rows.itertuples(), strict=False):
        finite = math.isfinite(row.ci_low)
        span = max(abs(row.difference), *(abs(v) for v in (row.ci_low, row.ci_high)
                                          if finite)) * 1.25
        span = span if span > 1e-6 else 1.0
        if finite:
            ax.plot([row.ci_low, row.ci_high], [0, 0], color=COLOURS["configuration"], lw=2.5)
        ax.plot([row.difference], [0], "o", color=COLOURS["configuration"], ms=5)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlim(-span, span)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=6, length=2, pad=1)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.text(-0.03, 0.3, f"{row.outcome} ({row.unit})", transform=ax.transAxes,
                ha="right", va="center", fontsize=8)
        interval = (f" ({row.ci_low:+.2f} to {row.ci_high:+.2f})" if finite
                    else " (one seed: no interval)")
        ax.text(1.03, 0.3, f"{row.difference:+.2f}{interval}", transform=ax.transAxes,
                ha="left", va="center", fontsize=8)
    fig.suptitle(f"{group}: configuration − baseline on the same seeds (bars: 95% t-interval)",
                 fontsize=9)
    return fig

