"""Counterfactual limits on profit: margin cap, price cap, windfall tax, for-profit ban.

*Stable Homes, Built on Love* (2023, Annex 5) considered and rejected a price or profit
cap and a windfall tax because government expected providers to exit or prices to
rise; the financial oversight regime keeps a profit cap as a last resort. *The Big
Ambition* (Children's Commissioner, 2024) asks for a ban on profit-making phased in
behind new LA and charity capacity. These are the counterfactuals, one ``mode`` each:

- ``margin_cap``: independent providers may not price above cost plus the markup that
  gives ``max_margin`` at target occupancy.
- ``price_cap``: no placement priced above ``home_price_cap_gbp`` (children's homes) or
  ``ifa_price_cap_gbp`` (IFA carers).
- ``windfall_tax``: each year, ``tax_rate`` of a for-profit provider's profit above
  ``tax_threshold_margin`` of its revenue is taxed away (its cash falls, so shocks
  topple it sooner), and new homes are planned on after-tax margins.
- ``for_profit_ban``: no new private children's homes; a charity opens
  ``charity_entry_share`` of what private entry would have opened; existing private
  homes leave the for-profit sector on a straight line over ``phase_in_years``, each
  converted to a charity as a going concern (``conversion_share``) or closed with
  ``notice_weeks`` of notice -- closures only as fast as new LA and charity places open
  when ``behind_capacity`` is true.

Providers respond. New homes follow margins (``Market.entry``): under a cap, investors
plan on the margin a new home could earn under it (an entry hook), so fewer homes open;
under the tax, on the after-tax margin. An investor whose required return (drawn once per
provider between ``hurdle_margin_low`` and ``hurdle_margin_high``) was met before the
policy but not under it exits at ``exit_rate`` per quarter: its children's homes close
with ``notice_weeks`` of notice (children move as suitable places come free; any left
then move to the best place found); an exiting IFA's carers move to another agency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.agents.foster_household import FosterHousehold
from sim.agents.provider import ChildrensHome
from sim.errors import ScenarioError
from sim.policies._provision import (
    WindDowns,
    new_operator,
    take_managers,
    transfer_all,
    transfer_setting,
)
from sim.policies.base import WEEKS_PER_YEAR, Policy, register
from sim.supply import home_siting_weights, open_home
from sim.types import PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.provider import Provider
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel

MODES = ("margin_cap", "price_cap", "windfall_tax", "for_profit_ban")
KINDS = ("homes", "ifa")


@register
class ProfitCap(Policy):
    """A cap on margins or prices, a windfall tax, or a phased ban on for-profit homes."""

    name = "profit_cap"
    defaults: ClassVar[dict[str, Any]] = {
        "mode": "margin_cap",
        "kinds": ["homes", "ifa"],
        "max_margin": 0.10,
        # CMA (2022) average weekly prices: the cap binds on dearer placements.
        "home_price_cap_gbp": 3830.0,
        "ifa_price_cap_gbp": 820.0,
        "tax_rate": 0.25,
        "tax_threshold_margin": 0.10,
        "hurdle_margin_low": 0.05,
        "hurdle_margin_high": 0.20,
        "exit_rate": 0.02,
        "notice_weeks": 12.0,
        "phase_in_years": 5.0,
        "behind_capacity": True,
        "conversion_share": 0.5,
        "charity_entry_share": 0.25,
        "nonprofit_markup": 0.05,
    }
    ranges: ClassVar[dict[str, tuple[float | None, float | None, str]]] = {
        "max_margin": (0.0, 0.9, "operating margin at target occupancy"),
        "home_price_cap_gbp": (0.0, 1e6, "GBP/week"),
        "ifa_price_cap_gbp": (0.0, 1e6, "GBP/week"),
        "tax_rate": (0.0, 1.0, "share of profit above the threshold"),
        "tax_threshold_margin": (0.0, 1.0, "margin on revenue"),
        "hurdle_margin_low": (0.0, 1.0, "margin"),
        "hurdle_margin_high": (0.0, 1.0, "margin"),
        "exit_rate": (0.0, 1.0, "probability per quarter"),
        "notice_weeks": (0.0, 104.0, "weeks"),
        "phase_in_years": (0.25, 50.0, "years"),
        "conversion_share": (0.0, 1.0, "share of private homes removed"),
        "charity_entry_share": (0.0, 10.0, "x the private entry forgone"),
        "nonprofit_markup": (0.0, 5.0, "markup on cost"),
    }
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"mode": MODES}

    def validate(self, where: str, model_geography=None) -> None:
        p = self.params
        bad = [k for k in p["kinds"] if k not in KINDS]
        if bad or not p["kinds"]:
            raise ScenarioError(
                f"{where}.kinds: {bad[0] if bad else '[]'!r} is not allowed; allowed a "
                f"non-empty list of {', '.join(repr(k) for k in KINDS)}")
        if p["hurdle_margin_low"] > p["hurdle_margin_high"]:
            raise ScenarioError(
                f"{where}.hurdle_margin_high: {p['hurdle_margin_high']} is below "
                f"hurdle_margin_low {p['hurdle_margin_low']}; allowed a value >= it")

    # -- lifecycle ---------------------------------------------------------------------
    def initialize(self, model: CareMarketModel) -> None:
        self._model = model
        self._hurdle: dict[Provider, float] = {}
        self._reference: dict[str, float] = {}
        self._books: dict[Provider, tuple[float, float]] = {}
        self._winds = WindDowns()
        self._charities: dict[str, Provider] = {}
        self._building: list[tuple[int, int]] = []
        self._forgone = 0.0
        self._removed = self._closed = 0
        self._private_places_0 = self._la_places_0 = self._charity_places = 0
        self._on_week = 0
        self.events: list[dict[str, Any]] = []
        self.counts = {"exits": 0, "tax_gbp": 0.0, "converted": 0, "closed": 0,
                       "charity_homes": 0}

    def switch_on(self, model: CareMarketModel) -> None:
        mode = self.params["mode"]
        self._on_week = model.week
        self._reference = {kind: _expected_margin(model, kind) for kind in KINDS}
        if mode == "margin_cap":
            model.price_hooks.append(self._cap_markup)
            model.entry_hooks.append(self._capped_entry)
        elif mode == "price_cap":
            model.market.setting_price_hooks.append(self._cap_price)
            model.entry_hooks.append(self._capped_entry)
        elif mode == "windfall_tax":
            model.entry_hooks.append(self._after_tax_entry)
            self._books = {p: (p.revenue_to_date, p.cost_to_date) for p in model.providers}
        else:
            model.entry_hooks.append(self._no_private_entry)
            model.price_hooks.append(self._nonprofit_price)
            self._private_places_0 = sum(s.places for s in _private_homes(model))
            self._la_places_0 = sum(s.places for s in model.settings[PlacementType.LA_HOME])

    def switch_off(self, model: CareMarketModel) -> None:
        for hooks, fn in ((model.price_hooks, self._cap_markup),
                          (model.entry_hooks, self._capped_entry),
                          (model.market.setting_price_hooks, self._cap_price),
                          (model.entry_hooks, self._after_tax_entry),
                          (model.entry_hooks, self._no_private_entry),
                          (model.price_hooks, self._nonprofit_price)):
            if fn in hooks:
                hooks.remove(fn)

    def apply(self, model: CareMarketModel) -> None:
        super().apply(model)
        # Homes already closing or being built carry on after the policy ends.
        self._winds.step(model)
        self._open_due(model)

    def weekly(self, model: CareMarketModel) -> None:
        mode = self.params["mode"]
        elapsed = model.week - self._on_week
        if mode == "for_profit_ban":
            if model.week % 13 == 1:  # the week after the market's quarterly entry
                self._ban_quarter(model)
            return
        if elapsed > 0 and elapsed % 13 == 0:
            self._exits(model)
        if mode == "windfall_tax" and elapsed > 0 and elapsed % 52 == 0:
            self._tax(model)

    # -- prices and entry --------------------------------------------------------------
    def _covers(self, provider: Provider) -> bool:
        return provider.kind in self.params["kinds"] and provider.sector != Sector.LOCAL_AUTHORITY

    def _cap_markup(self, provider: Provider, markup: float) -> float:
        """Margin cap: markup m gives margin m / (1 + m) at target occupancy."""
        if not self._covers(provider):
            return markup
        cap = self.params["max_margin"]
        return min(markup, cap / (1 - cap))

    def _cap_price(self, s: CareSetting, price: float) -> float:
        if not self._covers(s.provider):
            return price
        if isinstance(s, ChildrensHome):
            return min(price, self.params["home_price_cap_gbp"])
        if isinstance(s, FosterHousehold):
            return min(price, self.params["ifa_price_cap_gbp"])
        return price

    def _capped_entry(self, want: float) -> float:
        """Investors plan new homes on the margin a new home could earn under the cap."""
        model = self._model
        margin = model.market.home_margin()
        if margin <= 0:
            return want
        p = self.params
        if p["mode"] == "margin_cap":
            ceiling = p["max_margin"]
        else:
            costs = [s.cost_per_place for s in _private_homes(model)]
            cap = p["home_price_cap_gbp"]
            if not costs or cap <= 0:
                return 0.0 if cap <= 0 else want
            cost = float(np.mean(costs)) / model.scenario.prices.target_occupancy
            ceiling = 1 - cost / cap
        return want * min(max(ceiling, 0.0) / margin, 1.0)

    def _after_tax_entry(self, want: float) -> float:
        """New homes are planned on the margin left after the windfall tax."""
        margin = self._model.market.home_margin()
        if margin <= 0:
            return want
        return want * self._after_tax(margin) / margin

    def _after_tax(self, margin: float) -> float:
        p = self.params
        return margin - p["tax_rate"] * max(margin - p["tax_threshold_margin"], 0.0)

    def _no_private_entry(self, want: float) -> float:
        self._forgone += want
        return 0.0

    def _nonprofit_price(self, provider: Provider, markup: float) -> float:
        """Charities running former private homes price at cost plus a small surplus."""
        if provider.sector == Sector.VOLUNTARY and provider in self._charities.values():
            return min(markup, self.params["nonprofit_markup"])
        return markup

    # -- investors' response -----------------------------------------------------------
    def _ceiling(self, model: CareMarketModel, prov: Provider, reference: float) -> float:
        """The best margin the policy leaves a provider (its reference margin if none)."""
        p = self.params
        mode = p["mode"]
        if mode == "margin_cap":
            return min(reference, p["max_margin"])
        if mode == "windfall_tax":
            return self._after_tax(reference)
        if prov.kind == "ifa":
            cost = model.scenario.prices.ifa_cost
            cap = p["ifa_price_cap_gbp"]
        else:
            costs = [s.cost_per_place for s in prov.settings if s.open]
            cost = float(np.mean(costs)) / model.scenario.prices.target_occupancy
            cap = p["home_price_cap_gbp"]
        return min(reference, 1 - cost / cap) if cap > 0 else -1.0

    def _exits(self, model: CareMarketModel) -> None:
        """Quarterly: investors whose required return the policy denies leave."""
        p = self.params
        for prov in list(model.providers):
            if (not prov.active or prov.sector != Sector.PRIVATE
                    or prov.kind not in p["kinds"]
                    or not any(s.open for s in prov.settings)):
                continue
            reference = self._reference.get(prov.kind, float("nan"))
            if not reference > 0:
                continue
            hurdle = self._hurdle.get(prov)
            if hurdle is None:
                hurdle = self._hurdle[prov] = float(
                    self.rng.uniform(p["hurdle_margin_low"], p["hurdle_margin_high"]))
            if self._ceiling(model, prov, reference) < hurdle <= reference and \
                    self.rng.random() < p["exit_rate"]:
                self._exit(model, prov)

    def _exit(self, model: CareMarketModel, prov: Provider) -> None:
        prov.active = False  # no new homes, no new carers
        self.counts["exits"] += 1
        if prov.kind == "ifa":
            buyers = [q for q in model.providers if q.active and q.kind == "ifa"
                      and q.sector != Sector.LOCAL_AUTHORITY]
            if buyers:
                kept = transfer_all(model, prov, buyers[int(self.rng.integers(len(buyers)))])
                self._log(model, "exit (carers move)", prov, kept)
                return
        children = prov.occupied
        for s in prov.settings:
            if s.open:
                self._winds.add(model, s, self.params["notice_weeks"])
        self._log(model, "exit (closing)", prov, children)

    def _tax(self, model: CareMarketModel) -> None:
        """Yearly windfall tax on each for-profit provider's profit above the threshold."""
        p = self.params
        for prov in model.providers:
            if prov.sector != Sector.PRIVATE or prov.kind not in p["kinds"]:
                continue
            rev0, cost0 = self._books.get(prov, (0.0, 0.0))
            self._books[prov] = (prov.revenue_to_date, prov.cost_to_date)
            revenue = prov.revenue_to_date - rev0
            profit = revenue - (prov.cost_to_date - cost0)
            taxable = profit - p["tax_threshold_margin"] * revenue
            if prov.active and taxable > 0:
                tax = p["tax_rate"] * taxable
                prov.cash -= tax
                self.counts["tax_gbp"] += tax
        self._log(model, "windfall tax", None, 0, self.counts["tax_gbp"])

    # -- for-profit ban ----------------------------------------------------------------
    def _ban_quarter(self, model: CareMarketModel) -> None:
        p = self.params
        r = model.scenario.residential
        # Charities take up part of the entry private providers may no longer make.
        wanted = int(self.rng.poisson(max(self._forgone * p["charity_entry_share"], 0.0)))
        self._forgone = 0.0
        if wanted:
            siting = home_siting_weights(model)
            for _ in range(take_managers(model, wanted)):
                la = int(self.rng.choice(len(siting), p=siting))
                self._building.append((model.week + int(r.registration_weeks), la))
        # Private homes leave the for-profit sector on a straight line.
        years = (model.week - self._on_week) / WEEKS_PER_YEAR
        target = self._private_places_0 * min(years / p["phase_in_years"], 1.0)
        need = target - self._removed
        if need <= 0:
            return
        la_places = sum(s.places for s in model.settings[PlacementType.LA_HOME])
        replacement = max(la_places - self._la_places_0, 0) + self._charity_places
        homes = list(_private_homes(model))
        for i in self.rng.permutation(len(homes)).tolist():
            if need <= 0:
                break
            home = homes[i]
            if self.rng.random() < p["conversion_share"]:
                self._convert(model, home)
            elif not p["behind_capacity"] or self._closed + home.places <= replacement:
                self._closed += home.places
                self.counts["closed"] += 1
                self._log(model, "closed", home.provider, len(home.occupants))
                self._winds.add(model, home, p["notice_weeks"])
            else:
                continue
            need -= home.places
            self._removed += home.places

    def _charity(self, model: CareMarketModel, region: str) -> Provider:
        if region not in self._charities:
            self._charities[region] = new_operator(model, "homes", Sector.VOLUNTARY, region,
                                                   f"Children's homes trust, {region}")
        return self._charities[region]

    def _convert(self, model: CareMarketModel, home: ChildrensHome) -> None:
        """A private home passes to a charity as a going concern; its children stay."""
        old = home.provider
        charity = self._charity(model, model.geography.las[home.la].region)
        transfer_setting(model, home, charity)
        # Working capital from the social investor that funds the purchase.
        charity.cash += model.scenario.residential.cash_weeks * home.running_cost()
        self.counts["converted"] += 1
        self._log(model, "converted", old, len(home.occupants))

    def _open_due(self, model: CareMarketModel) -> None:
        if not self._building or min(b[0] for b in self._building) > model.week:
            return
        due = [b for b in self._building if b[0] <= model.week]
        self._building = [b for b in self._building if b[0] > model.week]
        r = model.scenario.residential
        for _, la in due:
            charity = self._charity(model, model.geography.las[la].region)
            home = open_home(model, charity, la, self.rng)
            charity.cash += r.cash_weeks * home.running_cost()
            self._charity_places += home.places
            self.counts["charity_homes"] += 1

    # -- results -----------------------------------------------------------------------
    def _log(self, model: CareMarketModel, event: str, prov: Provider | None,
             children: int, value: float = 0.0) -> None:
        self.events.append({"week": model.week, "event": event,
                            "provider": "" if prov is None else prov.name,
                            "children": int(children), "value": float(value)})

    def outputs(self, model: CareMarketModel) -> dict[str, Any]:
        columns = ["week", "event", "provider", "children", "value"]
        return {"profit_cap": pd.DataFrame(getattr(self, "events", []), columns=columns)}


def _private_homes(model: CareMarketModel):
    """Open children's homes of for-profit providers not already closing."""
    for s in model.settings[PlacementType.PRIVATE_HOME]:
        if s.open and not getattr(s, "retiring", False) and s.provider.sector == Sector.PRIVATE:
            yield s


def _expected_margin(model: CareMarketModel, kind: str) -> float:
    """Margin at target occupancy that current prices give independent providers of one
    kind (before the policy changes any price): what an investor expects to earn."""
    prices = model.scenario.prices
    margins = []
    if kind == "homes":
        for s in model.settings[PlacementType.PRIVATE_HOME]:
            if s.open and s.price > 0:
                margins.append(1 - s.cost_per_place / (s.price * prices.target_occupancy))
    else:
        for s in model.settings[PlacementType.IFA_FOSTER]:
            if s.open and s.price > 0:
                margins.append(1 - prices.ifa_cost / s.price)
    return float(np.mean(margins)) if margins else float("nan")
