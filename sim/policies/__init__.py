"""Switchable, composable reforms. A scenario lists them under ``[[policies]]``.

Importing this package registers every policy module below, so a scenario can name
any of them.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from sim.policies.base import REGISTRY, Policy, policy_from_spec, register

if TYPE_CHECKING:
    from sim.model import CareMarketModel
    from sim.scenario import Scenario

__all__ = ["REGISTRY", "Policy", "build_policies", "register", "validate_policies"]

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base" and not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")


def validate_policies(scenario: Scenario) -> list[Policy]:
    """Resolve every policy in a scenario, raising a one-line error for bad entries."""
    file = scenario.source_file or "<scenario>"
    return [policy_from_spec(p.name, p.params, file, i) for i, p in enumerate(scenario.policies)]


def build_policies(model: CareMarketModel) -> list[Policy]:
    """Fresh policy objects for one model run; switched-off ones (``enabled = false``)
    are dropped, so they cannot touch the run at all."""
    policies = []
    for i, policy in enumerate(validate_policies(model.scenario)):
        if policy.enabled:
            policy.bind(model, i)
            policies.append(policy)
    return policies
