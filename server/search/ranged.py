"""Range search for thresholded queries: FAISS gathers every item at least as similar as a
request's ``min_score`` (or within its ``max_distance``), and the engine re-scores them exactly.

Without it a threshold only filters the top few candidates, so "everything this similar" stopped
at the candidate count on an approximate index, and a Flat index scored every row to keep a
handful. The radius is widened (:func:`~latentspace.server.search.refine.faiss_radius`) so float32
rounding in FAISS drops nothing the exact check keeps; on a Flat index the gathered items are
then exactly those the NumPy reference would score above the threshold.
"""

from __future__ import annotations

import numpy as np

from latentspace.indexer.store import IndexStore
from latentspace.server.search.refine import Threshold, faiss_radius

__all__ = ["threshold_candidates"]


def threshold_candidates(store: IndexStore, vector: np.ndarray, threshold: Threshold, *,
                         allowed: np.ndarray | None, cap: int, exact: bool) -> np.ndarray | None:
    """Ids FAISS finds within the threshold of ``vector`` (raw, ``(d,)``), at most ``cap``, or None
    where range search cannot stand in for the engine's own gathering.

    None: FAISS cannot range search this index now, or, with ``exact`` (a Flat index, whose
    callers then score every row as before), more than ``cap`` items are within range. An
    approximate index keeps the ``cap`` best by FAISS's score.
    """
    vector = np.asarray(vector, dtype=np.float32)
    radius = faiss_radius(threshold, dim=store.dim, query_sq_norm=float(np.dot(vector, vector)))
    found = store.range_search(vector, radius, allowed_ids=allowed)
    if found is None:
        return None
    scores, ids = found
    if len(ids) > cap:
        if exact:
            return None
        order = np.argsort(-scores if threshold.kind == "min_score" else scores, kind="stable")
        ids = ids[order[:cap]]
    return np.asarray(ids, dtype=np.int64)
