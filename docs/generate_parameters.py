"""Regenerate docs/parameters.md from the scenario: python docs/generate_parameters.py."""

from pathlib import Path

from sim.scenario import describe_parameters

INTRO = [
    "# Model parameters",
    "",
    "Generated from `sim.scenario.describe_parameters()` (the same table `sim params` prints); "
    "do not edit by hand — regenerate it when defaults change.",
    "",
    "Every parameter belongs to one group of the frozen `Scenario` dataclass in "
    "`sim/scenario.py`. A scenario TOML file overrides a value under the group's table "
    "(for example `[prices]` `ifa_cost = 700`); values outside the allowed range are "
    "rejected when the scenario is loaded. For a table-valued parameter the range applies "
    "to every entry. A source of *estimate* marks a prior chosen by the modellers, not a "
    "published figure; \"calibrated to ...\" marks a value tuned so that the model "
    "reproduces the named pattern. See `docs/ODD.md` for how each parameter is used.",
    "",
    "The top-level scenario fields are not in the groups below: `start_year` (2019; the "
    "initial stock is children looked after at 31 March 2019), `scale` (share of England's "
    "children and supply simulated, in [0.001, 1]; default 1.0), `record_every_weeks` "
    "(4; weeks between per-LA snapshots), `only_las` (restrict the run to some LAs) and "
    "`policies` (the `[[policies]]` array).",
    "",
]


def fmt(v) -> str:
    """A default as the table shows it (thousands separated, tables as key: value)."""
    if isinstance(v, dict):
        return "; ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    if isinstance(v, float):
        return f"{v:,.6g}" if abs(v) >= 1000 else f"{v:g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    return str(v)


def bound(x) -> str:
    return "—" if x is None else fmt(x)


def cell(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def main() -> None:
    rows = describe_parameters()
    out = [*INTRO, f"{len(rows)} parameters."]
    group = None
    for r in rows:
        g = r["parameter"].split(".")[0]
        if g != group:
            group = g
            out += ["", f"## `{g}`", "",
                    "| parameter | default | unit | allowed range | source |",
                    "|---|---|---|---|---|"]
        lo, hi = r["range"]
        out.append(f"| `{r['parameter']}` | {cell(fmt(r['default']))} | {cell(r['unit'])} | "
                   f"[{bound(lo)}, {bound(hi)}] | {cell(r['source'])} |")
    out.append("")
    (Path(__file__).parent / "parameters.md").write_text("\n".join(out))


if __name__ == "__main__":
    main()
