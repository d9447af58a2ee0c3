"""The experiment layer: spec checks, executors, resuming, failures, summary and report.

Runs are tiny (three North East LAs at a tenth of their size, one year) so the whole
file takes about a minute; one reference batch is run once per module and the other
tests compare with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.batch import run_experiment
from sim.cli import main
from sim.executors import InProcessExecutor, PoolExecutor
from sim.experiment import ExperimentError, load_experiment
from sim.store import DONE, FAILED, TABLES, ResultsStore
from sim.summary import load, paired_differences, summarise, t_interval

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
LAS = ["E06000001", "E06000002", "E06000003"]  # Hartlepool, Middlesbrough, Redcar
RCC_MEMBERS = ["E06000001", "E06000002"]


def _scenario(text: str, name: str, extra: str = "") -> str:
    text = text.replace('name = "baseline"', f'name = "{name}"', 1)
    assert f'name = "{name}"' in text
    return text + "\n" + textwrap.dedent(extra)


def _experiment(folder: Path, name: str, seeds: str = "3", body: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "{name}"
        description = "test batch"
        baseline = "{BASELINE}"
        scenarios = ["same.toml", "heavier.toml", "rcc_pair.toml"]
        seeds = {seeds}
        years = 1
        scale = 0.1
        [overrides]
        only_las = {json.dumps(LAS)}
        """) + textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Scenario files: a renamed copy of the baseline, a heavier distance weight (with a
    shorter shortlist: in three small LAs the weight alone seldom changes a choice), an
    RCC."""
    d = tmp_path_factory.mktemp("experiment")
    text = BASELINE.read_text(encoding="utf-8")
    (d / "same.toml").write_text(_scenario(text, "same"), encoding="utf-8")
    (d / "heavier.toml").write_text(_scenario(text, "heavier", """
        [matching]
        distance_weight = 2.0
        candidates = 3
        """), encoding="utf-8")
    (d / "rcc_pair.toml").write_text(_scenario(text, "rcc_pair", f"""
        [[policies]]
        name = "rcc"
        members = {json.dumps(RCC_MEMBERS)}
        cooperative_name = "Tees pair"
        start = 2019.25
        """), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def reference(folder: Path) -> Path:
    """The uninterrupted batch, run in this process: 4 arms x 3 seeds."""
    spec = load_experiment(_experiment(folder, "ref"))
    out = folder / "results_ref"
    report = run_experiment(spec, out, InProcessExecutor(), progress=False)
    assert (report.done, report.failed) == (12, 0)
    return out


def _assert_same_runs(a: Path, b: Path, keys: list[str]) -> None:
    for key in keys:
        ra, rb = ResultsStore(a), ResultsStore(b)
        assert ra.status(key) == rb.status(key) == DONE
        for table in TABLES:
            pd.testing.assert_frame_equal(ra.read_table(key, table), rb.read_table(key, table))


def _done_keys(out: Path) -> list[str]:
    """Finished runs: a ``.tmp-`` folder holding run.json is a write not yet renamed."""
    store = ResultsStore(out)
    return sorted(p.name for p in store.runs.iterdir()
                  if not p.name.startswith(".tmp-") and store.status(p.name) == DONE)


# -- the experiment file -------------------------------------------------------------------
BAD = {
    "unknown field": ('seed = 3\n', "unknown field 'seed' (allowed: name"),
    "seeds zero": ("seeds = 0\n", "seeds: 0 is out of range; allowed a count >= 1"),
    "seeds text": ('seeds = "five"\n', "seeds: expected a count >= 1"),
    "seeds repeat": ("seeds = [1, 1]\n", "seeds: expected a count >= 1"),
    "years": ("years = -1\n", "years: -1 is out of range; allowed a number in (0, 50]"),
    "scale": ("scale = 2\n", "scale: 2 is out of range; allowed a number in [0.001, 1]"),
    "no baseline": ("", "baseline: required"),
    "missing file": ('baseline = "nowhere.toml"\n', "baseline: no such scenario file"),
    "scenarios": ('scenarios = "same.toml"\n', "scenarios: expected a list of scenario files"),
    "grid key": ('[grid]\n"matching.distanc_weight" = [1.0]\n',
                 "grid.matching.distanc_weight: unknown parameter 'matching.distanc_weight' "
                 "(allowed matching.<one of candidates"),
    "grid group": ('[grid]\n"wages.x" = [1.0]\n', "grid.wages.x: unknown parameter 'wages.x' "
                   "(allowed: <group>.<field> with group one of demand"),
    "grid values": ('[grid]\n"matching.distance_weight" = 1.0\n',
                    "grid.matching.distance_weight: expected a non-empty list of values"),
    "grid policy": ('[grid]\n"policies.nope.x" = [1]\n',
                    "grid.policies.nope.x: expected policies.<policy>.<parameter>"),
    "policy parameter": ('[grid]\n"policies.rcc.budget" = [1]\n',
                         "unknown parameter 'budget' for policy rcc (allowed: start"),
    "outcome": ('outcomes = ["happiness"]\n', "outcomes[0]: unknown outcome 'happiness' "
                "(allowed: children_in_care"),
    "toml": ("name = \n", "not valid TOML"),
    "name": ('name = "a b/c"\n', "name: expected letters, digits"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_experiment_file_mistakes_are_one_line_errors(folder: Path, case: str) -> None:
    text, expected = BAD[case]
    lines = {"baseline": f'baseline = "{BASELINE}"\n', "scenarios": 'scenarios = ["same.toml"]\n'}
    if case == "no baseline" or case == "missing file":
        lines.pop("baseline")
    if case == "scenarios":
        lines.pop("scenarios")
    head = "".join(lines.values())
    # TOML tables come last: put the case's lines after the top-level keys.
    path = folder / f"bad_{case.replace(' ', '_')}.toml"
    path.write_text(head + text, encoding="utf-8")
    with pytest.raises(ExperimentError) as err:
        load_experiment(path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_cli_prints_spec_errors_as_one_line(folder: Path, capsys) -> None:
    path = folder / "bad_cli.toml"
    path.write_text(f'baseline = "{BASELINE}"\nscenarios = ["same.toml"]\nseeds = -2\n')
    assert main(["experiment", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: seeds: -2 is out of range")
    assert main(["compare", str(folder / "no_results_here")]) == 2
    assert "not an experiment results folder" in capsys.readouterr().err


def test_arms_pair_every_scenario_with_the_baseline_at_its_grid_point(folder: Path) -> None:
    path = _experiment(folder, "arms", body="""
        [grid]
        "matching.distance_weight" = [0.25, 1.0]
        "policies.rcc.negotiation_strength" = [0.5, 0.9]
        """)
    exp = load_experiment(path)
    refs = {a.label: a.reference for a in exp.arms}
    # A value a scenario already has (0.25 in the baseline, 0.5 for the rcc) is no change,
    # so those points are the scenarios as given; the rcc parameter only touches rcc_pair.
    assert refs["baseline"] is None
    assert refs["same"] == "baseline"
    assert refs["baseline [matching.distance_weight=1.0]"] == "baseline"
    assert refs["heavier [matching.distance_weight=1.0]"] == (
        "baseline [matching.distance_weight=1.0]")
    assert refs["rcc_pair [policies.rcc.negotiation_strength=0.9]"] == "baseline"
    assert refs["rcc_pair [matching.distance_weight=1.0, policies.rcc.negotiation_strength=0.9]"
                ] == "baseline [matching.distance_weight=1.0]"
    assert len(exp.arms) == len(set(refs)) == 10
    tasks = exp.tasks(folder / "x")
    assert len(tasks) == 10 * 3 and len({t.key for t in tasks}) == 30
    # Common random numbers: every arm runs on the same seeds.
    manifest = exp.manifest(folder / "x")
    seeds = {a.label: sorted(r["seed"] for r in manifest["runs"] if r["arm"] == a.label)
             for a in exp.arms}
    assert all(s == [1, 2, 3] for s in seeds.values())


# -- executors -----------------------------------------------------------------------------
def test_pool_gives_the_same_results_as_in_process(folder: Path, reference: Path) -> None:
    spec = load_experiment(_experiment(folder, "pool", seeds="[2, 3]"))
    out = folder / "results_pool"
    with PoolExecutor(2) as pool:
        report = run_experiment(spec, out, pool, progress=False)
    assert (report.done, report.failed) == (8, 0)
    keys = _done_keys(out)
    assert len(keys) == 8 and set(keys) <= set(_done_keys(reference))
    _assert_same_runs(reference, out, keys)


def test_dask_gives_the_same_results_as_in_process(folder: Path, reference: Path) -> None:
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    from sim.executors import DaskExecutor

    spec = load_experiment(_experiment(folder, "dask", seeds="[1, 3]"))
    out = folder / "results_dask"
    with DaskExecutor(2) as dask:
        report = run_experiment(spec, out, dask, progress=False)
    assert (report.done, report.failed) == (8, 0)
    keys = _done_keys(out)
    assert len(keys) == 8
    _assert_same_runs(reference, out, keys)


# -- resuming ------------------------------------------------------------------------------
def test_batch_killed_with_sigkill_resumes_without_losing_finished_runs(
        folder: Path, reference: Path) -> None:
    path = _experiment(folder, "ref")  # the reference batch, into a fresh folder
    out = folder / "results_killed"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "experiment", str(path),
                             "--executor", "inprocess", "--out", str(out), "--quiet",
                             "--no-report"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "runs").is_dir() and _done_keys(out):
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    finished = _done_keys(out)
    assert 1 <= len(finished) < 12, "the batch should be killed part-way"
    store = ResultsStore(out)
    mtimes = {k: (store.run_dir(k) / "run.json").stat().st_mtime_ns for k in finished}

    report = run_experiment(load_experiment(path), out, InProcessExecutor(), progress=False)
    assert report.skipped == len(finished)
    assert report.done == 12 - len(finished) and report.failed == 0
    assert {k: (store.run_dir(k) / "run.json").stat().st_mtime_ns for k in finished} == mtimes
    assert not [p for p in store.runs.iterdir() if p.name.startswith(".tmp-")]
    keys = _done_keys(out)
    assert keys == _done_keys(reference) and len(keys) == 12
    _assert_same_runs(reference, out, keys)


# -- failures ------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "bad", "error"), [
    ("matching.distance_weight", -1, "ScenarioError: "),  # fails building the scenario
    ("only_las", ["Nowhere"], "UnknownLocalAuthority: "),  # fails building the model
])
def test_a_failing_run_is_recorded_and_the_batch_goes_on(folder: Path, key: str, bad,
                                                         error: str) -> None:
    name = f"fails_{key.split('.')[-1]}"
    path = folder / f"{name}.toml"
    good = 1.0 if key != "only_las" else LAS[:2]
    path.write_text(textwrap.dedent(f"""\
        name = "{name}"
        baseline = "{BASELINE}"
        seeds = [1]
        years = 1
        scale = 0.1
        [overrides]
        only_las = {json.dumps(LAS)}
        [grid]
        "{key}" = [{json.dumps(good)}, {json.dumps(bad)}]
        """), encoding="utf-8")
    exp = load_experiment(path)
    bad_label = next(a.label for a in exp.arms if json.dumps(bad) in a.label)
    assert (bad_label in exp.invalid) == (key != "only_las")  # found before running
    out = folder / f"results_{name}"
    report = run_experiment(exp, out, InProcessExecutor(), progress=False)
    assert (report.done, report.failed) == (2, 1)
    assert report.failures[0]["runs"] == f"{bad_label} (seed 1)"
    store = ResultsStore(out)
    failed_key = report.failures[0]["key"]
    info = store.info(failed_key)
    assert store.status(failed_key) == FAILED and info["status"] == FAILED
    assert info["error"].startswith(error) and "\n" not in info["error"]
    assert "Traceback" in info["traceback"] and info["seed"] == 1
    # The others finished, the summary skips the failed arm and the report lists it.
    summary = summarise(load(out))
    assert set(summary["arm"]) == {next(a.label for a in exp.arms
                                        if a.reference and a.label != bad_label)}
    again = run_experiment(exp, out, InProcessExecutor(), progress=False)
    assert (again.skipped, again.done, again.failed) == (2, 0, 1)  # failures are retried


# -- summary -------------------------------------------------------------------------------
def test_identical_scenario_gives_exactly_zero_differences(reference: Path) -> None:
    summary = summarise(load(reference))
    same = summary[summary["arm"] == "same"]
    assert set(same["level"]) == {"england", "region", "la"}
    assert len(same) > 100 and (same["n"] >= 1).all()  # NaN values (0/0 shares) drop out
    assert (same.loc[same["outcome"] == "sufficiency", "n"] == 3).all()
    assert (same["mean_diff"] == 0).all()
    paired = same[same["n"] >= 2]  # one pair has no interval
    for col in ("ci_low", "ci_high", "sd_diff"):
        assert (paired[col] == 0).all(), col


def test_intervals_contain_the_paired_mean_and_match_a_t_interval(reference: Path) -> None:
    loaded = load(reference)
    summary = summarise(loaded)
    heavier = summary[(summary["arm"] == "heavier") & (summary["n"] == 3)].dropna(
        subset=["ci_low"])
    assert (heavier["ci_low"] <= heavier["mean_diff"]).all()
    assert (heavier["mean_diff"] <= heavier["ci_high"]).all()
    assert (heavier["mean_diff"] != 0).any()
    # Recompute one interval by hand from the runs.
    row = heavier[(heavier["level"] == "england")
                  & (heavier["outcome"] == "mean_distance_miles")].iloc[0]
    runs = loaded.runs.merge(loaded.values[(loaded.values["level"] == "england") & (
        loaded.values["outcome"] == "mean_distance_miles")], on="key")
    wide = runs.pivot_table(index="seed", columns="arm", values="value")
    d = (wide["heavier"] - wide["baseline"]).to_numpy()
    from scipy import stats

    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert row["mean_diff"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))


def test_intervals_shrink_with_more_seeds() -> None:
    d = np.array([1.0, 2.0, 3.0, 2.5])
    widths = []
    for repeats in (1, 4, 16):
        x = np.tile(d, repeats)
        lo, hi = t_interval(np.array([x.mean()]), np.array([x.std(ddof=1)]),
                            np.array([len(x)]))
        widths.append(float(hi[0] - lo[0]))
    assert widths[0] > widths[1] > widths[2] > 0
    lo, hi = t_interval(np.array([5.0]), np.array([np.nan]), np.array([1]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])  # one pair: no interval


def test_paired_differences_use_only_complete_pairs() -> None:
    runs = pd.DataFrame({"arm": ["b", "b", "b", "s", "s"], "seed": [1, 2, 3, 1, 2],
                         "key": ["b1", "b2", "b3", "s1", "s2"], "status": DONE})
    values = pd.DataFrame({"key": ["b1", "b2", "b3", "s1", "s2"], "level": "england",
                           "area": "England", "area_name": "England", "outcome": "emergency",
                           "value": [10.0, 20.0, 30.0, 12.0, 21.0]})
    row = paired_differences(values, runs, "s", "b").iloc[0]
    assert row["n"] == 2 and row["mean_diff"] == pytest.approx(1.5)
    assert row["reference_mean"] == pytest.approx(15.0)


def test_rcc_members_are_summarised_from_the_scenario(reference: Path) -> None:
    summary = summarise(load(reference))
    rcc = summary[(summary["arm"] == "rcc_pair") & (summary["level"] == "rcc")]
    assert set(rcc["area"]) == {"Tees pair"}
    assert summary[(summary["arm"] != "rcc_pair") & (summary["level"] == "rcc")].empty
    # The RCC's children are its members' children.
    la = summary[(summary["arm"] == "rcc_pair") & (summary["level"] == "la")
                 & (summary["outcome"] == "children_in_care")
                 & summary["area"].isin(RCC_MEMBERS)]
    row = rcc[rcc["outcome"] == "children_in_care"].iloc[0]
    assert row["scenario_mean"] == pytest.approx(la["scenario_mean"].sum())


# -- commands and report -------------------------------------------------------------------
def test_experiment_command_on_finished_results_skips_runs_and_writes_the_report(
        folder: Path, reference: Path, capsys) -> None:
    before = {k: (reference / "runs" / k / "run.json").stat().st_mtime_ns
              for k in _done_keys(reference)}
    code = main(["experiment", str(_experiment(folder, "ref")), "--executor", "inprocess",
                 "--out", str(reference), "--quiet", "--no-report"])
    assert code == 0 and "0 runs made, 12 skipped" in capsys.readouterr().out
    assert {k: (reference / "runs" / k / "run.json").stat().st_mtime_ns
            for k in _done_keys(reference)} == before
    assert main(["report", str(reference), "--map-outcome", "share_far_20_miles"]) == 0
    assert "report.md" in capsys.readouterr().out
    for name in ("report.md", "report.html", "summary.csv", "experiment.json",
                 "figures/timeseries.png", "figures/differences.png", "figures/map.png",
                 "figures/flows.png"):
        assert (reference / name).is_file(), name
    md = (reference / "report.md").read_text()
    for text in ("## Provenance", "1, 2, 3", "care-market-sim", 'name = "heavier"',
                 "figures/differences.png", "Tees pair", "difference (95% interval)"):
        assert text in md, text
    assert "<img src='figures/map.png'" in (reference / "report.html").read_text()
    summary = pd.read_csv(reference / "summary.csv")
    assert {"england", "region", "la", "rcc"} == set(summary["level"])

    assert main(["compare", str(reference), "--outcome", "emergency"]) == 0
    out = capsys.readouterr().out
    assert "heavier vs baseline" in out and "emergency/unregistered placements" in out
    assert main(["compare", str(reference), "--level", "rcc"]) == 0
    assert "Tees pair" in capsys.readouterr().out


def test_compare_on_runs_shorter_than_a_year_leaves_out_annual_outcomes(
        folder: Path, capsys) -> None:
    """31 March measures (3+ placements, siblings) need a year; the default table must
    still print for a half-year batch instead of failing on them."""
    path = _experiment(folder, "half", seeds="2").with_name("half.toml")
    path.write_text(path.read_text().replace("years = 1", "years = 0.5"))
    out = folder / "results_half"
    assert main(["experiment", str(path), "--executor", "inprocess", "--out", str(out),
                 "--quiet", "--no-report"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sufficiency" in printed or "children" in printed
    assert "3+ placements" not in printed


# -- provenance ----------------------------------------------------------------------------
def _package_copy(tmp_path: Path) -> Path:
    from sim.provenance import PACKAGE_ROOT
    copy = tmp_path / "sim"
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_code_fingerprint_changes_with_the_model_but_not_with_its_plots(tmp_path: Path) -> None:
    """An edit to the model's code or data changes the fingerprint (so run keys change and
    a batch reruns); an edit to a presentation-only module does not."""
    from sim.provenance import code_fingerprint, fingerprint_of
    copy = _package_copy(tmp_path)
    assert fingerprint_of(copy) == code_fingerprint()
    figures = copy / "figures.py"
    figures.write_text(figures.read_text() + "\n# a new colour\n")
    assert fingerprint_of(copy) == code_fingerprint()
    model = copy / "commissioning.py"
    original = model.read_text()
    model.write_text(original.replace("self.k = m.candidates", "self.k = m.candidates + 1"))
    assert model.read_text() != original
    changed = fingerprint_of(copy)
    assert changed != code_fingerprint()
    model.write_text(original)
    data = sorted((copy / "data").glob("*"))[0]
    data.write_bytes(data.read_bytes() + b"\n")
    assert fingerprint_of(copy) not in (code_fingerprint(), changed)


def test_run_keys_and_provenance_carry_the_code_fingerprint(folder: Path, reference: Path,
                                                            monkeypatch) -> None:
    """Finished runs made by other code are not reused: the key depends on the fingerprint."""
    import sim.experiment
    from sim.provenance import code_fingerprint
    spec = load_experiment(_experiment(folder, "ref"))
    keys = [t.key for t in spec.tasks(reference)]
    assert sorted(keys) == _done_keys(reference)
    info = json.loads((reference / "runs" / keys[0] / "run.json").read_text())
    assert code_fingerprint() in json.dumps(info)
    monkeypatch.setattr(sim.experiment, "code_fingerprint", lambda: "0" * 16)
    assert not set(t.key for t in spec.tasks(reference)) & set(keys)
