"""The foster-carer pipeline: enquiry -> application -> assessment -> approval.

Enquiries and applications are counted (binomial thinning of Poisson enquiries); each
application is a SimPy process that waits for one of its fostering service's
assessors, is assessed for a gamma-distributed number of weeks, and ends in approval or
drop-out. Limited assessors make approvals lag applications when recruitment rises,
which is why extra marketing alone adds carers slowly. The SimPy clock is the model's
week and is advanced in step with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import simpy

from sim.types import PlacementType

if TYPE_CHECKING:
    from sim.model import CareMarketModel

WEEKS_PER_YEAR = 52.1775


@dataclass
class PipelineLevers:
    """Multipliers policies turn (all 1.0 at baseline)."""

    enquiries: float = 1.0
    application_rate: float = 1.0
    approval_rate: float = 1.0
    assessment_weeks: float = 1.0
    assessors: float = 1.0
    deregistration: float = 1.0
    targeted_teen_share: float = 0.0  # extra share of approvals for teenagers/siblings
    targeted_sibling_share: float = 0.0  # extra share of approvals with 3-4 places
    targeted_complex_share: float = 0.0  # extra share of approvals for complex needs
    by_region: dict[str, float] = field(default_factory=dict)  # regional enquiry multipliers
    in_house_by_region: dict[str, dict[str, float]] = field(default_factory=dict)
    """Region -> {lever name: value} for LA in-house services only (e.g. regional hubs):
    multiplies the lever, except ``targeted_*`` shares, which add to it."""

    def value(self, lever: str, region: str, in_house: bool) -> float:
        """One lever for a service in ``region`` (in-house: with its regional setting)."""
        base = getattr(self, lever)
        extra = self.in_house_by_region.get(region, {}).get(lever) if in_house else None
        if extra is None:
            return base
        return base + extra if lever.startswith("targeted_") else base * extra


@dataclass
class PipelineCounts:
    enquiries: int = 0
    applications: int = 0
    approvals: int = 0
    withdrawals: int = 0
    deregistrations: int = 0
    transfers_to_ifa: int = 0


class FosteringService:
    """An LA's in-house fostering service or an IFA: it recruits and assesses carers."""

    def __init__(self, env: simpy.Environment, key, ptype: PlacementType, las: list[int],
                 weights: np.ndarray, assessors: int) -> None:
        self.key = key
        self.ptype = ptype
        self.las = las
        self.weights = weights / weights.sum()
        # Cumulative shares for drawing where a new carer lives (what rng.choice does).
        self.cumulative = np.cumsum(self.weights)
        self.cumulative /= self.cumulative[-1]
        self.assessors = simpy.Resource(env, capacity=max(1, assessors))
        self.approval_rate = 0.0

    @property
    def is_open(self) -> bool:
        """An LA service always is; an IFA only while its provider trades."""
        return self.ptype == PlacementType.LA_FOSTER or bool(self.key.active)


class RecruitmentPipeline:
    """All fostering services' recruitment, run on a SimPy clock in model weeks."""

    def __init__(self, model: CareMarketModel, rng: np.random.Generator) -> None:
        self.model = model
        self.rng = rng
        self.env = simpy.Environment()
        self.levers = PipelineLevers()
        self.counts = PipelineCounts()
        self.services: list[FosteringService] = []
        f = model.scenario.fostering
        demand = model.la_table["foster_demand"]
        per_household = f.assessors_per_100_households / 100.0
        for la in model.active_las:
            n_la = (f.mainstream_households * model.scenario.scale * model.share["foster"]
                    * f.la_share_of_mainstream * demand[la] / demand[model.active_las].sum())
            self.services.append(FosteringService(
                self.env, la, PlacementType.LA_FOSTER, [la], np.ones(1),
                int(np.ceil(n_la * per_household))))
        for prov in model.providers:
            if prov.kind != "ifa":
                continue
            las = sorted({s.la for s in prov.settings}) or [model.active_las[0]]
            w = np.array([demand[i] for i in las], dtype=float) + 1e-9
            size = max(len(prov.settings), 1)
            self.services.append(FosteringService(
                self.env, prov, PlacementType.IFA_FOSTER, las, w,
                int(np.ceil(size * per_household))))
        self._share = self._enquiry_shares()
        # LA and IFA services convert at different rates (Ofsted: IFAs take 79% of
        # enquiries but 62% of applications and 55% of approvals).
        q = f.ifa_share_of_enquiries
        app_ifa = f.application_rate * f.ifa_share_of_applications / q
        app_la = f.application_rate * (1 - f.ifa_share_of_applications) / (1 - q)
        ok_ifa = f.approval_rate * f.ifa_share_of_approvals / f.ifa_share_of_applications
        ok_la = f.approval_rate * (1 - f.ifa_share_of_approvals) / (
            1 - f.ifa_share_of_applications)
        is_ifa = np.array([s.ptype == PlacementType.IFA_FOSTER for s in self.services])
        self._apply_rate = np.where(is_ifa, app_ifa, app_la)
        for s in self.services:
            s.approval_rate = ok_ifa if s.ptype == PlacementType.IFA_FOSTER else ok_la

    def _enquiry_shares(self) -> np.ndarray:
        """Each service's share of national enquiries (LA vs IFA split from Ofsted)."""
        f = self.model.scenario.fostering
        la_services = [s for s in self.services if s.ptype == PlacementType.LA_FOSTER]
        ifa_services = [s for s in self.services if s.ptype == PlacementType.IFA_FOSTER]
        shares = np.zeros(len(self.services))
        for i, s in enumerate(self.services):
            if s.ptype == PlacementType.LA_FOSTER:
                shares[i] = (1 - f.ifa_share_of_enquiries) / max(len(la_services), 1)
            else:
                size = len(s.key.settings) + 1
                total = sum(len(x.key.settings) + 1 for x in ifa_services)
                shares[i] = f.ifa_share_of_enquiries * size / total
        return shares

    def advance(self, week: int) -> None:
        """One week of enquiries and applications, then run assessments up to ``week``."""
        f = self.model.scenario.fostering
        lv = self.levers
        weekly = (f.enquiries_per_year * self.model.scenario.scale * self.model.share["foster"]
                  / WEEKS_PER_YEAR)
        if lv.in_house_by_region:  # regional in-house levers (e.g. recruitment hubs)
            regions = [self._region(s) for s in self.services]
            in_house = [s.ptype == PlacementType.LA_FOSTER for s in self.services]
            mult = np.array([lv.value("enquiries", r, h) * lv.by_region.get(r, 1.0) * s.is_open
                             for s, r, h in zip(self.services, regions, in_house, strict=True)])
            apply = self._apply_rate * np.array([lv.value("application_rate", r, h)
                                                 for r, h in zip(regions, in_house, strict=True)])
        else:
            mult = np.array([lv.enquiries * lv.by_region.get(self._region(s), 1.0) * s.is_open
                             for s in self.services])
            apply = self._apply_rate * lv.application_rate
        enquiries = self.rng.poisson(weekly * self._share * mult)
        applications = self.rng.binomial(enquiries, np.minimum(apply, 1.0))
        self.counts.enquiries += int(enquiries.sum())
        self.counts.applications += int(applications.sum())
        for service, n in zip(self.services, applications.tolist(), strict=True):
            for _ in range(n):
                self.env.process(self._assess(service))
        self.env.run(until=week + 1e-9)

    def _region(self, service: FosteringService) -> str:
        return self.model.geography.las[service.las[0]].region

    def _assess(self, service: FosteringService):
        """One application: wait for an assessor, be assessed, be approved or withdraw."""
        f = self.model.scenario.fostering
        lv = self.levers
        region = self._region(service)
        in_house = service.ptype == PlacementType.LA_FOSTER
        with service.assessors.request() as slot:
            yield slot
            mean = f.assessment_weeks * lv.value("assessment_weeks", region, in_house)
            duration = float(self.rng.gamma(4.0, mean / 4.0))
            yield self.env.timeout(duration)
        if not service.is_open:
            self.counts.withdrawals += 1  # the agency has gone: its applicants are lost
        elif self.rng.random() < min(service.approval_rate
                                     * lv.value("approval_rate", region, in_house), 1.0):
            # Inverse-CDF draw: the same draw as rng.choice(p=weights), without its checks.
            k = int(service.cumulative.searchsorted(self.rng.random(), side="right"))
            la = service.las[k]
            self.model.approve_household(service, la)
            self.counts.approvals += 1
        else:
            self.counts.withdrawals += 1

    def resize_assessors(self) -> None:
        """Apply the assessor lever (SimPy resources have fixed capacity, so rebuild)."""
        f = self.model.scenario.fostering
        for s in self.services:
            size = (len(s.key.settings) if s.ptype == PlacementType.IFA_FOSTER
                    else sum(1 for _ in self.model.las[s.key].in_house))
            cap = int(np.ceil(size * f.assessors_per_100_households / 100 * self.levers.assessors))
            # SimPy capacities are fixed: new applications queue for the resized team.
            s.assessors = simpy.Resource(self.env, capacity=max(1, cap))
