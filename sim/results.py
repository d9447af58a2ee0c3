"""Run results as tidy tables, written with their provenance.

Every result directory holds the tables (Parquet and CSV) and ``run.json`` with the
scenario (as data), the seed, the package version, the git commit if known, a hash of
the model code (:mod:`sim.provenance`) and the date, so a result can always be traced
to what produced it and re-run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim import __version__
from sim.provenance import code_fingerprint
from sim.types import TYPE_NAMES

if TYPE_CHECKING:
    from sim.model import CareMarketModel

WEEKS_PER_YEAR = 52.1775

def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


@dataclass
class RunResult:
    """What one run produced: weekly national series, per-LA and 31 March tables."""

    national: pd.DataFrame
    by_la: pd.DataFrame
    annual: pd.DataFrame
    episodes: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    annual_england: pd.DataFrame = field(default_factory=pd.DataFrame)
    policy_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Tables that policies add (e.g. an RCC's regional sufficiency view), by name."""
    children: pd.DataFrame = field(default_factory=pd.DataFrame)
    """One row per child in care during the run (demographics, exit, open placement)."""

    @classmethod
    def from_model(cls, model: CareMarketModel) -> RunResult:
        dc = model.outcomes.datacollector
        national = dc.get_model_vars_dataframe().reset_index(drop=True)
        start = dt.date(model.scenario.start_year, 3, 31)
        national.insert(1, "date", [start + dt.timedelta(weeks=int(w)) for w in national["week"]])
        # Decimal calendar year: 31 March is about .25 into the year.
        national.insert(2, "year",
                        model.scenario.start_year + 0.25 + national["week"] / WEEKS_PER_YEAR)
        by_la = dc.get_table_dataframe("la")
        annual = dc.get_table_dataframe("annual")
        names = {la.ons_code: (la.name, la.region) for la in model.geography.las}
        for frame in (by_la, annual):
            if len(frame):
                frame.insert(frame.columns.get_loc("la") + 1, "la_name",
                             frame["la"].map(lambda c: names[c][0]))
                frame.insert(frame.columns.get_loc("la_name") + 1, "region",
                             frame["la"].map(lambda c: names[c][1]))
        episodes = model.outcomes.episodes.to_frame()
        episodes["placement_type"] = pd.Categorical.from_codes(
            episodes["placement_type"].astype(int), categories=list(TYPE_NAMES))
        meta = {
            "scenario": model.scenario.name,
            "scenario_file": model.scenario.source_file,
            "scenario_data": model.scenario.to_dict(),
            "seed": model.seed,
            "scale": model.scenario.scale,
            "weeks": int(model.week),
            "package": "care-market-sim",
            "version": __version__,
            "git_commit": _git_commit(),
            "code": code_fingerprint(),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        policy_tables: dict[str, pd.DataFrame] = {}
        for policy in model.policies:
            for name, frame in policy.outputs(model).items():
                policy_tables[name] = frame
        meta["policies"] = [p.to_dict() for p in model.policies]
        meta["policy_tables"] = sorted(policy_tables)
        return cls(national, by_la, annual, episodes, meta,
                   dc.get_table_dataframe("annual_england"), policy_tables,
                   model.outcomes.child_log.to_frame(model))

    # -- summaries -----------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Headline outcomes at the start and end of the run (national)."""
        first, last = self.national.iloc[0], self.national.iloc[-1]
        a = self.annual
        rows: list[dict[str, Any]] = []

        def add(label: str, unit: str, start: float, end: float) -> None:
            rows.append({"outcome": label, "unit": unit, "start": start, "end": end})

        add("children in care", "children", first.children_in_care, last.children_in_care)
        add("sufficiency: in the kind of home needs call for", "%", 100 * first.sufficiency,
            100 * last.sufficiency)
        add("emergency/unregistered placements", "children", first.emergency, last.emergency)
        add("placed > 20 miles from home", "%", 100 * first.share_far_20_miles,
            100 * last.share_far_20_miles)
        add("placed outside own LA", "%", 100 * first.share_outside_la,
            100 * last.share_outside_la)
        add("weekly placement spend", "£m/week", first.weekly_spend / 1e6,
            last.weekly_spend / 1e6)
        for name, label in (("n_la_foster", "LA foster"), ("n_ifa_foster", "IFA foster"),
                            ("n_kinship", "kinship foster"),
                            ("n_private_home", "private/voluntary home"),
                            ("n_la_home", "LA home"), ("n_supported", "supported")):
            add(f"share in {label}", "%", 100 * first[name] / max(first.children_in_care, 1),
                100 * last[name] / max(last.children_in_care, 1))
        add("children's homes open", "homes", first.homes_open, last.homes_open)
        add("foster households (mainstream)", "households", first.foster_households,
            last.foster_households)
        add("mean price, private children's home", "£/week", first.mean_price_private_home,
            last.mean_price_private_home)
        add("mean price, IFA placement", "£/week", first.mean_price_ifa, last.mean_price_ifa)
        add("operating margin, children's homes", "%", 100 * first.margin_homes,
            100 * last.margin_homes)
        add("children displaced by closures (cumulative)", "children", 0,
            last.children_displaced)
        if len(a):
            an = self.annual_national()
            y0, y1 = an.iloc[min(1, len(an) - 1)], an.iloc[-1]
            add("3+ placements in the year to 31 March", "%", 100 * y0.share_3plus_placements,
                100 * y1.share_3plus_placements)
            add("siblings separated (of children with siblings in care)", "%",
                100 * y0.share_siblings_separated, 100 * y1.share_siblings_separated)
        return pd.DataFrame(rows)

    def annual_national(self) -> pd.DataFrame:
        """31 March snapshots summed over LAs, with the shares DfE publishes."""
        a = self.annual.copy()
        a["n_3plus"] = a["share_3plus_placements"] * a["children_in_care"]
        g = a.groupby("year").sum(numeric_only=True)
        out = pd.DataFrame({
            "children_in_care": g["children_in_care"],
            "starts": g["starts"], "ceased": g["ceased"], "moves": g["moves"],
            "share_3plus_placements": g["n_3plus"] / g["children_in_care"],
            "share_siblings_separated": g["siblings_separated"] / g["siblings_in_care"].clip(1),
        })
        out["share_homes_far_20_miles"] = g["homes_far_20_miles"] / g["in_homes"].clip(1)
        for col in ("age_under_1", "age_1_4", "age_5_9", "age_10_15", "age_16_17"):
            out[f"share_{col}"] = g[col] / g["children_in_care"]
        out = out.reset_index()
        if len(self.annual_england):
            out = out.merge(self.annual_england.drop(columns="week"), on="year", how="left")
        return out

    # -- writing -------------------------------------------------------------------------
    def write(self, out_dir: str | Path) -> Path:
        """Write every table (Parquet + CSV) and ``run.json``; files appear atomically."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        from sim.validation import la_fit_table

        tables = {"national": self.national, "by_la": self.by_la, "annual": self.annual,
                  "annual_england": self.annual_england, "episodes": self.episodes,
                  "summary": self.summary(), **self.policy_tables}
        if len(self.children):
            tables["children"] = self.children
        if self.annual["year"].nunique() > 1:
            tables["la_fit"] = la_fit_table(self)
        for name, frame in tables.items():
            _atomic(out / f"{name}.parquet", lambda p, f=frame: f.to_parquet(p, index=False))
            if name not in ("episodes", "children"):
                _atomic(out / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
        _atomic(out / "run.json",
                lambda p: Path(p).write_text(json.dumps(self.meta, indent=2, default=_json)))
        return out

    @classmethod
    def read(cls, out_dir: str | Path) -> RunResult:
        out = Path(out_dir)
        meta = json.loads((out / "run.json").read_text())
        policy_tables = {name: pd.read_parquet(out / f"{name}.parquet")
                         for name in meta.get("policy_tables", [])}
        return cls(pd.read_parquet(out / "national.parquet"),
                   pd.read_parquet(out / "by_la.parquet"),
                   pd.read_parquet(out / "annual.parquet"),
                   pd.read_parquet(out / "episodes.parquet"), meta,
                   pd.read_parquet(out / "annual_england.parquet"), policy_tables,
                   pd.read_parquet(out / "children.parquet")
                   if (out / "children.parquet").exists() else pd.DataFrame())


def _json(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _atomic(path: Path, write) -> None:
    """Write to a temporary file and rename, so a killed run never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix + ".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
