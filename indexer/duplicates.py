"""Near-duplicate clusters of an index: connected components over a cosine threshold, as
clip-retrieval's back end removes duplicates.

Pairs come from FAISS ``range_search`` on an inner-product Flat index of the unit rows, queried a
chunk of rows at a time, so memory grows with the pairs found, never with n². Each pair FAISS
reports (with its float32 radius widened a little) is re-scored in float64 and kept only when
its cosine is at least the threshold, so the result is exact.
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


def near_duplicate_pairs(ids: np.ndarray, vectors: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD,
                         chunk: int = DEFAULT_CHUNK, progress: Callable[[int], None] | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (a, b), a < b by id, whose cosine is >= ``threshold``: (a ids, b ids, cosines).

    A row of norm zero has cosine 0 with everything, so it is never a duplicate. ``progress``
    is called with the number of rows searched after each chunk.
    """
    import faiss

    threshold = _check_threshold(threshold)
    ids = np.asarray(ids, dtype=np.int64)
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or ids.shape != (len(vectors),):
        raise ValueError(f"vectors {vectors.shape} and ids {ids.shape} are not (n, d) and (n,)")
    v64 = vectors.astype(np.float64)
    norms = np.linalg.norm(v64, axis=1, keepdims=True)
    unit = np.divide(v64, norms, out=np.zeros_like(v64), where=norms > 0)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(np.ascontiguousarray(unit, dtype=np.float32))
    radius = float(threshold) - _SLACK
    found_a, found_b = [], []
    for start in range(0, len(ids), chunk):
        queries = np.ascontiguousarray(unit[start: start + chunk], dtype=np.float32)
        lims, _, rows = index.range_search(queries, radius)
        counts = np.diff(lims).astype(np.int64)
        a = np.repeat(np.arange(start, start + len(queries)), counts)
        rows = rows.astype(np.int64)
        later = rows > a  # each unordered pair once, never a row with itself
        found_a.append(a[later])
        found_b.append(rows[later])
        if progress is not None:
            progress(len(queries))
    a = np.concatenate(found_a) if found_a else np.zeros(0, np.int64)
    b = np.concatenate(found_b) if found_b else np.zeros(0, np.int64)
    cos = (unit[a] * unit[b]).sum(axis=1)
    keep = cos >= threshold
    a, b, cos = a[keep], b[keep], cos[keep]
    ia, ib = ids[a], ids[b]
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    order = np.lexsort((hi, lo))
    return lo[order], hi[order], cos[order]


def near_duplicate_clusters(ids: np.ndarray, vectors: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD,
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
