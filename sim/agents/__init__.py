"""Mesa agents of the placement market."""

from sim.agents.child import Child
from sim.agents.foster_household import FosterHousehold
from sim.agents.local_authority import LocalAuthorityAgent
from sim.agents.provider import ChildrensHome, Provider, SupportedHome
from sim.agents.setting import CareSetting

__all__ = [
    "CareSetting",
    "Child",
    "ChildrensHome",
    "FosterHousehold",
    "LocalAuthorityAgent",
    "Provider",
    "SupportedHome",
]
