"""The ``sim`` subcommands for interoperability and analysis.

``export-903`` and ``validate-903`` (SSDA903 files, :mod:`sim.ssda903`), ``sensitivity``
(:mod:`sim.sensitivity`) and ``calibrate`` (:mod:`sim.calibrate`). :func:`add_commands`
registers them on the main parser's subcommands.
"""

from __future__ import annotations

import argparse
from typing import Any

from sim.errors import SimInputError


def _executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", choices=("inprocess", "pool", "dask"), default="pool",
                   help="where runs execute (default: a local process pool)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--out", help="output folder (default: results/<command>/<spec name>)")
    p.add_argument("--quiet", action="store_true", help="no progress count")


def add_commands(sub: Any) -> None:
    """Register export-903, validate-903, sensitivity and calibrate."""
    exp = sub.add_parser("export-903", help="write a run's children as SSDA903 returns "
                         "(Header, Episodes, UASC) for an LA, an RCC or England")
    exp.add_argument("results", help="a run's results folder (sim run --out)")
    exp.add_argument("--la", help="ONS or DfE code or name of one LA (comma-separated: several)")
    exp.add_argument("--rcc", help="an RCC pathfinder: greater_manchester, south_east, "
                     "south_east_home_and_future")
    exp.add_argument("--all", action="store_true", help="every LA in the run")
    exp.add_argument("--year", type=int, required=True,
                     help="collection year, ending 31 March YEAR (e.g. 2023 for 2022-23)")
    exp.add_argument("--out", required=True, help="folder for the returns (one per LA)")
    exp.add_argument("--partial-postcodes", action="store_true",
                     help="outward code + first inward digit, for sharing (default: full)")
    exp.add_argument("--validate", action="store_true",
                     help="check the files with DfE's rules (needs `make venv-903`)")
    exp.set_defaults(func=export_command)

    val = sub.add_parser("validate-903", help="check SSDA903 files with DfE's validation rules")
    val.add_argument("folder", help="a folder written by sim export-903")
    val.set_defaults(func=validate_command)

    sens = sub.add_parser("sensitivity", help="Morris screening or Sobol indices (SALib) of "
                          "outcomes over named parameters; a table and a figure")
    sens.add_argument("spec", help="sensitivity spec TOML (see sim/sensitivity.py)")
    _executor_options(sens)
    sens.set_defaults(func=_sensitivity)

    cal = sub.add_parser("calibrate", help="fit parameters to published targets; writes a "
                         "parameter file scenarios can use")
    cal.add_argument("spec", help="calibration spec TOML (see sim/calibrate.py)")
    _executor_options(cal)
    cal.set_defaults(func=_calibrate)


def export_command(args: argparse.Namespace) -> int:
    """``sim export-903``: read a run, write its returns, optionally validate them."""
    from pathlib import Path

    from sim.geography import load_geography
    from sim.results import RunResult
    from sim.ssda903 import export_run, select_las

    folder = Path(args.results)
    if not (folder / "run.json").exists():
        raise SimInputError(f"{folder}: not a run's results folder (no run.json); "
                            "write one with sim run --out")
    result = RunResult.read(folder)
    geo = load_geography()
    las = select_las(geo, args.la, args.rcc, args.all)
    in_run = set(result.children["la"].unique()) if len(result.children) else set()
    if args.all:
        las = [i for i in las if i in in_run]
    missing = [geo.las[i].ons_code for i in las if i not in in_run]
    if missing:
        raise SimInputError(f"--la/--rcc: LA(s) {', '.join(missing)} had no children in this "
                            "run (check only_las)")
    out = export_run(result, args.year, args.out, las,
                     "partial" if args.partial_postcodes else "full", geo)
    print(f"SSDA903 returns for {len(las)} LA(s), collection year {args.year - 1}-"
          f"{args.year % 100:02d}, written to {out}/ (one folder per LA: header.csv, "
          "episodes.csv, uasc.csv; ssda903.json)")
    return _validate(out) if args.validate else 0


def validate_command(args: argparse.Namespace) -> int:
    return _validate(args.folder)


def _validate(folder: Any) -> int:
    from sim.ssda903 import EXCLUDED_RULES, validate_903

    broken = 0
    for report in validate_903(folder):
        print("\n".join(report.lines()))
        broken += len(report.breaches)
    print("excluded rules (cannot apply to simulated data): " + "; ".join(
        f"{k}: {v}" for k, v in EXCLUDED_RULES.items()))
    print(f"{broken} rule(s) broken" if broken else "no rules broken")
    return 1 if broken else 0


def _sensitivity(args: argparse.Namespace) -> int:
    from sim.sensitivity import sensitivity_command

    return sensitivity_command(args)


def _calibrate(args: argparse.Namespace) -> int:
    from sim.calibrate import calibrate_command

    return calibrate_command(args)
