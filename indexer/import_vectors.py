"""Build or extend an index from vectors computed elsewhere (``latentspace import-vectors``).

Rows are read in batches and committed one transaction per batch, like the indexer's, so an
interrupted import keeps what it committed. Each row is an item whose path is the file's
``paths`` value (or ``FILE#ID`` without one); a row whose path is already stored with the same
vector is left alone, so rerunning an import finishes it instead of doubling it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentspace.indexer.item_db import FileState, NewItem
from latentspace.indexer.store import IndexStore
from latentspace.indexer.vector_io import VectorFileError, read_vector_file

__all__ = ["ImportReport", "import_vectors", "vector_only_embedder"]


@dataclass(frozen=True)
class ImportReport:
    added: int
    unchanged: int
    replaced: int


def vector_only_embedder(dim: int):
    """The EmbedderInfo of an index whose vectors came from no embedder latentspace knows."""
    from latentspace.indexer.manifest import NO_MODEL, EmbedderInfo

    if dim < 1:
        raise ValueError(f"--dim must be at least 1, got {dim}")
    return EmbedderInfo(model=NO_MODEL, layer=NO_MODEL, dimension=dim, weights=NO_MODEL,
                        weights_description="vectors imported without an embedder; image queries are not possible",
                        weights_sha256="", pretrained=False)


def _digest(vector: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).hexdigest()


def import_vectors(store: IndexStore, files: Sequence[Path], *, batch_rows: int = 4096,
                   on_batch: Callable[[int], None] | None = None) -> ImportReport:
    added = unchanged = replaced = 0
    known = store.db.file_states()
    for path in files:
        for batch in read_vector_file(Path(path), rows=batch_rows):
            vectors = batch.vectors
            if vectors.shape[1] != store.dim:
                raise VectorFileError(f"{path} holds {vectors.shape[1]}-d vectors; the index is {store.dim}-d")
            if not np.isfinite(vectors).all():
                raise VectorFileError(f"{path} has a vector with NaN or infinite values; nothing of that batch was stored")
            n = len(vectors)
            if batch.paths is not None:
                names = batch.paths
            elif batch.ids is not None:
                names = [f"{Path(path).name}#{i}" for i in batch.ids.tolist()]
            else:
                raise VectorFileError(f"{path} has neither paths nor ids, so its rows cannot be told apart on a rerun; "
                                      f"add an ids array")
            labels = batch.labels or [""] * n
            insert, delete = [], []
            for name, label, vector in zip(names, labels, vectors):
                digest = _digest(vector)
                previous = known.get(name)
                if previous is not None and previous.sha256 == digest:
                    unchanged += 1
                    continue
                if previous is not None:
                    delete.append(previous.id)
                insert.append(NewItem(path=name, label=label, sha256=digest, width=0, height=0, vector=vector))
            if insert or delete:
                new_ids, _ = store.apply(insert=insert, delete=delete)
                for item, new_id in zip(insert, new_ids):
                    known[item.path] = FileState(new_id, item.sha256, None, None)
                added += len(insert) - len(delete)
                replaced += len(delete)
            if on_batch:
                on_batch(n)
    return ImportReport(added, unchanged, replaced)
