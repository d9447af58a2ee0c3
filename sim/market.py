"""The market side: prices, provider accounts, failure and entry.

Prices are cost plus a markup that rises with scarcity (regional occupancy above a
target) and with how fragmented a provider's buyers are (many small buyers have little
bargaining power). Providers keep accounts every four weeks; one whose cash runs out
exits and its homes close, displacing the children in them. New homes open where the
expected margin is positive, sited where running costs are low, limited by the supply
of registered managers and delayed by registration.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from sim.agents.foster_household import FosterHousehold
from sim.agents.provider import ChildrensHome, Provider, SupportedHome
from sim.types import Need, PlacementType, Sector

if TYPE_CHECKING:
    from sim.agents.setting import CareSetting
    from sim.model import CareMarketModel

WEEKS_PER_YEAR = 52.1775


class Market:
    """Pricing, provider finance, failure and entry for one model."""

    def __init__(self, model: CareMarketModel, rng: np.random.Generator) -> None:
        self.model = model
        self.rng = rng
        self.scarcity: dict[tuple[str, str], float] = {}
        self.homes_opened = 0
        self.homes_closed = 0
        self.providers_failed = 0
        self.children_displaced = 0
        self.pending_managers = 0.0
        self.supported_opened = 0  # supported accommodation units opened since 2019
        self.supported_providers: dict[int, Provider] = {}  # LA -> its supported provider
        self._concentration: dict[Provider, float] = {}
        self._buyer_of: list[list[str]] | None = None  # set during a price review
        self._markups: dict[tuple, float] = {}
        self._priced_fee_multiplier: float | None = None
        self._region_of = [la.region for la in model.geography.las]
        # fn(setting, price) -> price for independent settings, after the markup (e.g. a
        # price cap or a national tariff set per placement, not per provider).
        self.setting_price_hooks: list = []
        # fn(available managers, private homes wanted) -> managers taken this quarter, ahead
        # of private entry (e.g. an LA capital programme recruiting from the same pool).
        self.manager_claims: list = []

    # -- prices --------------------------------------------------------------------------
    def markup(self, provider: Provider, kind: str, region: str) -> float:
        """Markup on cost for a provider's placements in a region (fixed between reviews)."""
        key = (provider, kind, region)
        if key not in self._markups:
            self._markups[key] = self._markup(provider, kind, region)
        return self._markups[key]

    def _markup(self, provider: Provider, kind: str, region: str) -> float:
        p = self.model.scenario.prices
        base = {"homes": p.home_markup, "ifa": p.ifa_markup, "supported": p.ifa_markup}[kind]
        occ = self.scarcity.get((kind, region), p.target_occupancy)
        scarce = max(occ - p.target_occupancy, 0.0) / max(1 - p.target_occupancy, 1e-6)
        if provider not in self._concentration:
            self._concentration[provider] = self.buyer_concentration(provider, self._buyer_of)
        frag = 1.0 - self._concentration[provider]
        scarcity = p.ifa_scarcity_markup if kind == "ifa" else p.scarcity_markup
        m = base + scarcity * scarce * base + p.fragmentation_markup * frag
        for hook in self.model.price_hooks:
            m = hook(provider, m)
        return max(m, -0.5)

    def buyer_concentration(self, provider: Provider,
                            buyer_of: list[list[str]] | None = None) -> float:
        """Herfindahl index of the buyers (LAs or cooperatives) of a provider's placements.

        ``buyer_of[la][need]`` is who buys for each LA and need (:meth:`buyers`), passed
        in by the quarterly review so it is built once rather than per provider."""
        if buyer_of is None:
            buyer_of = self.buyers()
        buyers = Counter(buyer_of[c.la][c.need] for s in provider.settings for c in s.occupants)
        total = sum(buyers.values())
        if total == 0:
            return 0.0
        return sum((v / total) ** 2 for v in buyers.values())

    def buyers(self) -> list[list[str]]:
        """Who buys placements for each LA's children, by need (LA, or its cooperative)."""
        return [[la.buyer_for(need) for need in Need] for la in self.model.las]

    def price_setting(self, s: CareSetting) -> None:
        """Quote the weekly price of a new placement in ``s``."""
        p = self.model.scenario.prices
        if s.reserved_for is not None:
            return  # the block contract fixes the price
        if isinstance(s, ChildrensHome):
            if s.provider.sector == Sector.LOCAL_AUTHORITY:
                s.price = s.cost_per_place
                return
            region = self.model.geography.las[s.la].region
            m = self.markup(s.provider, "homes", region)
            s.price = s.cost_per_place / p.target_occupancy * (1 + m)
        elif isinstance(s, SupportedHome):
            region = self.model.geography.las[s.la].region
            s.price = p.supported_cost * (1 + self.markup(s.provider, "supported", region))
        elif isinstance(s, FosterHousehold):
            if s.ptype == PlacementType.IFA_FOSTER:
                region = self.model.geography.las[s.la].region
                s.price = p.ifa_cost * (1 + self.markup(s.service, "ifa", region))
            elif s.ptype == PlacementType.KINSHIP:
                s.price = p.kinship_foster_cost
            else:
                s.price = p.in_house_foster_cost * self.model.foster_fee_multiplier
        if self.setting_price_hooks and s.provider is not None:
            for hook in self.setting_price_hooks:
                s.price = hook(s, s.price)

    def reprice(self) -> None:
        """Quarterly price review for every setting, from current regional scarcity."""
        self.update_scarcity()
        self._concentration = {}
        self._buyer_of = self.buyers()
        self._markups = {}
        types = [PlacementType.PRIVATE_HOME, PlacementType.LA_HOME, PlacementType.SUPPORTED]
        if self.model.foster_fee_multiplier != self._priced_fee_multiplier:
            types.append(PlacementType.LA_FOSTER)  # in-house fees changed (a policy)
            self._priced_fee_multiplier = self.model.foster_fee_multiplier
        for s in self.model.settings_of(*types):
            self.price_setting(s)
        # IFA carers: one price per agency and region (same rule as price_setting, without
        # a call per household: large agencies have thousands).
        cost = self.model.scenario.prices.ifa_cost
        region_of = self._region_of
        quoted: dict[tuple, float] = {}
        for s in self.model.settings[PlacementType.IFA_FOSTER]:
            if s.reserved_for is None:
                key = (s.service, region_of[s.la])
                price = quoted.get(key)
                if price is None:
                    price = quoted[key] = cost * (1 + self.markup(s.service, "ifa", key[1]))
                if s._price != price:  # most quotes are unchanged between reviews
                    s.price = price
        self._buyer_of = None
        if self.setting_price_hooks:
            for s in self.model.settings[PlacementType.IFA_FOSTER]:
                if s.reserved_for is None:
                    for hook in self.setting_price_hooks:
                        s.price = hook(s, s.price)

    def update_scarcity(self) -> None:
        """Occupancy of usable places by provider kind and region."""
        occ: dict[tuple[str, str], list[int]] = {}
        region_of = self._region_of
        for prov in self.model.providers:
            if not prov.active or prov.sector == Sector.LOCAL_AUTHORITY:
                continue
            for s in prov.settings:
                if not s.open:
                    continue
                cell = occ.setdefault((prov.kind, region_of[s.la]), [0, 0])
                cell[0] += len(s.occupants)
                cell[1] += max(s.places - s.blocked, 0)
        self.scarcity = {k: (v[0] / v[1] if v[1] else 1.0) for k, v in occ.items()}

    # -- accounts ------------------------------------------------------------------------
    def capitalise(self, prov: Provider, rng: np.random.Generator,
                   leveraged: bool = False) -> None:
        """Opening balance sheet: cash buffer and, for leveraged groups, debt."""
        r = self.model.scenario.residential
        weekly = sum(s.running_cost() for s in prov.settings if hasattr(s, "running_cost"))
        prov.cash = weekly * r.cash_weeks * float(rng.uniform(0.5, 1.5))
        if leveraged and rng.random() < r.leveraged_share:
            revenue = weekly * WEEKS_PER_YEAR * 1.3
            prov.debt = r.debt_years_revenue * revenue
            prov.interest_rate = r.interest_rate

    def accounts(self, weeks: int) -> None:
        """Book ``weeks`` of revenue and cost; providers out of cash fail."""
        for prov in list(self.model.providers):
            if not prov.active or prov.sector == Sector.LOCAL_AUTHORITY:
                continue
            revenue = prov.weekly_revenue() * weeks
            cost = prov.weekly_cost() * weeks
            prov.cash += revenue - cost
            prov.revenue_to_date += revenue
            prov.cost_to_date += cost
            prov.quarter_revenue = 0.75 * prov.quarter_revenue + revenue
            prov.quarter_cost = 0.75 * prov.quarter_cost + cost
            if prov.cash < 0:
                self.model.on_provider_failure(prov)

    def cost_shocks(self) -> None:
        """Quarterly: each independent provider's running costs move (staff, agency, energy)."""
        sd = self.model.scenario.residential.cost_shock_sd
        for prov in self.model.providers:
            if prov.active and prov.sector != Sector.LOCAL_AUTHORITY:
                prov.cost_multiplier = float(np.exp(self.rng.normal(0.0, sd)))

    def fail(self, prov: Provider) -> list:
        """A disorderly exit: every setting closes and its children must move at once."""
        prov.active = False
        self.providers_failed += 1
        displaced = []
        for s in prov.settings:
            if s.open:
                displaced += s.close()
                if isinstance(s, ChildrensHome):
                    self.homes_closed += 1
        self.children_displaced += len(displaced)
        return displaced

    def remove_closed(self, prov: Provider) -> None:
        """Drop a failed provider's settings once their children have left."""
        for s in prov.settings:
            if not s.occupants and s in self.model.settings[s.ptype]:
                self.model.unregister_setting(s)

    # -- entry ---------------------------------------------------------------------------
    def home_margin(self) -> float:
        """Expected operating margin of a new independent home at current prices."""
        revenue = cost = 0.0
        for prov in self.model.providers:
            if prov.active and prov.kind == "homes" and prov.sector != Sector.LOCAL_AUTHORITY:
                revenue += prov.quarter_revenue
                cost += prov.quarter_cost
        return (revenue - cost) / revenue if revenue > 0 else 0.0

    def entry(self) -> None:
        """Quarterly: independent providers decide how many homes to open."""
        from sim.supply import home_siting_weights

        r = self.model.scenario.residential
        margin = self.home_margin()
        n_homes = sum(1 for _ in self.model.settings_of(PlacementType.PRIVATE_HOME))
        demand = self.model.unmet_residential_demand()
        want = (r.entry_rate * max(margin - r.entry_hurdle_margin, 0.0) * 10 * n_homes
                * (1 + demand))
        for hook in self.model.entry_hooks:
            want = hook(want)
        managers = (r.manager_supply_per_quarter * self.model.scenario.scale
                    * self.model.share["residential"])
        self.pending_managers += managers
        for claim in self.manager_claims:
            self.pending_managers -= claim(self.pending_managers, want)
        n_new = int(min(self.rng.poisson(max(want, 0.0)), self.pending_managers))
        self.pending_managers = min(self.pending_managers - n_new, 4 * managers)
        siting = home_siting_weights(self.model)
        for _ in range(n_new):
            la = int(self.rng.choice(len(siting), p=siting))
            self.model.schedule_home_opening(self.choose_operator(la), la, r.registration_weeks)
        self.supported_entry()

    def supported_entry(self) -> None:
        """Quarterly: supported accommodation opens where LAs' young people are using it.

        Supported accommodation (flats or shared houses with support) needs no registered
        manager or purpose-built home, so providers add a unit in an LA once the LA's
        young people in supported accommodation (wherever they live) number at least
        ``supported_entry_occupancy`` of the usable places in that LA with the new unit's
        (so the unit would fill, rather than fail and reopen). Without this,
        units that fail are never replaced and young people are placed ever further away.
        """
        from sim.supply import SUPPORTED_UNIT_PLACES, new_supported_provider, open_supported_unit

        m = self.model
        threshold = m.scenario.residential.supported_entry_occupancy
        n = len(m.geography.las)
        places = [0] * n
        used = [0] * n
        for s in m.settings[PlacementType.SUPPORTED]:
            if s.open:
                places[s.location_la] += s.places - s.blocked
            for c in s.occupants:
                used[c.la] += 1
        for la in m.active_las:
            if used[la] > 0 and used[la] >= threshold * (places[la] + SUPPORTED_UNIT_PLACES):
                prov = self.supported_providers.get(la)
                fresh = prov is None or not prov.active
                if fresh:
                    prov = new_supported_provider(m, la)
                open_supported_unit(m, prov, la, self.rng)
                self.supported_opened += 1
                if fresh:
                    self.capitalise(prov, self.rng)

    def choose_operator(self, la: int) -> Provider:
        """Existing large groups expand; otherwise a new small operator enters."""
        groups = [p for p in self.model.providers
                  if p.active and p.kind == "homes" and p.name.startswith("Home group")]
        if groups and self.rng.random() < 0.45:
            return groups[int(self.rng.integers(len(groups)))]
        region = self.model.geography.las[la].region
        prov = Provider(self.model, "homes", Sector.PRIVATE, region, 0.0, 0.0, 0.0, 0.0)
        prov.cash = self.model.scenario.prices.home_cost_per_place * 4 * 8
        self.model.register_provider(prov)
        return prov
