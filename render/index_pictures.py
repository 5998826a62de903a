"""Pictures of one open index: its atlas and a unit's top images, from stored data and cached thumbnails.

These join the pure pieces (projection, grid, sheets) to an :class:`~latentspace.indexer.store.IndexStore`;
the CLI and the server call them and only choose where the picture goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from latentspace.indexer.item_db import Item

from latentspace.render.atlas import AtlasGrid, layout_grid, render_atlas
from latentspace.render.atlas_html import AtlasEntry, atlas_html
from latentspace.render.projection import DEFAULT_SAMPLE, Projection, project_2d
from latentspace.render.sheets import SheetRow, Tile, render_sheet
from latentspace.render.thumbnails import ThumbnailCache, ThumbnailUnavailable, fill_square, item_image_path, placeholder
from latentspace.render.units import Activations, top_items

__all__ = ["MAX_ATLAS_POINTS", "IndexAtlas", "atlas_ids", "index_atlas", "unit_sheet"]

MAX_ATLAS_POINTS = 50_000
"""Most points an atlas projects: a larger index is drawn from a seeded sample of this many items.
A grid shows one picture per cell (576 at the default 24×24), so the sample loses nothing the
picture shows, and the vectors read stay bounded (50,000 × 4096 float32 is 800 MB) however
large the index."""


@dataclass(frozen=True)
class IndexAtlas:
    ids: np.ndarray
    """int64 ``(n,)``: the item of each point."""
    points: np.ndarray
    """float32 ``(n, 2)``: the 2-D projection."""
    layout: AtlasGrid
    image: Image.Image
    entries: tuple[AtlasEntry, ...]
    """What each of ``layout.cells`` shows."""
    tile: int
    gap: int

    def html(self, *, title: str) -> str:
        return atlas_html(self.layout, self.entries, tile=self.tile, gap=self.gap, title=title)


def _square(cache: ThumbnailCache, item: Item | None) -> Image.Image:
    """The item's picture filling a ``cache.size`` square, or a placeholder saying why there is none."""
    if item is None:
        return placeholder("no longer in the index", size=cache.size)
    try:
        return fill_square(cache.thumbnail(item), item.width, item.height, cache.size)
    except ThumbnailUnavailable as exc:
        return placeholder(exc.reason, size=cache.size)


def index_atlas(
    store,
    cache: ThumbnailCache,
    *,
    grid: int = 24,
    tile: int = 64,
    gap: int = 1,
    method: Projection = "umap",
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    progress: bool = False,
    max_points: int = MAX_ATLAS_POINTS,
) -> IndexAtlas:
    """Project the stored vectors to 2-D, lay a grid over the map and draw each non-empty cell.

    Every item of an index of at most ``max_points``; a seeded sample of that many beyond (see
    :data:`MAX_ATLAS_POINTS`), so memory is bounded by ``max_points``·d, not by the index."""
    ids = atlas_ids(store.ids(), max_points, seed=seed)
    if len(ids) == 0:
        raise ValueError(f"index {store.directory} holds no items")
    vectors = store.vectors(ids)
    points = project_2d(vectors, method=method, normalise=store.metric == "cosine", sample=sample, seed=seed, progress=progress)
    layout = layout_grid(points, grid)
    items = store.items([int(ids[cell.point]) for cell in layout.cells])
    squares: dict[int, Image.Image] = {}
    entries = []

    def picture(point: int, side: int) -> Image.Image:
        squares[point] = _square(cache, items.get(int(ids[point])))
        return squares[point].resize((side, side), Image.Resampling.LANCZOS)

    image = render_atlas(layout, picture, tile=tile, gap=gap, progress=progress)
    for cell in layout.cells:
        item_id = int(ids[cell.point])
        item = items.get(item_id)
        label = item.label if item is not None else ""
        path = str(item_image_path(store.directory, item)) if item is not None else ""
        entries.append(AtlasEntry(squares[cell.point], label, path, item_id))
    return IndexAtlas(ids, points, layout, image, tuple(entries), tile, gap)


def atlas_ids(ids: np.ndarray, max_points: int, *, seed: int = 0) -> np.ndarray:
    """``ids``, or a seeded sample of ``max_points`` of them (ascending) when there are more."""
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) <= max_points:
        return ids
    return np.sort(np.random.default_rng(seed).choice(ids, size=max_points, replace=False))


def unit_sheet(store, cache: ThumbnailCache, activations: Activations, unit: int, *, top: int = 16, per_row: int = 8,
               title: str | None = None) -> tuple[Image.Image, np.ndarray, np.ndarray]:
    """A sheet of the ``top`` items activating ``unit`` most, ``per_row`` to a row; returns ``(sheet, ids, values)``."""
    ids, values = top_items(activations, unit, top)
    items = store.items(ids.tolist())
    tiles = []
    for item_id, value in zip(ids.tolist(), values.tolist()):
        item = items.get(item_id)
        image = cache.tile(item) if item is not None else placeholder("no longer in the index", size=cache.size)
        label = (item.label or "(no label)") if item is not None else "(deleted)"
        tiles.append(Tile(image, (label, f"{value:.3g} · #{item_id}")))
    rows = [
        SheetRow(neighbours=tiles[start : start + per_row], step=f"rank {start + 1}–{min(start + per_row, len(tiles))}")
        for start in range(0, len(tiles), per_row)
    ]
    return render_sheet(rows, title=title), ids, values
