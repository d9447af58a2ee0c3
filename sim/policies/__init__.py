"""Switchable, composable reforms. A scenario lists them under ``[[policies]]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.policies.base import REGISTRY, Policy, policy_from_spec, register

if TYPE_CHECKING:
    from sim.model import CareMarketModel
    from sim.scenario import Scenario

__all__ = ["REGISTRY", "Policy", "build_policies", "register", "validate_policies"]


def validate_policies(scenario: Scenario) -> list[Policy]:
    """Resolve every policy in a scenario, raising a one-line error for bad entries."""
    file = scenario.source_file or "<scenario>"
    return [policy_from_spec(p.name, p.params, file, i) for i, p in enumerate(scenario.policies)]


def build_policies(model: CareMarketModel) -> list[Policy]:
    """Fresh policy objects for one model run."""
    return validate_policies(model.scenario)
