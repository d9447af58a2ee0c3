"""care-market-sim: an agent-based model of England's children's social care placement market."""

from importlib import metadata

try:
    __version__ = metadata.version("care-market-sim")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from sim.errors import ScenarioError, SimInputError, UnknownLocalAuthority
from sim.geography import Geography, LocalAuthority, distance_miles, load_geography

__all__ = [
    "CareMarketModel",
    "Geography",
    "LocalAuthority",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SimInputError",
    "UnknownLocalAuthority",
    "__version__",
    "distance_miles",
    "load_geography",
    "load_scenario",
]


def __getattr__(name: str):
    """Import the model lazily, so `sim --help` and `sim las` start quickly."""
    if name == "CareMarketModel":
        from sim.model import CareMarketModel

        return CareMarketModel
    if name == "RunResult":
        from sim.results import RunResult

        return RunResult
    if name in ("Scenario", "load_scenario"):
        from sim import scenario

        return getattr(scenario, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
