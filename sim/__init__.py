"""care-market-sim: an agent-based model of England's children's social care placement market."""

from importlib import metadata

try:
    __version__ = metadata.version("care-market-sim")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from sim.errors import ScenarioError, SimInputError, UnknownLocalAuthority
from sim.geography import Geography, LocalAuthority, distance_miles, load_geography

__all__ = [
    "Geography",
    "LocalAuthority",
    "ScenarioError",
    "SimInputError",
    "UnknownLocalAuthority",
    "__version__",
    "distance_miles",
    "load_geography",
]
