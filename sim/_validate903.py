"""Run DfE's SSDA903 validation rules on one LA's files; print the result as JSON.

Run by :func:`sim.ssda903.validate_903` with the Python of the isolated ``.venv-903``
(``csc-validator-be-903`` pins pandas < 2 and numpy < 1.25, which clash with the
model's). It imports nothing from ``sim``, so it runs where ``sim`` is not installed::

    .venv-903/bin/python sim/_validate903.py DIR --year 2023 --la E08000003
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import logging
import sys
from pathlib import Path

FIRST_RULESET, LAST_RULESET = 2023, 2027  # lac2022_23 .. lac2026_27 in the package


def ruleset_name(year: int) -> str:
    """The package's rule set for a collection year ending 31 March ``year``."""
    year = min(max(year, FIRST_RULESET), LAST_RULESET)
    return f"lac{year - 1}_{year % 100:02d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--year", type=int, required=True)
    parser.add_argument("--la", required=True, help="ONS code of the LA that made the return")
    args = parser.parse_args(argv)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lac_validator import lac_validator
        from lac_validator.utils import process_uploaded_files

        logging.disable(logging.CRITICAL)
        ruleset = ruleset_name(args.year)
        registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
        files = [str(p) for p in sorted(args.directory.glob("*.csv"))]
        uploaded = process_uploaded_files({"This year": files})
        v = lac_validator.LacValidator(
            metadata={"collectionYear": str(args.year), "localAuthority": args.la},
            files=uploaded, registry=registry, selected_rules=None)
    errors: dict[str, dict] = {}
    for table, frame in v.ds_results.items():
        if table == "metadata":
            continue
        for col in frame.columns:
            if not str(col).startswith("ERR_"):
                continue
            hit = frame[col].fillna(False).astype(bool)
            n = int(hit.sum())
            if n == 0:
                continue
            code = str(col)[4:]
            entry = errors.setdefault(code, {"message": registry[code].message, "count": 0,
                                             "tables": {}, "children": []})
            entry["count"] += n
            entry["tables"][table] = n
            if "CHILD" in frame.columns:
                entry["children"] = sorted(set(entry["children"])
                                           | set(frame.loc[hit, "CHILD"].astype(str)[:5]))
    out = {"ruleset": ruleset, "rules": len(registry), "run": sorted(v.dones),
           "skipped": sorted(v.skips), "failed_to_run": sorted(v.fails), "errors": errors}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
