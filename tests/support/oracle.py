"""Independent NumPy oracles: exact nearest neighbours and direction arithmetic, from the formulas.

They share no code with latentspace: whole-matrix products in float64 instead of the library's
per-row sums or FAISS, so a shared mistake would have to be made twice. Rows are ordered by their
float32 score (the precision FAISS and the client see), ties by smaller id, as the service
documents. :func:`assert_hits` is the one comparison of a client result with an oracle's.
"""

from __future__ import annotations

import numpy as np

__all__ = ["assert_hits", "brute_force", "brute_force_rows", "method_scores", "ref_combine", "ref_set_direction",
           "unit"]


def unit(m: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 in float64; a zero row stays zero."""
    m = np.atleast_2d(np.asarray(m, dtype=np.float64))
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return np.where(n > 0, m / np.where(n > 0, n, 1.0), 0.0)


def _cos(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, m) cosines between rows of x and rows of v."""
    return unit(x) @ unit(v).T


def _sqdist(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, m) squared L2 distances between rows of x and rows of v."""
    x, v = np.atleast_2d(x).astype(np.float64), np.atleast_2d(v).astype(np.float64)
    return ((x[:, None, :] - v[None, :, :]) ** 2).sum(axis=2)


def _ranked(ids: np.ndarray, scores: np.ndarray, ascending: bool, k: int) -> np.ndarray:
    """Positions of the best ``k`` of ``scores`` (1-D), by float32 score, ties to the smaller id."""
    s32 = scores.astype(np.float32)
    return np.lexsort((ids, s32 if ascending else -s32))[:k]


def brute_force_rows(queries: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int, metric: str):
    """Exact top-k of each query row: ``(scores (q, k), ids (q, k))``, cosine descending or squared
    L2 ascending."""
    scores = _cos(queries, vectors) if metric == "cosine" else _sqdist(queries, vectors)
    order = np.stack([_ranked(ids, row, metric != "cosine", k) for row in scores])
    return np.take_along_axis(scores, order, 1), ids[order]


def brute_force(exported: dict[str, np.ndarray], query: np.ndarray, k: int, metric: str = "cosine", *,
                exclude=(), keep: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Exact top-k of one point over the exported vectors: ``(ids, scores)``.

    ``exclude``: ids left out; ``keep``: a mask over the exported rows (a label filter).
    """
    ids, vectors = exported["ids"], exported["vectors"]
    mask = ~np.isin(ids, list(exclude)) if len(exclude) else np.ones(len(ids), bool)
    if keep is not None:
        mask &= keep
    scores, found = brute_force_rows(np.asarray(query)[None, :], ids[mask], vectors[mask], k, metric)
    return found[0].tolist(), scores[0].tolist()


def _wmean(vs: list[np.ndarray], ws: list[float]) -> np.ndarray:
    return (np.asarray(ws)[:, None] * np.stack(vs)).sum(axis=0) / sum(ws)


def method_scores(method: str, pos, neg, x: np.ndarray, metric: str) -> tuple[np.ndarray, bool]:
    """Scores of rows ``x`` and whether lower is better. ``pos``/``neg``: lists of (vector, |weight|)."""
    x = np.asarray(x, dtype=np.float64)
    if method == "add":  # 3CosAdd: cos(x, Σ wᵢ·v̂ᵢ) with signed weights
        q = sum(w * unit(v)[0] for v, w in pos) + sum(-w * unit(v)[0] for v, w in neg)
        return _cos(x, q[None, :])[:, 0], False
    if method == "cosmul":  # 3CosMul with gensim's epsilon
        num = np.ones(len(x))
        den = np.ones(len(x))
        for v, w in pos:
            num *= ((1.0 + _cos(x, v[None, :])[:, 0]) / 2.0) ** w
        for v, w in neg:
            den *= ((1.0 + _cos(x, v[None, :])[:, 0]) / 2.0) ** w
        return num / (den + 1e-6), False
    if method == "average":  # Qdrant average_vector: 2·mean(pos) − mean(neg)
        prep = (lambda v: unit(v)[0]) if metric == "cosine" else (lambda v: np.asarray(v, np.float64))
        q = _wmean([prep(v) for v, _ in pos], [w for _, w in pos])
        if neg:
            q = 2.0 * q - _wmean([prep(v) for v, _ in neg], [w for _, w in neg])
        if metric == "cosine":
            return _cos(x, q[None, :])[:, 0], False
        return _sqdist(x, q[None, :])[:, 0], True
    sim = _cos if metric == "cosine" else (lambda a, b: -_sqdist(a, b))
    if method == "best_score":  # Qdrant best_score, both branches through (x / (1 + |x|) + 1) / 2
        sp = sim(x, np.stack([v for v, _ in pos])).max(axis=1) if pos else np.full(len(x), -np.inf)
        sn = sim(x, np.stack([v for v, _ in neg])).max(axis=1) if neg else np.full(len(x), -np.inf)
        chosen = np.where(sp > sn, sp, sn)
        squashed = 0.5 * (chosen / (1.0 + np.abs(chosen)) + 1.0)
        return np.where(sp > sn, squashed, -squashed), False
    if method == "sum_scores":  # Qdrant sum_scores: Σ w·sim(x, p) − Σ w·sim(x, n)
        total = np.zeros(len(x))
        for v, w in pos:
            total += w * sim(x, v[None, :])[:, 0]
        for v, w in neg:
            total -= w * sim(x, v[None, :])[:, 0]
        return total, False
    raise ValueError(method)


def ref_combine(exported, method: str, pos, neg, *, metric: str = "cosine", k: int, exclude=(),
                keep: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Exact top-k of a combination over the exported vectors."""
    ids, vectors = exported["ids"], exported["vectors"]
    mask = ~np.isin(ids, list(exclude)) if exclude else np.ones(len(ids), bool)
    if keep is not None:
        mask &= keep
    scores, ascending = method_scores(method, pos, neg, vectors[mask], metric)
    order = _ranked(ids[mask], scores, ascending, k)
    return ids[mask][order].tolist(), scores[order].tolist()


def ref_set_direction(positives, negatives) -> np.ndarray:
    return unit(np.asarray(positives)).mean(axis=0) - unit(np.asarray(negatives)).mean(axis=0)


def assert_hits(result, expected: tuple[list[int], list[float]], *, atol: float = 1e-5) -> None:
    """A client result (``.ids``, ``.scores``) has the expected ids in order, and their scores."""
    ids, scores = expected
    assert result.ids == ids, f"ids {result.ids} != expected {ids}"
    np.testing.assert_allclose(result.scores, scores, rtol=0, atol=atol)
