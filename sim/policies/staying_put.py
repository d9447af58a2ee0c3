"""Staying Put / Staying Close extended to 23: young people keep their foster home longer.

Under Staying Put (Children and Families Act 2014) a young person may stay with their
former foster carer to 21; the extension lets them stay to 23. The place they occupy
is lost to children entering care (ADCS's point, hypothesis H10).

The model draws each stay as exponential with mean ``demand.staying_put_weeks``
(no upper age). Read as the visible part of a longer wish to stay, cut off at the
current limit, the latent mean ``mu`` solves ``mu (1 - exp(-T/mu)) = mean`` with
``T = current_max_age - 18`` years. With the extension each drawn stay is mapped to the
same quantile of that latent stay and cut off at ``max_age`` instead:
``weeks' = min(weeks * mu / mean, (max_age - 18) years)`` (through
``model.staying_put_hooks``, with no extra random draws). With the default mean of 78
weeks the mean stay rises to about 91 weeks. ``uptake_multiplier`` optionally raises
the share of 18-year-olds who Stay Put. Each extra week costs ``weekly_cost_gbp``
(the carer's allowance), added to ``model.outcomes.policy_spend`` while it lasts.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from sim.errors import ScenarioError
from sim.policies._levers import WEEKS_PER_YEAR, SpendLedger
from sim.policies.base import Policy, register

if TYPE_CHECKING:
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel


def latent_mean(observed_mean: float, limit_weeks: float) -> float:
    """Mean ``mu`` of an exponential whose mean after cutting at ``limit`` is ``observed``.

    ``mu (1 - exp(-limit/mu))`` rises from 0 towards ``limit`` as ``mu`` grows, so
    there is a solution only when ``observed < limit``; otherwise the observed mean is
    returned unchanged (the cut-off does not bind).
    """
    if observed_mean <= 0 or observed_mean >= limit_weeks:
        return observed_mean
    lo, hi = observed_mean, observed_mean * 1e3
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid * (1.0 - math.exp(-limit_weeks / mid)) < observed_mean:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@register
class StayingPutExtension(Policy):
    """Longer Staying Put stays (to ``max_age``) hold foster places for longer."""

    name: ClassVar[str] = "staying_put_extension"
    defaults: ClassVar[dict[str, Any]] = {
        "max_age": 23.0,  # the proposed extension
        "current_max_age": 21.0,  # Children and Families Act 2014: Staying Put to 21
        "uptake_multiplier": 1.0,  # estimate: no change in who chooses to Stay Put
        "weekly_cost_gbp": 250.0,  # estimate: carer's Staying Put allowance
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "max_age": (18.0, 25.0, "years"),
        "current_max_age": (18.5, 25.0, "years"),
        "uptake_multiplier": (0.0, 10.0, "x share of 18-year-olds who Stay Put"),
        "weekly_cost_gbp": (0.0, 1e5, "GBP per extra week of Staying Put"),
    }

    def validate(self, where: str, model_geography=None) -> None:
        if self.max_age < self.current_max_age:
            raise ScenarioError(
                f"{where}.max_age: {self.max_age:g} is below current_max_age "
                f"{self.current_max_age:g}; allowed an age at least the current limit")

    def initialize(self, model: CareMarketModel) -> None:
        self._ledger = SpendLedger()
        self._ends: dict[int, list[tuple[int, float]]] = defaultdict(list)
        self._share_delta = 0.0
        self._extended = 0
        self._extra_weeks = 0.0
        mean = model.scenario.demand.staying_put_weeks
        limit = (self.current_max_age - 18.0) * WEEKS_PER_YEAR
        self._stretch = latent_mean(mean, limit) / mean if mean > 0 else 1.0
        self._cap = (self.max_age - 18.0) * WEEKS_PER_YEAR
        self._model = model

    def switch_on(self, model: CareMarketModel) -> None:
        new_share = min(model.staying_put_share * self.uptake_multiplier, 1.0)
        self._share_delta = new_share - model.staying_put_share
        model.staying_put_share = new_share
        model.staying_put_hooks.append(self._extend)

    def switch_off(self, model: CareMarketModel) -> None:
        model.staying_put_share -= self._share_delta
        self._share_delta = 0.0
        if self._extend in model.staying_put_hooks:
            model.staying_put_hooks.remove(self._extend)
        self._ends.clear()
        self._ledger.clear(model)

    def _extend(self, la: int, setting: CareSetting, weeks: float) -> float:
        """A young person starts Staying Put: the stay the extension allows."""
        longer = min(weeks * self._stretch, self._cap)
        extra = longer - weeks
        if extra > 0 and self.weekly_cost_gbp > 0:
            week = self._model.week
            # The carer is paid for the extra weeks: from the old end to the new one.
            self._ends[week + 1 + int(weeks)].append((la, self.weekly_cost_gbp))
            self._ends[week + 1 + int(longer)].append((la, -self.weekly_cost_gbp))
        if extra > 0:
            self._extended += 1
            self._extra_weeks += extra
        return longer

    def weekly(self, model: CareMarketModel) -> None:
        for la, amount in self._ends.pop(model.week, []):
            self._ledger.add(model, la, amount)

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        return {"staying_put_extension": pd.DataFrame([{
            "stays_extended": self._extended,
            "extra_weeks": self._extra_weeks,
            "mean_stay_multiplier": self._stretch,
            "cap_weeks": self._cap,
        }])}
