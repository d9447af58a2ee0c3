"""Family Help: earlier, multi-disciplinary help for families so fewer children enter care.

*Stable Homes, Built on Love* (DfE, February 2023) puts Family Help at the front of
the reforms (the Families First for Children pathfinder). No effect size from an
evaluation is in the project's reference figures, so the relative fall in entries and
the cost per family are estimates, exposed as parameters. The effect builds up over
``ramp_years`` as services are set up, in the chosen LAs (all by default), through
``model.entry_multiplier``. Its running cost (families helped times cost per family)
goes to ``model.outcomes.policy_spend``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.demand import starts_for_year
from sim.policies._levers import WEEKS_PER_YEAR, SpendLedger, check_la_codes, snap_array
from sim.policies.base import Policy, register

if TYPE_CHECKING:
    from sim.model import CareMarketModel


@register
class FamilyHelp(Policy):
    """Fewer entries into care in the covered LAs, phased in; a cost per family helped."""

    name: ClassVar[str] = "family_help"
    defaults: ClassVar[dict[str, Any]] = {
        "entry_reduction": 0.05,  # estimate
        "ramp_years": 2.0,  # estimate
        "families_per_start": 4.0,  # estimate
        "cost_per_family_gbp": 3000.0,  # estimate
        "las": [],  # ONS codes or names; empty: every LA
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "entry_reduction": (0.0, 0.9, "relative fall in entries at full effect"),
        "ramp_years": (0.0, 20.0, "years to full effect"),
        "families_per_start": (0.0, 100.0, "families helped per child entering care"),
        "cost_per_family_gbp": (0.0, 1e6, "GBP per family helped"),
    }

    def validate(self, where: str, model_geography=None) -> None:
        check_la_codes(self.las, f"{where}.las")

    def initialize(self, model: CareMarketModel) -> None:
        self._ledger = SpendLedger()
        self._started_week = 0
        n = len(model.geography.las)
        covered = np.zeros(n, dtype=bool)
        if self.las:
            covered[check_la_codes(self.las, "family_help.las")] = True
        else:
            covered[:] = True
        self._covered = covered
        self._factor = np.ones(n)  # this policy's current factor on entries, per LA

    def switch_on(self, model: CareMarketModel) -> None:
        self._started_week = model.week

    def switch_off(self, model: CareMarketModel) -> None:
        model.entry_multiplier /= self._factor
        snap_array(model.entry_multiplier)
        self._factor = np.ones_like(self._factor)
        self._ledger.clear(model)

    def weekly(self, model: CareMarketModel) -> None:
        years_on = (model.week - self._started_week) / WEEKS_PER_YEAR
        phase = 1.0 if self.ramp_years <= 0 else min(1.0, years_on / self.ramp_years)
        factor = np.where(self._covered, 1.0 - self.entry_reduction * phase, 1.0)
        if not np.array_equal(factor, self._factor):
            model.entry_multiplier *= factor / self._factor
            snap_array(model.entry_multiplier)
            self._factor = factor
        sc = model.scenario
        year = sc.start_year + 1 + model.week / WEEKS_PER_YEAR
        starts = starts_for_year(sc.demand, year) * sc.scale / WEEKS_PER_YEAR
        # Families helped: several for each child who would otherwise have entered care.
        helped = starts * model.la_table["start_share"] * self._covered * self.families_per_start
        self._ledger.set(model, helped * self.cost_per_family_gbp)

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        covered = self._covered & (model.la_table["start_share"] > 0)
        return {"family_help": pd.DataFrame([{
            "las_covered": int(covered.sum()),
            "entry_factor_now": float(self._factor[covered].mean()) if covered.any() else 1.0,
        }])}
