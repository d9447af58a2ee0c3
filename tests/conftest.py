"""Shared fixtures for the model, scenario and CLI tests.

Nothing here is autouse: the fixtures only run for the tests that ask for them, so the
calibration and geography tests are unaffected.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The project checkout (for ``scenarios/baseline.toml``)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def geography():
    """England's 152 LAs on postcode geography (read once from the warm cache)."""
    from sim.geography import load_geography

    return load_geography()


@pytest.fixture
def write_toml(tmp_path: Path) -> Callable[..., Path]:
    """Write a scenario file into ``tmp_path`` and return its path."""

    def write(text: str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def small_run():
    """One small real run (1% of England, half a year), shared by read-only tests.

    Returns ``(model, result)``. Tests must not step or mutate the model.
    """
    from sim.model import CareMarketModel

    model = CareMarketModel(scenario=None, seed=3, scale=0.01)
    result = model.run(years=0.5)
    return model, result
