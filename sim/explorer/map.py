"""England's LAs drawn from the postcode geography: choropleths and out-of-area flows.

The project ships no boundary files, so an LA's shape is read off its postcodes: the map
is a grid, each cell belongs to the LA with most postcodes in it, and empty cells within
:data:`FILL_METRES` of a postcode take the nearest LA (moors and parks); the rest is sea.
Figures are plain matplotlib :class:`~matplotlib.figure.Figure` objects (no pyplot, so
they are safe to draw while a run goes on in another thread).
"""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps, patheffects
from matplotlib import image as mpimage
from matplotlib.colors import ListedColormap, Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from sim.geography import load_geography

FILL_METRES = 4_000.0
"""Empty cells this close to a postcode belong to the nearest LA; further out is sea."""
ENGLAND_CELL = 2_000.0
"""Cell size of the whole-England map, metres."""
ZOOM_CELLS = 320
"""Cells across a zoomed map (finer for small areas, at least 250 m)."""
LAND = "#e4e4e4"
OUTLINE = "#111111"
PICKED = "#2171b5"
"""Fill of the chosen LAs on the picking map."""
PICKER_ZOOM = 2
"""Screen pixels per cell side on the picking map (drawn with hard pixel edges)."""
Groups = Sequence[tuple[str, Sequence[str]]]


@dataclass(frozen=True)
class LaRaster:
    """Which LA each grid cell belongs to (``-1``: sea or outside England)."""

    labels: np.ndarray
    x0: float
    y0: float
    cell: float

    @property
    def extent(self) -> tuple[float, float, float, float]:
        rows, cols = self.labels.shape
        return (self.x0, self.x0 + cols * self.cell, self.y0, self.y0 + rows * self.cell)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = self.labels.shape
        return (self.x0 + (np.arange(cols) + 0.5) * self.cell,
                self.y0 + (np.arange(rows) + 0.5) * self.cell)


@functools.cache
def _postcode_labels() -> np.ndarray:
    geo = load_geography()
    return np.repeat(np.arange(len(geo.las), dtype=np.int64), np.diff(geo.offsets))


@functools.lru_cache(maxsize=24)
def la_raster(bounds: tuple[float, float, float, float], cell: float) -> LaRaster:
    """The LA grid over ``bounds`` (easting min, max, northing min, max; metres)."""
    from scipy import ndimage

    geo = load_geography()
    x0, x1, y0, y1 = bounds
    cols, rows = max(math.ceil((x1 - x0) / cell), 1), max(math.ceil((y1 - y0) / cell), 1)
    e, n = geo.easting, geo.northing
    inside = (e >= x0) & (e < x1) & (n >= y0) & (n < y1)
    c = ((e[inside] - x0) // cell).astype(np.int64)
    r = ((n[inside] - y0) // cell).astype(np.int64)
    n_las = len(geo.las)
    keys, counts = np.unique((r * cols + c) * n_las + _postcode_labels()[inside],
                             return_counts=True)
    cells, las = keys // n_las, keys % n_las
    order = np.lexsort((-counts, cells))  # by cell, the most postcodes first
    first = np.ones(len(order), dtype=bool)
    first[1:] = cells[order][1:] != cells[order][:-1]
    best = order[first]
    labels = np.full(rows * cols, -1, dtype=np.int16)
    labels[cells[best]] = las[best]
    labels = labels.reshape(rows, cols)
    empty = labels < 0
    if empty.any() and not empty.all():
        dist, (ri, ci) = ndimage.distance_transform_edt(empty, sampling=cell,
                                                        return_indices=True)
        fill = empty & (dist <= FILL_METRES)
        labels[fill] = labels[ri[fill], ci[fill]]
    return LaRaster(labels, x0, y0, cell)


def view(area: Sequence[str] | None) -> tuple[tuple[float, float, float, float], float]:
    """Bounds and cell size of a map of ``area`` (ONS codes), or of England for ``None``."""
    geo = load_geography()
    if not area or len(area) == len(geo.las):
        b = (float(geo.easting.min()), float(geo.easting.max()),
             float(geo.northing.min()), float(geo.northing.max()))
        cell = ENGLAND_CELL
    else:
        idx = [geo.la(c).index for c in area]
        e = np.concatenate([geo.easting[geo.postcode_slice(geo.las[i])] for i in idx])
        n = np.concatenate([geo.northing[geo.postcode_slice(geo.las[i])] for i in idx])
        b = (float(np.percentile(e, 0.2)), float(np.percentile(e, 99.8)),
             float(np.percentile(n, 0.2)), float(np.percentile(n, 99.8)))
        cell = max(250.0, round(max(b[1] - b[0], b[3] - b[2]) / ZOOM_CELLS, -1))
    pad = 0.06 * max(b[1] - b[0], b[3] - b[2])
    snap = cell * 4
    bounds = (math.floor((b[0] - pad) / snap) * snap, math.ceil((b[1] + pad) / snap) * snap,
              math.floor((b[2] - pad) / snap) * snap, math.ceil((b[3] + pad) / snap) * snap)
    return bounds, cell


def _base(ax, raster: LaRaster, groups: Groups) -> None:
    """Land (under everything), LA boundaries (over the colours) and cooperative outlines."""
    labels = raster.labels
    kw = {"extent": raster.extent, "origin": "lower", "interpolation": "nearest"}
    ax.imshow(np.where(labels >= 0, 1.0, np.nan), cmap=ListedColormap([LAND]), zorder=0, **kw)
    ax.imshow(np.where(_boundaries(labels), 1.0, np.nan), cmap=ListedColormap(["white"]),
              alpha=0.9, zorder=2, **kw)
    _outline(ax, raster, groups)


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """Land cells that border another LA (drawn white between LAs)."""
    edge = np.zeros(labels.shape, dtype=bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    return edge & (labels >= 0)


def _outline(ax, raster: LaRaster, groups: Groups) -> None:
    geo = load_geography()
    xs, ys = raster.centres()
    for _, codes in groups:
        idx = [geo.la(c).index for c in codes]
        mask = np.isin(raster.labels, idx).astype(float)
        if 0 < mask.sum() < mask.size:
            ax.contour(xs, ys, mask, levels=[0.5], colors=OUTLINE, linewidths=1.8, zorder=4)


def _finish(ax, raster: LaRaster, title: str) -> None:
    x0, x1, y0, y1 = raster.extent
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)


def _label_las(ax, codes: Sequence[str], text: Mapping[str, str]) -> None:
    geo = load_geography()
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    for code in codes:
        la = geo.la(code)
        ax.text(la.centroid_easting, la.centroid_northing, text.get(code, la.name),
                fontsize=6.5, ha="center", va="center", zorder=6, path_effects=halo)


def choropleth(values: Mapping[str, float], *, title: str, label: str, groups: Groups = (),
               area: Sequence[str] | None = None, higher_is_better: bool = True,
               difference: bool = False, fmt: str = "{:.0f}") -> Figure:
    """LAs coloured by ``values`` (ONS code -> number); others grey; cooperatives outlined.

    ``area`` zooms to those LAs (``None``: England). A ``difference`` map is diverging
    around zero, blue where the configuration does better.
    """
    geo = load_geography()
    bounds, cell = view(area)
    raster = la_raster(bounds, cell)
    lut = np.full(len(geo.las) + 1, np.nan)  # the extra last slot is -1 (sea)
    for code, value in values.items():
        lut[geo.la(code).index] = value
    grid = lut[raster.labels.astype(np.int64)]
    fig = Figure(figsize=(6.2, 6.0), dpi=90, layout="constrained")
    ax = fig.subplots()
    _base(ax, raster, groups)
    finite = np.array([v for v in values.values() if np.isfinite(v)])
    if difference:
        cmap = colormaps["RdBu" if higher_is_better else "RdBu_r"]
        span = float(np.abs(finite).max()) if finite.size else 1.0
        span = span or 1.0
        norm: Normalize = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    else:
        cmap = colormaps["YlGnBu" if higher_is_better else "YlOrRd"]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1.0)
    kw = {"extent": raster.extent, "origin": "lower", "interpolation": "nearest"}
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, zorder=1, **kw)
    fig.colorbar(image, ax=ax, shrink=0.6, label=label)
    shown = [c for c in values if area and np.isfinite(values[c])]
    if area and len(shown) <= 40:
        signed = "{:+" + fmt[2:] if difference else fmt
        _label_las(ax, shown, {c: f"{geo.la(c).name}\n{signed.format(values[c])}"
                               for c in shown})
    if groups:
        ax.legend(handles=[Line2D([], [], color=OUTLINE, lw=1.8, label="RCC members")],
                  loc="lower left", fontsize=7, frameon=True)
    _finish(ax, raster, title)
    return fig


def flow_map(flows: pd.DataFrame, *, title: str, groups: Groups = (),
             area: Sequence[str] | None = None, members: Sequence[str] = (),
             top: int = 40) -> Figure:
    """Arrows from home LA to placement LA for the largest out-of-area flows.

    ``flows`` has columns ``home``, ``placed`` (ONS codes) and ``children``; members'
    children are drawn in red, others in grey; width grows with children.
    """
    geo = load_geography()
    bounds, cell = view(area)
    raster = la_raster(bounds, cell)
    fig = Figure(figsize=(6.2, 6.0), dpi=90, layout="constrained")
    ax = fig.subplots()
    if area:
        idx = [geo.la(c).index for c in area]
        in_area = np.where(np.isin(raster.labels, idx), 1.0, np.nan)
        ax.imshow(in_area, cmap=ListedColormap(["#cfdcec"]), zorder=1, extent=raster.extent,
                  origin="lower", interpolation="nearest")
    _base(ax, raster, groups)
    f = flows.head(top)
    biggest = float(f["children"].max()) if len(f) else 1.0
    member_set = set(members)
    for row in f.itertuples():
        a, b = geo.la(row.home), geo.la(row.placed)
        colour = "#c0392b" if row.home in member_set else "#4d4d4d"
        width = 0.4 + 4.0 * row.children / biggest
        ax.add_patch(FancyArrowPatch(
            (a.centroid_easting, a.centroid_northing), (b.centroid_easting, b.centroid_northing),
            arrowstyle="-|>", mutation_scale=6 + 2 * width, lw=width, color=colour, alpha=0.7,
            connectionstyle="arc3,rad=0.18", zorder=5))
    if area and len(area) <= 40:
        _label_las(ax, list(area), {})
    handles = [Line2D([], [], color="#c0392b", lw=2, label="members' children"),
               Line2D([], [], color="#4d4d4d", lw=2, label="other LAs' children"),
               Line2D([], [], color="white", lw=0,
                      label=f"widest = {biggest:.0f} children")]
    if groups:
        handles.insert(0, Line2D([], [], color=OUTLINE, lw=1.8, label="RCC members"))
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=True)
    _finish(ax, raster, title)
    return fig


# -- the picking map ---------------------------------------------------------------------
def picker_raster() -> LaRaster:
    """The whole-England grid that the picking map shows and that clicks are read from."""
    bounds, cell = view(None)
    return la_raster(bounds, cell)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


@functools.lru_cache(maxsize=64)
def picker_png(members: tuple[str, ...]) -> str:
    """England's LAs as a PNG data URL, ``members`` filled in: the map a user clicks to
    choose LAs. One grid cell is :data:`PICKER_ZOOM` pixels square, north at the top, so
    a click's position on the image gives the cell (see :func:`la_at`)."""
    geo = load_geography()
    labels = picker_raster().labels[::-1]  # image rows run north to south
    rgb = np.full((*labels.shape, 3), 255, dtype=np.uint8)  # sea
    rgb[labels >= 0] = _rgb(LAND)
    chosen = np.isin(labels, [geo.la(c).index for c in members])
    rgb[chosen] = _rgb(PICKED)
    rgb[_boundaries(labels)] = 255
    rgb = rgb.repeat(PICKER_ZOOM, axis=0).repeat(PICKER_ZOOM, axis=1)
    buffer = io.BytesIO()
    mpimage.imsave(buffer, rgb, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@functools.cache
def picker_labels() -> tuple[str, int, int, list[str]]:
    """The picking map's grid for the page to name the LA under the pointer without a
    round trip: base64 of one byte per cell (the LA's index; 255 for the sea), rows from
    north to south, with the number of rows and columns and the LAs' names by index."""
    labels = picker_raster().labels[::-1]
    cells = np.where(labels >= 0, labels, 255).astype(np.uint8)
    names = [la.name for la in load_geography().las]
    return base64.b64encode(cells.tobytes()).decode(), labels.shape[0], labels.shape[1], names


def la_at(x: float, y: float) -> str | None:
    """ONS code of the LA under a click on the picking map, given as fractions of the
    image's width (from the left) and height (from the top); ``None`` for the sea."""
    if not (0.0 <= x < 1.0 and 0.0 <= y < 1.0):
        return None
    labels = picker_raster().labels
    rows, cols = labels.shape
    index = int(labels[rows - 1 - int(y * rows), int(x * cols)])
    return load_geography().las[index].ons_code if index >= 0 else None
