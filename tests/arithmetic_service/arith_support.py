"""Independent NumPy oracles for direction arithmetic, written from the published formulas.

They share no code with ``latentspace.server.arithmetic`` or ``paths``: whole-matrix products
in float64 instead of the module's per-row sums, so a shared mistake would have to be made twice.
Rows are ordered by their float32 score (the precision the client sees), ties by smaller id, as
the service documents.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

_SERVICE_TESTS = str(Path(__file__).resolve().parent.parent / "service")
if _SERVICE_TESTS not in sys.path:
    sys.path.insert(0, _SERVICE_TESTS)

from service_support import export_arrays, photo_bytes, server_config  # noqa: E402

__all__ = ["export_arrays", "photo_bytes", "server_config", "ref_combine", "ref_neighbours", "assert_hits",
           "unit", "ref_set_direction", "method_scores", "synthetic_index"]


def unit(m: np.ndarray) -> np.ndarray:
    m = np.atleast_2d(np.asarray(m, dtype=np.float64))
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return np.where(n > 0, m / np.where(n > 0, n, 1.0), 0.0)


def _cos(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(n, m) cosines between rows of x and rows of v."""
    return unit(x) @ unit(v).T


def _neg_sqdist(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    x, v = np.atleast_2d(x).astype(np.float64), np.atleast_2d(v).astype(np.float64)
    return -(((x[:, None, :] - v[None, :, :]) ** 2).sum(axis=2))


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
        return -_neg_sqdist(x, q[None, :])[:, 0], True
    if method == "best_score":  # Qdrant best_score
        sim = _cos if metric == "cosine" else _neg_sqdist
        sp = sim(x, np.stack([v for v, _ in pos])).max(axis=1) if pos else np.full(len(x), -np.inf)
        sn = sim(x, np.stack([v for v, _ in neg])).max(axis=1) if neg else np.full(len(x), -np.inf)
        return np.where(sp > sn, sp, -(sn * sn)), False
    raise ValueError(method)


def _order(ids: np.ndarray, scores: np.ndarray, ascending: bool, k: int) -> tuple[list[int], list[float]]:
    s32 = scores.astype(np.float32)
    order = np.lexsort((ids, s32 if ascending else -s32))[:k]
    return ids[order].tolist(), scores[order].tolist()


def ref_combine(exported, method: str, pos, neg, *, metric: str = "cosine", k: int, exclude=(),
                keep: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Exact top-k of a combination over the exported vectors."""
    ids, vectors = exported["ids"], exported["vectors"]
    mask = ~np.isin(ids, list(exclude)) if exclude else np.ones(len(ids), bool)
    if keep is not None:
        mask &= keep
    scores, ascending = method_scores(method, pos, neg, vectors[mask], metric)
    return _order(ids[mask], scores, ascending, k)


def ref_neighbours(exported, point: np.ndarray, *, metric: str = "cosine", k: int, exclude=(),
                   keep: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Plain exact nearest neighbours of one point: cosine descending or squared L2 ascending."""
    return ref_combine(exported, "average", [(np.asarray(point, np.float64), 1.0)], [], metric=metric, k=k,
                       exclude=exclude, keep=keep)


def ref_set_direction(positives, negatives) -> np.ndarray:
    return unit(np.asarray(positives)).mean(axis=0) - unit(np.asarray(negatives)).mean(axis=0)


def assert_hits(result, expected: tuple[list[int], list[float]], *, atol: float = 1e-5) -> None:
    ids, scores = expected
    assert result.ids == ids, f"ids {result.ids} != expected {ids}"
    np.testing.assert_allclose(result.scores, scores, rtol=0, atol=atol)


def synthetic_index(directory: Path, embedder, *, factory: str, metric: str, count: int = 240, seed: int = 5) -> Path:
    """An index of ``count`` seeded vectors in four clusters (no images), trained when FAISS needs it."""
    from latentspace.indexer import EmbedderInfo, IndexSettings, IndexStore, NewItem

    rng = np.random.default_rng(seed)
    centres = np.abs(rng.normal(size=(4, embedder.dim)))
    labels = ["north", "south", "east", "west"]
    with IndexStore.create(directory, EmbedderInfo.from_embedder(embedder), IndexSettings(metric, factory)) as store:
        items = []
        for i in range(count):
            c = i % 4
            vector = np.abs(centres[c] + rng.normal(scale=0.8, size=embedder.dim)).astype(np.float32)
            items.append(NewItem(path=f"synthetic/{i:04d}.png", label=labels[c], sha256=f"{i:064x}", width=1,
                                 height=1, vector=vector))
        store.add(items)
        store.train()
    return directory
