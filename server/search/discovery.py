"""Discovery and context search (Qdrant's ``discover``): steer a search with pairs of examples.

A context pair (positive, negative) says "closer to this than to that"; a row *satisfies* the
pair when sim(x, positive) > sim(x, negative), with the similarity of
:mod:`latentspace.server.search.similarity` (cosine, or −‖x − v‖² for l2).

* With a target, rows rank first by how many pairs they satisfy, then by similarity to the
  target: score = satisfied + s(sim(x, target)) with s(x) = (x / (1 + |x|) + 1) / 2 ∈ (0, 1)
  (as Qdrant, but counting satisfied pairs), so the integer part of a score is its count.
* Without a target (context search), score = Σ_pairs min(sim(x, pos) − sim(x, neg), 0):
  0 for a row that satisfies every pair, more negative the more it violates them.

Pure NumPy; the ranking is exact over the rows given (all rows, or candidates found near
:func:`discovery_candidates` in an approximate index and re-scored here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentspace.server.errors import InvalidQuery
from latentspace.server.search.recommend_scores import scaled_fast_sigmoid
from latentspace.server.search.similarity import check_metric, check_rows, similarities, unit_rows

__all__ = ["DEFAULT_MAX_PAIRS", "Discovery", "check_context", "discovery_candidates",
           "discovery_scores", "rank_discovery"]

DEFAULT_MAX_PAIRS = 16
_CHUNK_VALUES = 1 << 22


@dataclass(frozen=True)
class Discovery:
    """A validated discovery query: float64 target ``(d,)`` or None, pair sides ``(P, d)`` each."""

    target: np.ndarray | None
    positives: np.ndarray
    negatives: np.ndarray


def _vector(v: np.ndarray, dim: int | None, metric: str, what: str) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1:
        raise InvalidQuery(f"{what}: must be one vector, got shape {v.shape}")
    if dim is not None and v.shape[0] != dim:
        raise InvalidQuery(f"{what}: has {v.shape[0]} values; this index holds {dim}-dimensional vectors")
    if not np.all(np.isfinite(v)):
        raise InvalidQuery(f"{what}: contains NaN or inf")
    if metric == "cosine" and not v.any():
        raise InvalidQuery(f"{what}: is all zeros, which has no direction for cosine similarity")
    return v


def check_context(target: np.ndarray | None, pairs: Sequence[tuple[np.ndarray, np.ndarray]], *,
                  dim: int | None, metric: str, max_pairs: int = DEFAULT_MAX_PAIRS) -> Discovery:
    """Validate a target (optional) and 1 to ``max_pairs`` (positive, negative) pairs."""
    check_metric(metric)
    if len(pairs) == 0:
        raise InvalidQuery("empty context: give at least one (positive, negative) pair")
    if len(pairs) > max_pairs:
        raise InvalidQuery(f"too many context pairs: {len(pairs)} given, at most {max_pairs} allowed")
    t = None if target is None else _vector(target, dim, metric, "target")
    dim = dim if t is None else t.shape[0]
    pos, neg = [], []
    for i, pair in enumerate(pairs, 1):
        if len(pair) != 2:
            raise InvalidQuery(f"context pair {i}: give exactly one positive and one negative")
        p = _vector(pair[0], dim, metric, f"context pair {i} positive")
        dim = p.shape[0]
        n = _vector(pair[1], dim, metric, f"context pair {i} negative")
        if np.array_equal(unit_rows(p[None])[0] if metric == "cosine" else p,
                          unit_rows(n[None])[0] if metric == "cosine" else n):
            raise InvalidQuery(f"context pair {i}: positive and negative are the same, no row can satisfy it")
        pos.append(p)
        neg.append(n)
    return Discovery(t, np.stack(pos), np.stack(neg))


def discovery_scores(x: np.ndarray, query: Discovery, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(scores float64, satisfied int64) of rows ``x (n, d)``; see the module docstring."""
    sp = similarities(x, query.positives, metric)
    sn = similarities(x, query.negatives, metric)
    satisfied = (sp > sn).sum(axis=1).astype(np.int64)
    if query.target is None:
        return np.minimum(sp - sn, 0.0).sum(axis=1), satisfied
    target = similarities(x, query.target[None, :], metric)[:, 0]
    return satisfied + scaled_fast_sigmoid(target), satisfied


def rank_discovery(query: Discovery, *, vectors: np.ndarray, ids: np.ndarray, metric: str, k: int,
                   exclude_ids: set[int] | frozenset[int] = frozenset()
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The best ``k`` rows: (scores float32, ids int64, satisfied int64), best first.

    Ordered by the float32 scores, equal ones by smaller id, so the order a client sees agrees
    with the scores it sees. ``exclude_ids`` are never returned (the examples themselves are
    not excluded unless listed there).
    """
    check_metric(metric)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InvalidQuery(f"k must be a positive integer, got {k!r}")
    vectors, ids = check_rows(vectors, ids)
    if vectors.shape[1] != query.positives.shape[1]:
        raise InvalidQuery(f"the context has {query.positives.shape[1]} values per vector; "
                           f"this index holds {vectors.shape[1]}-dimensional vectors")
    if exclude_ids:
        keep = ~np.isin(ids, np.fromiter(exclude_ids, dtype=np.int64))
        vectors, ids = vectors[keep], ids[keep]
    chunk = max(1, _CHUNK_VALUES // max(1, vectors.shape[1]))
    parts = [discovery_scores(vectors[i: i + chunk], query, metric) for i in range(0, len(ids), chunk)]
    if not parts:
        return np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    scores = np.concatenate([p[0] for p in parts]).astype(np.float32)
    satisfied = np.concatenate([p[1] for p in parts])
    order = np.lexsort((ids, -scores))[: int(k)]
    return scores[order], ids[order], satisfied[order]


def discovery_candidates(query: Discovery, metric: str) -> np.ndarray:
    """Queries (m, d) float32 for an approximate index before :func:`rank_discovery`: the target
    (if any) and each positive; unit length for cosine, raw for l2."""
    check_metric(metric)
    rows = ([] if query.target is None else [query.target]) + list(query.positives)
    m = np.stack(rows)
    return (unit_rows(m) if metric == "cosine" else m).astype(np.float32)
