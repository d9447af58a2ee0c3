"""Named scalar outcomes of one run, for sensitivity analysis and calibration.

A measure reduces a :class:`~sim.results.RunResult` to one number:

* any weekly national series (``children_in_care``, ``sufficiency``,
  ``share_far_20_miles``, ``share_outside_la``, ``weekly_spend``, ``homes_open``,
  ``foster_households``, ``mean_price_ifa``, ``margin_homes`` ...): its value at the end;
* a running count (``starts``, ``ceased``, ``moves``, ``breakdowns``,
  ``fostering_enquiries``, ``fostering_applications``, ``fostering_approvals``,
  ``fostering_deregistrations``, ``homes_opened`` ...) with ``_per_year``: the count
  over the run divided by its years;
* a 31 March measure (``share_3plus_placements``, ``share_siblings_separated``,
  ``share_homes_far_20_miles``, ``median_distance_foster``, ``median_distance_homes``,
  ``share_age_16_17`` ...): its last snapshot;
* a placement share at the end: ``share_<type>`` (e.g. ``share_ifa_foster``) or the
  DfE groups ``foster_share``, ``residential_share``, ``with_parents_share``,
  ``adoption_share``;
* any of these with ``_england``: divided by the run's scale (counts as at full scale).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from sim.errors import SimInputError
from sim.types import TYPE_NAMES

if TYPE_CHECKING:
    from sim.results import RunResult

WEEKS_PER_YEAR = 52.1775
GROUPS = {
    "foster_share": ("kinship", "la_foster", "ifa_foster"),
    "residential_share": ("la_home", "private_home", "supported"),
    "with_parents_share": ("with_parents",),
    "adoption_share": ("adoption",),
}


def measure(result: RunResult, name: str) -> float:
    """The value of measure ``name`` for one run (see the module docstring)."""
    if name.endswith("_england"):
        return measure(result, name[: -len("_england")]) / float(result.meta.get("scale", 1.0))
    nat = result.national
    last = nat.iloc[-1]
    if name.endswith("_per_year"):
        base = name[: -len("_per_year")]
        if base not in nat.columns:
            raise SimInputError(f"unknown measure {name!r}: {base!r} is not a running count")
        years = max(float(last["week"] - nat["week"].iloc[0]) / WEEKS_PER_YEAR, 1e-9)
        return float(last[base] - nat[base].iloc[0]) / years
    in_care = max(float(last["children_in_care"]), 1.0)
    if name in GROUPS:
        return sum(float(last[f"n_{t}"]) for t in GROUPS[name]) / in_care
    if name.startswith("share_") and name[len("share_"):] in TYPE_NAMES:
        return float(last[f"n_{name[len('share_'):]}"]) / in_care
    if name in nat.columns:
        return float(last[name])
    if len(result.annual):
        annual = result.annual_national()
        if name in annual.columns:
            return float(annual[name].iloc[-1])
    raise SimInputError(f"unknown measure {name!r} (see sim.measures: national series, "
                        "running counts with _per_year, 31 March measures, placement shares)")


def measures(result: RunResult, names: list[str] | tuple[str, ...]) -> dict[str, float]:
    """Several measures at once; NaN where a measure has no value (e.g. no homes)."""
    out = {}
    for name in names:
        value = measure(result, name)
        out[name] = value if not math.isinf(value) else float("nan")
    return out
