"""The similarity every query feature of this package compares with, and the checks on its inputs.

"cosine": cos(x, v), a stored row of norm zero has cosine 0 with everything. "l2": −‖x − v‖²,
Qdrant's Euclid similarity, so for both metrics higher means more alike.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Literal

import numpy as np

from latentspace.indexer.unit_rows import unit_rows as _unit_rows
from latentspace.server.errors import InvalidQuery

__all__ = ["METRICS", "Metric", "check_metric", "check_rows", "rank_similar", "similarities", "unit_rows"]

Metric = Literal["cosine", "l2"]
METRICS: tuple[str, ...] = ("cosine", "l2")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InvalidQuery(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float64 (the query features score in float64); zero rows stay zero."""
    return _unit_rows(np.asarray(m, dtype=np.float64))


def check_rows(vectors: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows and their ids as ``(n, d)`` and int64 ``(n,)``, or InvalidQuery."""
    vectors, ids = np.asarray(vectors), np.asarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or ids.shape != (len(vectors),):
        raise InvalidQuery(f"vectors {vectors.shape} and ids {ids.shape} are not (n, d) and (n,)")
    return vectors, ids


def similarities(x: np.ndarray, m: np.ndarray, metric: str) -> np.ndarray:
    """``(len(x), len(m))`` similarities in float64, each column computed on its own.

    Row-wise (multiply, then sum) rather than one BLAS product, so a row's similarity does not
    depend on which block of candidates it arrived in and exact duplicates tie.
    """
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    if metric == "cosine":
        x, m = unit_rows(x), unit_rows(m)
        cols = [(x * v).sum(axis=1) for v in m]
    else:
        cols = [-((x - v) ** 2).sum(axis=1) for v in m]
    return np.stack(cols, axis=1) if cols else np.zeros((len(x), 0))


def rank_similar(query: np.ndarray, metric: str, exclude_ids: Collection[int] = ()
                 ) -> Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]:
    """A ranking of rows by closeness to ``query``, as the index scores it: ``(vectors, ids, k) ->
    (scores float32, ids)``, best first, equal scores by smaller id; ``exclude_ids`` never returned.

    Scores are the cosine for "cosine" and the squared distance (ascending) for "l2".
    """
    check_metric(metric)
    q = np.asarray(query, dtype=np.float64)[None, :]
    skip = np.asarray(sorted(exclude_ids), dtype=np.int64)

    def rank(vectors: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        vectors, ids = check_rows(vectors, ids)
        if len(skip):
            keep = ~np.isin(ids, skip)
            vectors, ids = vectors[keep], ids[keep]
        sims = similarities(vectors, q, metric)[:, 0] if len(ids) else np.zeros(0)
        scores = (sims if metric == "cosine" else -sims).astype(np.float32)
        order = np.lexsort((ids, -scores if metric == "cosine" else scores))[: int(k)]
        return scores[order], ids[order]

    return rank
