"""An atlas: the index's items laid out in 2-D, one picture per cell of a grid.

The 2-D points (see :mod:`latentspace.render.projection`) are covered by square cells, ``grid``
of them along the longer side of the points' bounding box and as many as needed along the
shorter one, so distances keep their proportions. Each non-empty cell shows the item, among the
points inside it, nearest the cell's centre (ties to the earlier point)::

    cell (row, column) covers pixels [column * tile, (column + 1) * tile) × [row * tile, (row + 1) * tile)
    its picture is (tile - gap) square at the cell's top-left corner; the gap stays dark
    size = (columns * tile, rows * tile);  row 0 is the top, the top of the map is its largest y

Empty cells are dark. Pictures fill their square (the centre of the photo), as a mosaic should.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from latentspace.render.thumbnails import fit_into

__all__ = ["AtlasCell", "AtlasGrid", "EMPTY", "layout_grid", "render_atlas"]

EMPTY = (28, 28, 28)


@dataclass(frozen=True)
class AtlasCell:
    row: int
    column: int
    point: int
    """Index of the point (the row of the vectors) drawn in this cell."""


@dataclass(frozen=True)
class AtlasGrid:
    """Which point each point's cell is, and which point each non-empty cell shows."""

    rows: int
    columns: int
    origin: tuple[float, float]
    """``(min x, max y)`` of the points: the top-left corner of cell (0, 0)."""
    side: float
    """Width of a cell in the points' units."""
    point_cells: np.ndarray
    """int64 ``(n, 2)``: ``(row, column)`` of every point."""
    cells: tuple[AtlasCell, ...]
    """The non-empty cells, in row-major order."""

    def centre(self, row: int | np.ndarray, column: int | np.ndarray) -> np.ndarray:
        """Cell centres in the points' coordinates, ``(..., 2)``."""
        x = self.origin[0] + (np.asarray(column) + 0.5) * self.side
        y = self.origin[1] - (np.asarray(row) + 0.5) * self.side
        return np.stack([x, y], axis=-1)


def layout_grid(points: np.ndarray, grid: int) -> AtlasGrid:
    """Cover ``points (n, 2)`` with square cells, ``grid`` along the longer side; see the module docstring."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"expected points of shape (n, 2) with n > 0, got {points.shape}")
    if grid < 1:
        raise ValueError("grid must be at least 1")
    low, high = points.min(axis=0), points.max(axis=0)
    span = high - low
    side = float(span.max()) / grid if span.max() > 0 else 1.0
    columns = max(1, min(grid, math.ceil(span[0] / side - 1e-9)))
    rows = max(1, min(grid, math.ceil(span[1] / side - 1e-9)))
    column = np.clip(np.floor((points[:, 0] - low[0]) / side), 0, columns - 1).astype(np.int64)
    row = np.clip(np.floor((high[1] - points[:, 1]) / side), 0, rows - 1).astype(np.int64)
    point_cells = np.stack([row, column], axis=1)

    origin = (float(low[0]), float(high[1]))
    grid_out = AtlasGrid(rows, columns, origin, side, point_cells, ())
    distance = np.linalg.norm(points - grid_out.centre(row, column), axis=1)
    cell_index = row * columns + column
    order = np.lexsort((np.arange(len(points)), distance, cell_index))
    first = order[np.r_[True, cell_index[order][1:] != cell_index[order][:-1]]]
    cells = tuple(AtlasCell(int(row[p]), int(column[p]), int(p)) for p in first)
    return AtlasGrid(rows, columns, origin, side, point_cells, cells)


def render_atlas(
    layout: AtlasGrid,
    picture: Callable[[int, int], Image.Image],
    *,
    tile: int = 64,
    gap: int = 1,
    progress: bool = False,
) -> Image.Image:
    """Draw each non-empty cell with ``picture(point, side)``, a ``side × side`` image (else letterboxed to it)."""
    if not 0 <= gap < tile:
        raise ValueError("gap must be at least 0 and less than tile")
    side = tile - gap
    atlas = Image.new("RGB", (layout.columns * tile, layout.rows * tile), EMPTY)
    cells = layout.cells
    if progress:
        from tqdm import tqdm

        cells = tqdm(cells, unit="cell", desc="drawing atlas")
    for cell in cells:
        image = picture(cell.point, side)
        if image.size != (side, side):
            image = fit_into(image, side)
        atlas.paste(image, (cell.column * tile, cell.row * tile))
    return atlas
