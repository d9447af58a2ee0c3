"""The ``sim`` command line.

Every user mistake raises :class:`sim.errors.SimInputError`; :func:`main` prints it as
one line on stderr and exits with status 2, so users never see a traceback for bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
from collections.abc import Sequence

from sim import __version__
from sim.errors import SimInputError


def _cmd_las(args: argparse.Namespace) -> int:
    from sim.data import la_figures_by_code
    from sim.geography import load_geography

    geo = load_geography()
    figures = la_figures_by_code()
    las = geo.in_region(args.region) if args.region else geo.las
    if args.summary:
        print(f"{'region':<26}{'LAs':>5}{'CLA 2019':>10}{'per 10k':>9}{'postcodes':>11}")
        total_las = total_cla = total_pop = total_pc = 0
        for region in dict.fromkeys(la.region for la in las):
            members = [la for la in las if la.region == region]
            cla = sum(figures[la.ons_code].cla_2019 for la in members)
            pop = sum(figures[la.ons_code].child_pop_0_17 for la in members)
            pcs = sum(la.n_postcodes for la in members)
            print(f"{region:<26}{len(members):>5}{cla:>10,}{1e4 * cla / pop:>9.0f}{pcs:>11,}")
            total_las, total_cla = total_las + len(members), total_cla + cla
            total_pop, total_pc = total_pop + pop, total_pc + pcs
        print(
            f"{'England' if not args.region else 'Total':<26}{total_las:>5}{total_cla:>10,}"
            f"{1e4 * total_cla / total_pop:>9.0f}{total_pc:>11,}"
        )
        print("CLA: children looked after at 31 March 2019 (DfE, Children looked after in England"
              " 2019). Centroids: mean of each LA's postcodes (ONS Postcode Directory).")
        return 0
    print(f"{'ONS code':<11}{'DfE':<5}{'name':<36}{'region':<26}{'CLA 2019':>9}"
          f"{'easting':>9}{'northing':>9}")
    for la in las:
        cla = figures[la.ons_code].cla_2019
        print(f"{la.ons_code:<11}{la.dfe_code:<5}{la.name[:35]:<36}{la.region:<26}{cla:>9,}"
              f"{la.centroid_easting:>9.0f}{la.centroid_northing:>9.0f}")
    print(f"{len(las)} local authorities; centroid = mean OS grid reference of the LA's "
          "postcodes, metres")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import time

    from sim.model import CareMarketModel
    from sim.scenario import ScenarioError, load_scenario

    if args.scale is not None and not 0.001 <= args.scale <= 1.0:
        raise ScenarioError(f"--scale: {args.scale} is out of range; allowed [0.001, 1.0] "
                            "(share of England's children and supply)")
    scenario = load_scenario(args.scenario)
    if getattr(args, "params", None):  # a parameter file, e.g. from `sim calibrate`
        from sim.scenario import parameter_overrides

        scenario = scenario.replace(**parameter_overrides(args.params))
    if args.seed < 0:
        raise ScenarioError(f"--seed: {args.seed} is negative; use a whole number >= 0")
    if not 0 < args.years <= 50:
        raise ScenarioError(f"--years: {args.years} is out of range; allowed (0, 50]")
    start = time.perf_counter()
    model = CareMarketModel(scenario, seed=args.seed, scale=args.scale)
    result = model.run(years=args.years)
    wall = time.perf_counter() - start
    sc = model.scenario
    print(f"scenario {sc.name!r} ({sc.source_file or 'built-in baseline'}), seed {args.seed}, "
          f"scale {sc.scale:g}, {args.years:g} years, {wall:.1f} s")
    table = result.summary()
    width = max(len(o) for o in table["outcome"])
    print(f"{'outcome':<{width}}  {'unit':<10}{'start':>12}{'end':>12}")
    def cell(value: float) -> str:
        return f"{value:>12,.1f}" if value == value else f"{'–':>12}"  # NaN: not measured

    for row in table.itertuples():
        print(f"{row.outcome:<{width}}  {row.unit:<10}{cell(row.start)}{cell(row.end)}")
    if table[["start", "end"]].isna().any().any():
        print("–: not measured yet (margins come from the providers' first quarter of accounts)")
    end = dt.date(sc.start_year, 3, 31) + dt.timedelta(weeks=round(args.years * 52.1775))
    print(f"start: 31 March {sc.start_year} (3+ placements and siblings: the first full year, "
          f"to 31 March {sc.start_year + 1}); end: {end:%d %B %Y}, after {args.years:g} years")
    if sc.scale < 1:
        print(f"note: at scale {sc.scale:g} each LA has fewer vacancies than England has, so "
              "distances and sibling separation are overstated; use --scale 1 for those.")
    if args.out:
        out = result.write(args.out)
        print(f"results written to {out}/ (national, by_la, annual, episodes, summary; run.json)")
    if getattr(args, "ssda903", None):  # SSDA903 returns of every LA in the run
        from pathlib import Path

        from sim.ssda903 import export_run

        folder = Path(args.out or ".") / f"ssda903_{args.ssda903}"
        export_run(result, args.ssda903, folder, list(model.active_las))
        print(f"SSDA903 returns for {args.ssda903 - 1}-{args.ssda903 % 100:02d} written to "
              f"{folder}/")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    from sim.scenario import describe_parameters

    for row in describe_parameters():
        lo, hi = row["range"]
        print(f"{row['parameter']:<46} {row['default']!s:<24.24} {row['unit'][:34]:<35}"
              f"[{lo}, {hi}]  {row['source']}")
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    from sim.batch import experiment_command

    return experiment_command(args)


def _cmd_compare(args: argparse.Namespace) -> int:
    from sim.report import compare_command

    return compare_command(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from sim.report import report_command

    return report_command(args)


def _cmd_explore(args: argparse.Namespace) -> int:
    from sim.explorer.server import DEFAULT_HOST, serve

    if args.host != DEFAULT_HOST:
        print(f"warning: serving on {args.host}, not {DEFAULT_HOST}: anyone who can reach this "
              "machine can use the explorer and start runs on it", file=sys.stderr)
    serve(args.host, args.port)
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Usage mistakes become one ``error:`` line, like every other bad input."""

    def error(self, message: str):  # type: ignore[override]
        raise SimInputError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _OneLineParser(
        prog="sim",
        description="Agent-based simulation of England's children's social care placement "
        "market: LAs, providers, foster carers and children on real geography.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    las = sub.add_parser("las", help="list England's 152 local authorities")
    las.add_argument("--region", help="only this region, e.g. 'North East'")
    las.add_argument("--summary", action="store_true",
                     help="totals by region instead of a row per LA")
    las.set_defaults(func=_cmd_las)

    run = sub.add_parser("run", help="run one scenario and print its headline outcomes")
    run.add_argument("scenario", nargs="?", default=None,
                     help="scenario TOML file (default: the built-in baseline)")
    run.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    run.add_argument("--years", type=float, default=10.0, help="years to simulate (default 10)")
    run.add_argument("--scale", type=float, default=None,
                     help="share of England's children and supply, (0, 1] (default: scenario's)")
    run.add_argument("--out", help="directory to write tables and run.json into")
    run.add_argument("--params", help="parameter TOML (e.g. from sim calibrate) applied on "
                     "top of the scenario")
    run.add_argument("--ssda903", type=int, metavar="YEAR", help="also write SSDA903 returns "
                     "for the collection year ending 31 March YEAR (into OUT/ssda903_YEAR)")
    run.set_defaults(func=_cmd_run)

    params = sub.add_parser("params", help="list every parameter with unit, range and source")
    params.set_defaults(func=_cmd_params)

    explore = sub.add_parser("explore", help="open the interactive RCC explorer in a browser")
    explore.add_argument("--host", default="127.0.0.1",
                         help="address to listen on (default 127.0.0.1: this machine only)")
    explore.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    explore.set_defaults(func=_cmd_explore)

    exp = sub.add_parser("experiment", help="run an experiment batch (scenarios x seeds x "
                         "grid), resumable, then its summary, figures and report")
    exp.add_argument("file", help="experiment TOML file, e.g. experiments/example.toml")
    exp.add_argument("--executor", choices=("inprocess", "pool", "dask"), default=None,
                     help="where runs execute (default: pool, or dask with --scheduler)")
    exp.add_argument("--workers", type=int, default=None,
                     help="worker processes (default: all cores; dask: the cluster's)")
    exp.add_argument("--scheduler", help="address of a running Dask scheduler "
                     "(e.g. tcp://host:8786); without it --executor dask starts a LocalCluster")
    exp.add_argument("--out", help="results folder (default: results/<experiment name>)")
    exp.add_argument("--no-report", action="store_true",
                     help="skip the summary, figures and report after the batch")
    exp.add_argument("--quiet", action="store_true", help="no progress bar")
    exp.set_defaults(func=_cmd_experiment)

    compare = sub.add_parser("compare", help="paired differences vs baseline from finished "
                             "runs (no rerun); writes summary.csv")
    compare.add_argument("results", help="results folder of an experiment")
    compare.add_argument("--level", choices=("england", "region", "rcc", "la"),
                         default="england", help="geography of the table (default england)")
    compare.add_argument("--outcome", action="append",
                         help="outcome to show (repeatable; default: the experiment's)")
    compare.set_defaults(func=_cmd_compare)

    report = sub.add_parser("report", help="rebuild summary, figures and report.md/html "
                            "from finished runs")
    report.add_argument("results", help="results folder of an experiment")
    report.add_argument("--map-outcome", default=None,
                        help="outcome to colour the LA map by (default: the first area one)")
    report.set_defaults(func=_cmd_report)
    from sim.analysis_cli import add_commands  # export-903, validate-903, sensitivity, ...

    add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sim`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except SimInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `sim las | head` is fine
        return 0


def console() -> None:
    """The installed ``sim`` command: :func:`main`, then a quick exit.

    A national run leaves about a million objects in reference cycles; collecting them
    at interpreter shutdown took 1.5 s after a two-year run, for memory the operating
    system reclaims anyway. Freezing the collector first skips that; output is already
    written and flushed, and exit handlers still run. (Not in :func:`main`, which tests
    call in-process.)
    """
    code = main()
    sys.stdout.flush()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    console()
