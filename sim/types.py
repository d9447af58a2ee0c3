"""The model's vocabulary: placement types, needs and exit routes.

Names follow DfE's children-looked-after statistics so that outputs read like the
published tables (placement mix, reasons for leaving care).
"""

from __future__ import annotations

from enum import IntEnum


class PlacementType(IntEnum):
    """Where a child lives (DfE placement groups). Preference order: see commissioning."""

    KINSHIP = 0  # connected person / family and friends foster carer
    LA_FOSTER = 1  # the LA's own (in-house) mainstream foster carer
    IFA_FOSTER = 2  # foster carer of an independent fostering agency
    LA_HOME = 3  # children's home run by a local authority
    PRIVATE_HOME = 4  # private or voluntary children's home
    SUPPORTED = 5  # supported accommodation (semi-independent living, 16-17)
    WITH_PARENTS = 6  # placed with parents under a care order
    ADOPTION = 7  # placed for adoption
    EMERGENCY = 8  # unregistered or emergency placement when nothing fits

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def is_foster(self) -> bool:
        return self in (PlacementType.KINSHIP, PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER)

    @property
    def is_residential(self) -> bool:
        return self in (PlacementType.LA_HOME, PlacementType.PRIVATE_HOME, PlacementType.SUPPORTED)


_LABELS = {
    PlacementType.KINSHIP: "kinship foster",
    PlacementType.LA_FOSTER: "LA foster",
    PlacementType.IFA_FOSTER: "IFA foster",
    PlacementType.LA_HOME: "LA children's home",
    PlacementType.PRIVATE_HOME: "private/voluntary children's home",
    PlacementType.SUPPORTED: "supported accommodation",
    PlacementType.WITH_PARENTS: "placed with parents",
    PlacementType.ADOPTION: "placed for adoption",
    PlacementType.EMERGENCY: "emergency/unregistered",
}
N_TYPES = len(PlacementType)
TYPE_NAMES = tuple(t.name.lower() for t in PlacementType)


class Need(IntEnum):
    """The kind of care a child's needs call for (the basis of sufficiency)."""

    STANDARD = 0
    COMPLEX = 1  # complex needs calling for specialist or therapeutic care
    DISABLED = 2


class ExitReason(IntEnum):
    """Why a child stopped being looked after (DfE REC groups)."""

    RETURN_HOME = 0
    ADOPTED = 1
    SPECIAL_GUARDIANSHIP = 2
    AGE_18 = 3
    OTHER = 4


class Sector(IntEnum):
    """Who owns a provider."""

    LOCAL_AUTHORITY = 0
    PRIVATE = 1
    VOLUNTARY = 2


FAMILY_TYPES = frozenset({PlacementType.KINSHIP, PlacementType.LA_FOSTER, PlacementType.IFA_FOSTER})
HOME_TYPES = frozenset({PlacementType.LA_HOME, PlacementType.PRIVATE_HOME})
_FAMILY_OR_HOME = FAMILY_TYPES | HOME_TYPES
_FAMILY_OR_SUPPORTED = FAMILY_TYPES | {PlacementType.SUPPORTED}


def suitable_types(need: Need, age: float) -> frozenset[PlacementType]:
    """Placement types that meet a child's needs: the definition of sufficiency.

    Standard needs call for a family (foster) placement; from 16, supported accommodation
    also fits. Complex needs call for a specialist children's home or a carer approved for
    complex needs (checked on the setting). Placement with parents or for adoption meets
    needs by definition; emergency placements never do.
    """
    if need == Need.COMPLEX or need == Need.DISABLED:
        return _FAMILY_OR_HOME
    if age >= 16:
        return _FAMILY_OR_SUPPORTED
    return FAMILY_TYPES
