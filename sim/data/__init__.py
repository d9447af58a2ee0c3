"""The project's own calibration data: published figures shipped inside the package.

Why a package and not a folder: the model must run, and its validation tests must pass,
on any machine where it is installed, with every number traceable to its original
publication. See ``SOURCES.md`` in this directory for the files, their columns, sources,
licences and which figures are estimates.
"""

from sim.data.calibration import (
    CATEGORY_COLUMNS,
    LA_TABLE_FILE,
    NATIONAL_FILE,
    PLACEMENT_CATEGORIES,
    PLACEMENT_COLUMNS,
    SUCCESSOR_DFE_CODES,
    CalibrationDataError,
    Figure,
    FigureGroup,
    LAFigures,
    NationalFigures,
    PublishedPolicies,
    la_figures_by_code,
    load_la_figures,
    load_national,
    national_column_shares,
    national_placement_shares,
)

__all__ = [
    "CATEGORY_COLUMNS",
    "LA_TABLE_FILE",
    "NATIONAL_FILE",
    "PLACEMENT_CATEGORIES",
    "PLACEMENT_COLUMNS",
    "SUCCESSOR_DFE_CODES",
    "CalibrationDataError",
    "Figure",
    "FigureGroup",
    "LAFigures",
    "NationalFigures",
    "PublishedPolicies",
    "la_figures_by_code",
    "load_la_figures",
    "load_national",
    "national_column_shares",
    "national_placement_shares",
]
