"""The atlas of the served index, computed by the gateway from what the service already offers.

GetItems returns stored vectors and GetThumbnails the pictures, so no new RPC is needed: the
gateway fetches the vectors once (of every item, or of a seeded sample of
:data:`~latentspace.render.index_pictures.MAX_ATLAS_POINTS` items of a larger index), lays them out with :mod:`latentspace.render` (PCA, UMAP,
the grid) and keeps the layout until the index changes (another item count or last id). The page
draws each cell with ``/api/thumbnails/ID.png``.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["AtlasCache", "PROJECTIONS"]

PROJECTIONS = ("umap", "pca")


class AtlasCache:
    """One layout per (index state, grid, projection); computing one is guarded by a lock."""

    def __init__(self, client, *, keep: int = 8) -> None:
        self._client = client
        self._keep = keep
        self._layouts: dict[tuple, dict] = {}
        self._lock = threading.Lock()

    def layout(self, grid: int, projection: str) -> dict:
        items = list(self._client.iter_items())
        if not items:
            from latentspace.client import FailedPrecondition

            raise FailedPrecondition("the index holds no items yet; add some images first")
        key = (len(items), items[-1].id, items[0].id, grid, projection)
        with self._lock:
            if key not in self._layouts:
                if len(self._layouts) >= self._keep:
                    self._layouts.pop(next(iter(self._layouts)))
                self._layouts[key] = self._compute(items, grid, projection)
            return self._layouts[key]

    def _compute(self, items: list, grid: int, projection: str) -> dict:
        from latentspace.render.atlas import layout_grid
        from latentspace.render.projection import project_2d

        from latentspace.render.index_pictures import MAX_ATLAS_POINTS, atlas_ids

        info = self._client.info()
        chunk = max(1, info.limits.max_ids)
        ids = atlas_ids(np.array([item.id for item in items], dtype=np.int64), MAX_ATLAS_POINTS).tolist()
        vectors = []
        for start in range(0, len(ids), chunk):
            vectors += [item.vector for item in self._client.get_items(ids[start:start + chunk], with_vectors=True)]
        points = project_2d(np.stack(vectors), method=projection, normalise=info.metric == "cosine",
                            sample=20_000, seed=0)
        layout = layout_grid(points, grid)
        by_id = {item.id: item for item in items}
        cells = []
        for cell in layout.cells:
            item = by_id[ids[cell.point]]
            cells.append({"row": cell.row, "column": cell.column, "id": item.id, "label": item.label, "path": item.path})
        return {"rows": layout.rows, "columns": layout.columns, "projection": projection, "items": len(ids),
                "cells": cells}
