"""Claims in experiment files: checks, the arms they add, verdicts and the report table.

Verdicts are tested on synthetic intervals; one tiny real experiment (three North East
LAs at a tenth of their size, half a year, two seeds) checks the arms, the table and
the report end to end in a few seconds.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from sim.batch import run_experiment
from sim.claims import (
    ASSUMED_NOTE,
    FAILS,
    HOLDS,
    INCONCLUSIVE,
    claims_display,
    claims_table,
    verdict,
)
from sim.cli import main
from sim.executors import InProcessExecutor
from sim.experiment import ExperimentError, load_experiment
from sim.report import build_report
from sim.summary import load

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "scenarios" / "baseline.toml"
LAS = ["E06000001", "E06000002", "E06000003"]  # Hartlepool, Middlesbrough, Redcar


# -- verdicts on synthetic intervals -------------------------------------------------------
@pytest.mark.parametrize(("expect", "low", "high", "tolerance", "expected"), [
    ("decrease", -3.0, -1.0, None, HOLDS),
    ("decrease", -3.0, 1.0, None, INCONCLUSIVE),
    ("decrease", 1.0, 3.0, None, FAILS),
    ("decrease", 0.0, 0.0, None, FAILS),          # equal in every seed: no decrease
    ("increase", 0.5, 2.0, None, HOLDS),
    ("increase", -0.5, 2.0, None, INCONCLUSIVE),
    ("increase", -2.0, -0.5, None, FAILS),
    ("increase", 0.0, 0.0, None, FAILS),
    ("no_change", -1.0, 1.5, 0.02, HOLDS),        # band: 2% of 100 = ±2
    ("no_change", -1.0, 2.5, 0.02, INCONCLUSIVE),
    ("no_change", 2.5, 4.0, 0.02, FAILS),
    ("no_change", -4.0, -2.5, 0.02, FAILS),
    ("no_change", 0.0, 0.0, 0.0, HOLDS),
    ("no_increase", -9.0, 1.0, 0.02, HOLDS),      # matches or beats
    ("no_increase", -9.0, 3.0, 0.02, INCONCLUSIVE),
    ("no_increase", 2.5, 3.0, 0.02, FAILS),
    ("no_decrease", -1.0, 9.0, 0.02, HOLDS),
    ("no_decrease", -3.0, -2.5, 0.02, FAILS),
    ("decrease", math.nan, math.nan, None, INCONCLUSIVE),  # one seed: no interval
])
def test_verdict_reads_the_interval(expect: str, low: float, high: float,
                                    tolerance: float | None, expected: str) -> None:
    assert verdict(expect, low, high, 100.0, tolerance) == expected


def test_no_change_band_is_relative_to_the_reference_mean_whatever_its_sign() -> None:
    assert verdict("no_change", -0.4, 0.4, -20.0, 0.02) == HOLDS
    assert verdict("no_change", -0.4, 0.4, 10.0, 0.02) == INCONCLUSIVE
    assert verdict("no_change", -0.4, 0.4, math.nan, 0.02) == INCONCLUSIVE


def test_claims_table_on_a_synthetic_summary() -> None:
    """Four seeds of two arms: the table's difference, interval and verdict per claim."""
    runs = pd.DataFrame({"arm": ["base"] * 4 + ["policy"] * 4, "seed": [1, 2, 3, 4] * 2,
                         "key": [f"b{i}" for i in range(4)] + [f"p{i}" for i in range(4)],
                         "status": "done"})
    base_spend, policy_spend = [10.0, 11.0, 12.0, 13.0], [9.0, 10.1, 10.9, 12.0]  # -1 ± 0.1
    base_far, policy_far = [20.0, 21.0, 22.0, 23.0], [20.1, 20.9, 22.1, 22.9]  # unchanged
    values = pd.DataFrame({
        "key": list(runs["key"]) * 2, "level": "england", "area": "England",
        "area_name": "England", "outcome": ["weekly_spend"] * 8 + ["share_far_20_miles"] * 8,
        "value": [*base_spend, *policy_spend, *base_far, *policy_far]})
    claims = [
        {"id": "X1", "text": "spend falls", "outcome": "weekly_spend", "expect": "decrease",
         "tolerance": None, "evidence": "assumed"},
        {"id": "X2", "text": "spend rises", "outcome": "weekly_spend", "expect": "increase",
         "tolerance": None, "evidence": "published"},
        {"id": "X3", "text": "distance unchanged", "outcome": "share_far_20_miles",
         "expect": "no_change", "tolerance": 0.02, "evidence": None},
        {"id": "X4", "text": "distance falls", "outcome": "share_far_20_miles",
         "expect": "decrease", "tolerance": None, "evidence": None},
    ]
    for c in claims:
        c["pairs"] = [{"row": "as given", "arm": "policy", "reference": "base"}]
    loaded = type("L", (), {"values": values, "runs": runs,
                            "manifest": {"claims": claims}})()
    table = claims_table(loaded)
    assert list(table["verdict"]) == [HOLDS, FAILS, HOLDS, INCONCLUSIVE]
    assert table.loc[0, "mean_diff"] == pytest.approx(-1.0)
    assert table.loc[0, "ci_low"] < -1.0 < table.loc[0, "ci_high"] < 0
    assert table.loc[0, "evidence_note"] == ASSUMED_NOTE
    assert table.loc[2, "diff_unit"] == "pp" and table.loc[2, "n"] == 4
    shown = claims_display(table)
    assert shown.loc[0, "claim"] == "X1: spend falls"
    assert shown.loc[2, "expected"] == "no change (±2% of the reference)"
    assert shown.loc[0, "scenario pair"] == "policy vs base"


# -- the experiment file -------------------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Scenario files: a heavier distance weight and a Tees RCC from the start."""
    d = tmp_path_factory.mktemp("claims")
    text = BASELINE.read_text(encoding="utf-8")
    (d / "heavier.toml").write_text(text.replace('name = "baseline"', 'name = "heavier"')
                                    + "\n[matching]\ndistance_weight = 2.0\n", encoding="utf-8")
    (d / "rcc_pair.toml").write_text(
        text.replace('name = "baseline"', 'name = "rcc_pair"') + textwrap.dedent(f"""
        [[policies]]
        name = "rcc"
        members = {json.dumps(LAS[:2])}
        cooperative_name = "Tees pair"
        start = 2019.25
        """), encoding="utf-8")
    return d


def _experiment(folder: Path, name: str, claims: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "{name}"
        baseline = "{BASELINE}"
        scenarios = ["heavier.toml", "rcc_pair.toml"]
        seeds = 2
        years = 0.5
        scale = 0.1
        [overrides]
        only_las = {json.dumps(LAS)}
        """) + textwrap.dedent(claims), encoding="utf-8")
    return path


GOOD = """
    [[claims]]
    id = "H3"
    text = "Distance weight cuts distance"
    scenario = "heavier"
    outcome = "mean_distance_miles"
    expect = "decrease"
    evidence = "assumed"

    [[claims]]
    id = "H7"
    text = "Pooled buying does not lower prices"
    scenario = "rcc_pair"
    outcome = "mean_price_private_home"
    expect = "no_change"
    tolerance = 0.02
    [claims.grid]
    "policies.rcc.capacity_dependence" = [0.0, 1.0]

    [[claims]]
    id = "H4"
    text = "The RCC matches the distance weight on spend"
    scenario = "rcc_pair"
    reference = "heavier"
    outcome = "weekly_spend"
    expect = "no_increase"
    tolerance = 0.05
    [claims.grid]
    "matching.distance_weight" = [1.0]
"""

BAD = {
    "not an array": ('[claims]\nid = "H1"\n', "claims: expected an array of tables [[claims]]"),
    "unknown field": ('[[claims]]\nid = "H1"\nwhy = 1\n',
                      "claims[0]: unknown field 'why' (allowed: id, text"),
    "no text": ('[[claims]]\nid = "H1"\n', "claims[0] (H1).text: required"),
    "scenario": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "nope"\noutcome = "moves"\n'
                 'expect = "increase"\n',
                 "claims[0] (H1).scenario: unknown scenario 'nope' (allowed: heavier, rcc_pair)"),
    "reference": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\n'
                  'reference = "heavier"\noutcome = "moves"\nexpect = "increase"\n',
                  "claims[0] (H1).reference: expected another scenario of this experiment"),
    "outcome": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\noutcome = "joy"\n'
                'expect = "increase"\n', "claims[0] (H1).outcome: unknown outcome 'joy'"),
    "expect": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\noutcome = "moves"\n'
               'expect = "rise"\n', "claims[0] (H1).expect: expected one of increase, decrease"),
    "tolerance missing": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\n'
                          'outcome = "moves"\nexpect = "no_change"\n',
                          "claims[0] (H1).tolerance: required for expect = no_change"),
    "tolerance range": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\n'
                        'outcome = "moves"\nexpect = "no_change"\ntolerance = 5\n',
                        "claims[0] (H1).tolerance: expected a number in [0, 1]"),
    "tolerance unused": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\n'
                         'outcome = "moves"\nexpect = "increase"\ntolerance = 0.1\n',
                         "claims[0] (H1).tolerance: only for expect = no_change"),
    "evidence": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\noutcome = "moves"\n'
                 'expect = "increase"\nevidence = "strong"\n',
                 "claims[0] (H1).evidence: expected one of published, assumed"),
    "grid key": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\noutcome = "moves"\n'
                 'expect = "increase"\n[claims.grid]\n"policies.rcc.nope" = [1]\n',
                 "claims[0] (H1).grid.policies.rcc.nope: unknown parameter 'nope' for policy"),
    "grid values": ('[[claims]]\nid = "H1"\ntext = "t"\nscenario = "heavier"\n'
                    'outcome = "moves"\nexpect = "increase"\n[claims.grid]\n'
                    '"matching.distance_weight" = 1.0\n',
                    "claims[0] (H1).grid.matching.distance_weight: expected a non-empty list"),
    "id": ('[[claims]]\nid = "H 1"\ntext = "t"\n', "claims[0].id: expected letters, digits"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_claim_mistakes_are_one_line_errors(folder: Path, case: str) -> None:
    text, expected = BAD[case]
    path = _experiment(folder, f"bad_{case.replace(' ', '_')}", text)
    with pytest.raises(ExperimentError) as err:
        load_experiment(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert expected in message


def test_claims_add_the_arms_they_need_and_pair_them(folder: Path) -> None:
    exp = load_experiment(_experiment(folder, "arms", GOOD))
    labels = [a.label for a in exp.arms]
    assert labels[:4] == ["baseline", "heavier", "rcc_pair",
                          "rcc_pair [policies.rcc.capacity_dependence=0.0]"]
    pairs = {c.id: c.pairs for c in exp.claims}
    assert pairs["H3"] == (("as given", "heavier", "baseline"),)
    # 1.0 is the policy's default: that grid row is the scenario as given, shown once.
    assert pairs["H7"] == (
        ("capacity_dependence = 0.0", "rcc_pair [policies.rcc.capacity_dependence=0.0]",
         "baseline"),
        ("capacity_dependence = 1.0 (as given)", "rcc_pair", "baseline"))
    # A core parameter changes the baseline too: at 1.0 the RCC is compared with the
    # heavier scenario at the same point (heavier has 2.0, so it changes as well).
    assert pairs["H4"] == (
        ("distance_weight = 0.25 (as given)", "rcc_pair", "heavier"),
        ("distance_weight = 1.0", "rcc_pair [matching.distance_weight=1.0]",
         "heavier [matching.distance_weight=1.0]"))
    assert labels[4:] == ["baseline [matching.distance_weight=1.0]",
                          "rcc_pair [matching.distance_weight=1.0]",
                          "heavier [matching.distance_weight=1.0]"]
    manifest = exp.manifest(folder / "x")
    assert [c["id"] for c in manifest["claims"]] == ["H3", "H7", "H4"]


def test_a_tiny_experiment_reports_its_claims(folder: Path, capsys) -> None:
    exp = load_experiment(_experiment(folder, "tiny", GOOD))
    out = folder / "results_tiny"
    report = run_experiment(exp, out, InProcessExecutor(), progress=False)
    assert report.failed == 0
    table = claims_table(load(out))
    assert list(table["id"]) == ["H3", "H7", "H7", "H4", "H4"]
    assert (table["n"] == 2).all()
    assert set(table["verdict"]) <= {HOLDS, FAILS, INCONCLUSIVE}
    written = build_report(out)
    text = written.markdown.read_text(encoding="utf-8")
    assert "## Stakeholders' claims tested" in text
    assert "H7: Pooled buying does not lower prices" in text
    assert ASSUMED_NOTE in text
    assert (out / "claims.csv").is_file() and written.figures["claims"].is_file()
    # The claims section comes before the per-arm tables.
    assert text.index("Stakeholders' claims") < text.index("## heavier vs baseline")
    # `sim compare` prints one line per claim row.
    assert main(["compare", str(out), "--outcome", "sufficiency"]) == 0
    printed = capsys.readouterr().out
    assert "claims: scenario minus reference" in printed
    assert sum(line.startswith(("H3 ", "H7 ", "H4 ")) for line in printed.splitlines()) == 5
