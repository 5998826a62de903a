"""Near-duplicate clusters of an index: connected components over a cosine threshold, as
clip-retrieval's back end removes duplicates.

Pairs come from comparing the unit rows block by block (``chunk`` × ``chunk``, a float32 product
whose threshold is widened a little), so memory grows with two chunks and the pairs found, never
with n or n²; the rows may be read from an index's vector files chunk by chunk. Each candidate
pair is re-scored in float64 and kept only when its cosine is at least the threshold, so the
result is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_THRESHOLD", "DuplicateCluster", "near_duplicate_clusters", "near_duplicate_pairs"]

#: clip-retrieval uses 0.94; horizontally flipped copies of the sample photos measure >= 0.91
#: with EfficientNet-Lite0 while distinct photos stay below 0.75 (bench/duplicates.py).
DEFAULT_THRESHOLD = 0.90
DEFAULT_CHUNK = 2048
_SLACK = 1e-4


@dataclass(frozen=True)
class DuplicateCluster:
    """Ids of near-identical items (ascending) and the least cosine among the pairs that join them."""

    ids: tuple[int, ...]
    weakest: float


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not np.isfinite(threshold) or not 0.0 < threshold <= 1.0:
        raise ValueError(f"duplicate threshold is a cosine similarity in (0, 1], got {threshold}")
    return threshold


def _unit(rows: np.ndarray) -> np.ndarray:
    v64 = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(v64, axis=1, keepdims=True)
    return np.divide(v64, norms, out=np.zeros_like(v64), where=norms > 0)


Rows = np.ndarray | Callable[[np.ndarray], np.ndarray]
"""The rows to compare: an ``(n, d)`` array, or a function from positions ``0..n-1`` to their rows."""


def near_duplicate_pairs(ids: np.ndarray, vectors: Rows, *, threshold: float = DEFAULT_THRESHOLD,
                         chunk: int = DEFAULT_CHUNK, progress: Callable[[int], None] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (a, b), a < b by id, whose cosine is >= ``threshold``: (a ids, b ids, cosines).

    ``vectors`` may be a function reading rows by position (an index's vector files): the rows
    are compared ``chunk`` × ``chunk`` at a time, so memory is two chunks and the pairs found,
    however large the index; the work is still every pair, O(n²·d). A row of norm zero has
    cosine 0 with everything, so it is never a duplicate. ``progress`` is called with the number
    of rows compared against all later ones after each chunk.
    """
    threshold = _check_threshold(threshold)
    ids = np.asarray(ids, dtype=np.int64)
    if callable(vectors):
        fetch = vectors
    else:
        array = np.asarray(vectors)
        if array.ndim != 2 or ids.shape != (len(array),):
            raise ValueError(f"vectors {array.shape} and ids {ids.shape} are not (n, d) and (n,)")
        fetch = array.__getitem__
    n, chunk = len(ids), max(1, int(chunk))
    radius = np.float32(threshold - _SLACK)
    found_a, found_b, found_cos = [], [], []
    for start in range(0, n, chunk):
        rows_a = np.arange(start, min(n, start + chunk))
        unit_a = _unit(fetch(rows_a))
        single_a = unit_a.astype(np.float32)
        for other in range(start, n, chunk):
            rows_b = np.arange(other, min(n, other + chunk))
            unit_b = unit_a if other == start else _unit(fetch(rows_b))
            close = (single_a @ unit_b.astype(np.float32).T) > radius  # a float32 screen, widened
            la, lb = np.nonzero(close)
            later = rows_b[lb] > rows_a[la]  # each unordered pair once, never a row with itself
            la, lb = la[later], lb[later]
            cos = (unit_a[la] * unit_b[lb]).sum(axis=1)  # the exact check, in float64
            keep = cos >= threshold
            found_a.append(rows_a[la[keep]])
            found_b.append(rows_b[lb[keep]])
            found_cos.append(cos[keep])
        if progress is not None:
            progress(len(rows_a))
    a = np.concatenate(found_a) if found_a else np.zeros(0, np.int64)
    b = np.concatenate(found_b) if found_b else np.zeros(0, np.int64)
    cos = np.concatenate(found_cos) if found_cos else np.zeros(0, np.float64)
    ia, ib = ids[a], ids[b]
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    order = np.lexsort((hi, lo))
    return lo[order], hi[order], cos[order]


def near_duplicate_clusters(ids: np.ndarray, vectors: Rows, *, threshold: float = DEFAULT_THRESHOLD,
                            chunk: int = DEFAULT_CHUNK, progress: Callable[[int], None] | None = None
                            ) -> list[DuplicateCluster]:
    """Connected components of the near-duplicate graph with two or more items.

    Largest cluster first, then by smallest id. Connected components chain: a and c share a
    cluster when a ≈ b and b ≈ c even if a and c are further apart (``weakest`` says how far).
    """
    a, b, cos = near_duplicate_pairs(ids, vectors, threshold=threshold, chunk=chunk, progress=progress)
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = root(x), root(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
    members: dict[int, list[int]] = {}
    for x in parent:
        members.setdefault(root(x), []).append(x)
    weakest: dict[int, float] = {}
    for x, c in zip(a.tolist(), cos.tolist()):
        r = root(x)
        weakest[r] = min(weakest.get(r, 1.0), c)
    clusters = [DuplicateCluster(tuple(sorted(m)), float(weakest[r])) for r, m in members.items()]
    clusters.sort(key=lambda c: (-len(c.ids), c.ids[0]))
    return clusters
