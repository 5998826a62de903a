"""Train and fill a FAISS index from the stored vectors, out of core.

Training reads a random sample of the stored vectors; filling reads them in chunks in id order,
so building an index over millions of vectors needs memory for one sample and one chunk, not
for all of them (the FAISS wiki's advice, and what autofaiss does).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from latentspace.indexer.faiss_index import FaissIndex
from latentspace.indexer.vector_files import VectorFiles

__all__ = ["ADD_CHUNK", "default_train_size", "fill", "train_on_sample"]

ADD_CHUNK = 32768
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage is ``train`` or ``add``."""


def default_train_size(index: FaissIndex, count: int) -> int:
    """Every vector for small indexes; 40 per centroid (at least 64k) for large ones."""
    return min(count, max(131072, 40 * index.min_training_vectors()))


def train_on_sample(index: FaissIndex, files: VectorFiles, size: int, *, seed: int = 0, use_gpu: bool = False,
                    progress: Progress | None = None) -> None:
    ids = files.ids()
    if size < len(ids):
        ids = np.sort(np.random.default_rng(seed).choice(ids, size=size, replace=False))
    if progress:
        progress("train", 0, len(ids))
    sample = np.empty((len(ids), files.dim), np.float32)  # filled in place: one copy of the sample, not two
    done = 0
    for chunk_ids, vectors in files.iter_chunks(ADD_CHUNK, ids, release=True):
        sample[done : done + len(chunk_ids)] = vectors
        done += len(chunk_ids)
    index.train(sample, use_gpu=use_gpu)
    if progress:
        progress("train", len(ids), len(ids))


def fill(index: FaissIndex, files: VectorFiles, ids: np.ndarray | None = None, *, progress: Progress | None = None) -> int:
    """Add the stored vectors of ``ids`` (default: every live item) in chunks; returns how many."""
    ids = files.ids() if ids is None else np.asarray(ids, dtype=np.int64)
    done = 0
    for chunk_ids, vectors in files.iter_chunks(ADD_CHUNK, ids, release=True):
        index.add(chunk_ids, vectors)
        done += len(chunk_ids)
        if progress:
            progress("add", done, len(ids))
    return done
