"""Exporting an index's stored vectors and metadata as one ``.npz`` file, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from latentspace.indexer.store import IndexStore
from latentspace.indexer.vector_io import write_npz_streamed

__all__ = ["export_npz"]

CHUNK = 16384


def export_npz(store: IndexStore, out: Path) -> int:
    """Write ``ids`` (int64), ``vectors`` (float32, n×d, exactly as stored), ``paths``, ``labels``.

    Rows are sorted by id. Memory holds one chunk of rows, not the whole index: each array is
    written into the zip member as it is read. Returns the number of items written.
    """
    ids = store.ids()
    n = len(ids)
    path_width, label_width = store.db.text_lengths()

    def chunks_of(ids: np.ndarray) -> Iterator[np.ndarray]:
        for start in range(0, n, CHUNK):
            yield ids[start : start + CHUNK]

    def vectors() -> Iterator[np.ndarray]:
        for chunk in chunks_of(ids):
            yield store.vectors(chunk)
            store.release_vectors(chunk)  # one pass over everything: keep the process's RSS at a chunk

    def text(field: str, width: int) -> Iterator[np.ndarray]:
        for chunk in chunks_of(ids):
            items = store.items(chunk.tolist())
            yield np.array([getattr(items[i], field) for i in chunk.tolist()], dtype=f"<U{max(width, 1)}")

    write_npz_streamed(Path(out), {
        "ids": ((n,), np.dtype(np.int64), iter([ids])),
        "vectors": ((n, store.dim), np.dtype(np.float32), vectors()),
        "paths": ((n,), np.dtype(f"<U{max(path_width, 1)}"), text("path", path_width)),
        "labels": ((n,), np.dtype(f"<U{max(label_width, 1)}"), text("label", label_width)),
    })
    return n
