"""Named exceptions for bad input.

Everything a user can get wrong (a scenario file, an LA code, a parameter) raises a
subclass of :class:`SimInputError`. The command line catches that one type and prints
its message as a single line, so users never see a traceback for their own mistakes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SimInputError(ValueError):
    """Bad input from the user: printed as one line by the CLI."""


class UnknownLocalAuthority(SimInputError):
    """An LA code or name that is not one of England's 152 upper-tier authorities."""

    def __init__(self, given: str, choices: Iterable[str], where: str = "") -> None:
        suggestions = difflib.get_close_matches(str(given), list(choices), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        prefix = f"{where}: " if where else ""
        super().__init__(
            f"{prefix}unknown local authority {given!r} (expected one of England's 152 "
            f"upper-tier LAs by ONS code, DfE 3-digit code or name{hint})"
        )
        self.given = given
        self.suggestions = suggestions


class ScenarioError(SimInputError):
    """A malformed scenario file or an impossible parameter value."""
