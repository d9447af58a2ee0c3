"""The resumable results store of an experiment: ``results/<experiment>/``.

Each run's tables are written as Parquet into a temporary folder that is renamed to
``runs/<key>/`` only when complete, so a batch killed at any moment (even with SIGKILL)
leaves either a finished run or nothing; ``<key>`` hashes everything that determines the
run (scenario text and overrides, seed, years, scale, package version and a hash of the
model code), so rerunning a batch skips every finished run and reruns any made by other
code. A run that raises leaves ``runs/<key>/error.json`` instead (the error and its
traceback); failed runs are tried again on the next batch.

Layout::

    experiment.json      the experiment (arms, seeds, run keys) as last run
    experiment.toml      the experiment file's text
    runs/<key>/run.json  provenance: scenario as data, seed, version, commit, timing
    runs/<key>/*.parquet national, by_la, annual, annual_england, episodes, flows, ...
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import SimInputError
from sim.results import _json

DONE, FAILED = "done", "failed"
TABLES = ("national", "by_la", "annual", "annual_england", "episodes", "flows")


class ResultsStore:
    """One experiment's results folder: run folders keyed by hash, plus the manifest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.runs = self.root / "runs"

    # -- manifest ------------------------------------------------------------------------
    def write_manifest(self, manifest: dict[str, Any], experiment_text: str = "") -> None:
        self.runs.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.root / "experiment.json", json.dumps(manifest, indent=2,
                                                                     default=_json))
        if experiment_text:
            atomic_write_text(self.root / "experiment.toml", experiment_text)

    def read_manifest(self) -> dict[str, Any]:
        path = self.root / "experiment.json"
        if not path.is_file():
            raise SimInputError(f"{self.root}: not an experiment results folder (no "
                                "experiment.json); run `sim experiment FILE --out DIR` first")
        return json.loads(path.read_text(encoding="utf-8"))

    # -- runs ----------------------------------------------------------------------------
    def run_dir(self, key: str) -> Path:
        return self.runs / key

    def status(self, key: str) -> str | None:
        """``"done"``, ``"failed"`` or ``None`` (not run, or killed before finishing)."""
        d = self.run_dir(key)
        if (d / "run.json").is_file():
            return DONE
        if (d / "error.json").is_file():
            return FAILED
        return None

    def info(self, key: str) -> dict[str, Any]:
        """The run's ``run.json`` (finished) or ``error.json`` (failed)."""
        d = self.run_dir(key)
        for name in ("run.json", "error.json"):
            if (d / name).is_file():
                return json.loads((d / name).read_text(encoding="utf-8"))
        return {}

    def clean_partial(self) -> int:
        """Remove temporary folders left by runs killed mid-write; returns how many."""
        if not self.runs.is_dir():
            return 0
        stale = [p for p in self.runs.iterdir() if p.name.startswith(".tmp-")]
        for p in stale:
            shutil.rmtree(p, ignore_errors=True)
        return len(stale)

    def clear(self, key: str) -> None:
        """Forget a failed run so it is tried again."""
        if self.status(key) == FAILED:
            shutil.rmtree(self.run_dir(key), ignore_errors=True)

    def write_run(self, info: dict[str, Any], tables: dict[str, pd.DataFrame]) -> Path:
        """Write one finished run's tables and ``run.json`` atomically (rename of a folder)."""
        tmp = self._tmp(info["key"])
        for name, frame in tables.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        info = {**info, "status": DONE, "tables": sorted(tables)}
        (tmp / "run.json").write_text(json.dumps(info, indent=2, default=_json),
                                      encoding="utf-8")
        return self._commit(tmp, info["key"])

    def write_failure(self, info: dict[str, Any], error: str, traceback: str = "") -> Path:
        """Record a run that raised, with its error, so the batch can go on."""
        tmp = self._tmp(info["key"])
        record = {**info, "status": FAILED, "error": error, "traceback": traceback}
        (tmp / "error.json").write_text(json.dumps(record, indent=2, default=_json),
                                        encoding="utf-8")
        return self._commit(tmp, info["key"])

    def read_table(self, key: str, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.run_dir(key) / f"{name}.parquet")

    def _tmp(self, key: str) -> Path:
        self.runs.mkdir(parents=True, exist_ok=True)
        tmp = self.runs / f".tmp-{key}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        return tmp

    def _commit(self, tmp: Path, key: str) -> Path:
        final = self.run_dir(key)
        if self.status(key) == FAILED:
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)  # atomic: the run appears whole or not at all
        except OSError:
            # Someone else finished the same run first (same key: same results).
            shutil.rmtree(tmp, ignore_errors=True)
        return final


def atomic_write_text(path: Path, text: str) -> None:
    """Write a file through a temporary name and rename, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
