"""Exporting an index's stored vectors and metadata as one ``.npz`` file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from latentspace.indexer.atomic import atomic_write_bytes
from latentspace.indexer.store import IndexStore

__all__ = ["export_npz"]


def export_npz(store: IndexStore, out: Path) -> int:
    """Write ``ids`` (int64), ``vectors`` (float32, n×d, exactly as stored), ``paths``, ``labels``.

    Rows are sorted by id. Returns the number of items written.
    """
    ids, vectors = store.snapshot()
    items = store.items(ids.tolist())
    paths = np.array([items[i].path for i in ids.tolist()], dtype=np.str_)
    labels = np.array([items[i].label for i in ids.tolist()], dtype=np.str_)
    buffer = io.BytesIO()
    np.savez(buffer, ids=ids, vectors=vectors.astype(np.float32, copy=False), paths=paths, labels=labels)
    atomic_write_bytes(Path(out), buffer.getbuffer())
    return len(ids)
