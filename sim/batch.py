"""Running an experiment's batch: the per-run worker function and the batch loop.

:func:`execute_run` is what every executor calls: it builds the scenario from its text
and overrides, runs the model and writes the run to the store (or records its error).
:func:`run_experiment` skips finished runs, hands the rest to an executor and shows a
progress bar with an ETA; a run that raises is recorded and the batch goes on.
"""

from __future__ import annotations

import socket
import sys
import time
import tomllib
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.executors import Executor, make_executor
from sim.experiment import Experiment, RunTask, apply_overrides
from sim.store import DONE, FAILED, ResultsStore

if TYPE_CHECKING:
    from sim.model import CareMarketModel


@dataclass
class BatchReport:
    """What a batch did: counts, time and the runs that failed."""

    experiment: str
    out: Path
    executor: str
    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)


def execute_run(task: RunTask) -> dict[str, Any]:
    """Run one task and write it to the store; never raises for a failing model run."""
    store = ResultsStore(task.out)
    if store.status(task.key) == DONE:
        return {"key": task.key, "status": "skipped", "seconds": 0.0}
    info = {**task.describe(), "label": task.label, "host": socket.gethostname()}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tables, meta = _simulate(task)
        seconds = time.perf_counter() - start
        meta = {**meta, **info, "seconds": round(seconds, 3),
                "warnings": sorted({str(w.message) for w in caught})}
        store.write_run(meta, tables)
        return {"key": task.key, "status": DONE, "seconds": seconds}
    except Exception as err:
        seconds = time.perf_counter() - start
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        store.write_failure({**info, "seconds": round(seconds, 3)}, message,
                            traceback.format_exc())
        return {"key": task.key, "status": FAILED, "seconds": seconds, "error": message}


def _simulate(task: RunTask) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    from sim.model import CareMarketModel
    from sim.scenario import scenario_from_dict

    scenario = scenario_from_dict(tomllib.loads(task.scenario_text), task.scenario_path)
    scenario = apply_overrides(scenario, dict(task.overrides))
    model = CareMarketModel(scenario, seed=task.seed, scale=task.scale)
    result = model.run(years=task.years)
    tables = {"national": result.national, "by_la": result.by_la, "annual": result.annual,
              "annual_england": result.annual_england, "episodes": result.episodes,
              "flows": placement_flows(model), **result.policy_tables}
    return tables, {**result.meta, "policy_tables": sorted(result.policy_tables)}


def placement_flows(model: CareMarketModel) -> pd.DataFrame:
    """Children in placement at the end of the run by home LA, placement LA and type."""
    from sim.types import TYPE_NAMES

    counts: Counter[tuple[int, int, int]] = Counter()
    for child in model.children.values():
        setting = child.setting
        if setting is not None and child.ptype is not None:
            counts[(child.la, setting.location_la, int(child.ptype))] += 1
    las = model.geography.las
    rows = [{"home_la": las[h].ons_code, "home_region": las[h].region,
             "placed_la": las[p].ons_code, "placed_region": las[p].region,
             "placement_type": TYPE_NAMES[t], "children": n}
            for (h, p, t), n in sorted(counts.items())]
    columns = ["home_la", "home_region", "placed_la", "placed_region", "placement_type",
               "children"]
    return pd.DataFrame(rows, columns=columns)


def pending_tasks(exp: Experiment, out: str | Path) -> tuple[list[RunTask], int]:
    """Tasks still to run (failed ones again) and how many are finished already."""
    store = ResultsStore(out)
    pending, finished = [], 0
    for task in exp.tasks(out):
        status = store.status(task.key)
        if status == DONE:
            finished += 1
        else:
            pending.append(task)
    return pending, finished


def run_experiment(exp: Experiment, out: str | Path | None = None,
                   executor: Executor | None = None, progress: bool = True) -> BatchReport:
    """Run every unfinished run of the experiment; results land in ``out`` as they finish."""
    from tqdm import tqdm

    out = Path(out) if out is not None else exp.default_out
    store = ResultsStore(out)
    store.clean_partial()
    store.write_manifest(exp.manifest(out), exp.text)
    pending, finished = pending_tasks(exp, out)
    for task in pending:
        store.clear(task.key)
    own = executor is None
    executor = executor or make_executor()
    report = BatchReport(exp.name, out, executor.describe(), len(pending) + finished,
                         skipped=finished)
    labels = _run_labels(exp, out)
    start = time.perf_counter()
    try:
        with tqdm(total=len(pending), desc=exp.name, unit="run", disable=not progress,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            for task, result, error in executor.map(execute_run, pending):
                if error is not None:  # the worker process itself died
                    message = f"worker died: {type(error).__name__}: {error}".splitlines()[0]
                    store.write_failure({**task.describe(), "label": task.label}, message)
                    result = {"key": task.key, "status": FAILED, "error": message}
                if result["status"] == FAILED:
                    report.failed += 1
                    report.failures.append({"key": task.key, "runs": labels[task.key],
                                            "error": result.get("error", "")})
                elif result["status"] == DONE:
                    report.done += 1
                else:
                    report.skipped += 1
                bar.update(1)
                if report.failed:
                    bar.set_postfix(failed=report.failed)
    finally:
        if own:
            executor.close()
    report.seconds = time.perf_counter() - start
    return report


def _run_labels(exp: Experiment, out: str | Path) -> dict[str, str]:
    """Run key -> "arm (seed s)" for every arm/seed pair sharing that key."""
    labels: dict[str, list[str]] = {}
    for seed in exp.seeds:
        for arm in exp.arms:
            labels.setdefault(exp.task(arm, seed, out).key, []).append(
                f"{arm.label} (seed {seed})")
    return {k: "; ".join(v) for k, v in labels.items()}


def experiment_command(args: Any) -> int:
    """``sim experiment FILE``: run (or resume) the batch, then summary, figures, report."""
    from sim.experiment import load_experiment
    from sim.report import build_report, print_table

    exp = load_experiment(args.file)
    out = Path(args.out) if args.out else exp.default_out
    for label, message in exp.invalid.items():
        print(f"warning: {label}: {message} (its runs will be recorded as failed)",
              file=sys.stderr)
    pending, finished = pending_tasks(exp, out)
    executor = make_executor(args.executor, args.workers, args.scheduler)
    with executor:
        print(f"experiment {exp.name!r}: {len(exp.arms)} arms x {len(exp.seeds)} seeds = "
              f"{len(pending) + finished} runs ({finished} finished earlier) on "
              f"{executor.describe()}; results in {out}/")
        report = run_experiment(exp, out, executor, progress=not args.quiet)
    print(f"{report.done} runs made, {report.skipped} skipped (finished earlier), "
          f"{report.failed} failed, in {report.seconds:.1f} s")
    for failure in report.failures:
        print(f"failed: {failure['runs']}: {failure['error']}")
    if not args.no_report:
        written = build_report(out)
        print_table(written.table)
        print(f"report: {written.markdown} ({written.html.name}); every level and outcome: "
              f"{written.summary_csv}")
    return 1 if report.failed else 0
