"""Exact top-M over every stored row, read in chunks: memory for one chunk and the rows kept, never n·d.

A Flat index (or a query no neighbour search can answer, such as ``sum_scores`` whose terms
cancel) is scored row by row over all stored vectors. Holding them all would cost n·d·4 bytes
per request (16 GB for 1M × 4096-d), so the rows come from the store in chunks; each chunk is
ranked with the request's own scoring function and only the best ``m`` of all seen so far are
kept. Every scoring function here scores a row on its own (multiply, then sum: no BLAS block
that rounds by position), so a row's score is the same in a chunk as in the whole, and merging
the chunks' bests by (float32 score, id) gives exactly the order of ranking everything at once.

Pure NumPy: the chunks are any iterable of ``(ids, vectors)``, ids ascending within a chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_BYTES", "RankChunk", "TopRows", "chunk_rows", "exact_top", "exact_tops"]

CHUNK_BYTES = 8 << 20
"""float32 bytes of stored vectors read per chunk by default (the scorers convert to float64:
twice that, and a temporary or two more)."""

RankChunk = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
"""``(vectors, ids, k) -> (scores float32, ids int64)``: a chunk's best ``k`` rows, best first,
equal scores by smaller id (as :meth:`Combination.rank` and :func:`rank_discovery` return)."""


def chunk_rows(dim: int, *, budget: int = CHUNK_BYTES) -> int:
    """Rows of ``dim`` float32 values that fit in ``budget`` bytes (at least 1)."""
    return max(1, budget // max(1, 4 * int(dim)))


@dataclass(frozen=True)
class TopRows:
    """The best rows found, best first: scores float32, ids int64 and, when kept, their vectors."""

    scores: np.ndarray
    ids: np.ndarray
    vectors: np.ndarray | None = None


class _Running:
    """One ranking's kept rows: chunk bests are buffered and merged down to ``m`` once the buffer
    holds 2·m rows, so merging costs O(n log m) however small the chunks."""

    def __init__(self, rank: RankChunk, m: int, lower_is_better: bool, keep_vectors: bool) -> None:
        if int(m) < 1:
            raise ValueError(f"m must be at least 1, got {m}")
        self.rank, self.m, self.lower, self.keep_vectors = rank, int(m), lower_is_better, keep_vectors
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self.buffered = 0

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        scores, best = self.rank(vectors, ids, self.m)
        scores, best = np.asarray(scores, np.float32), np.asarray(best, np.int64)
        rows = vectors[np.searchsorted(ids, best)] if self.keep_vectors else None
        self.parts.append((scores, best, rows))
        self.buffered += len(best)
        if self.buffered >= 2 * self.m:
            self.parts = [self._merged()]
            self.buffered = len(self.parts[0][1])

    def _merged(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if len(self.parts) == 1:
            return self.parts[0]
        scores = np.concatenate([p[0] for p in self.parts])
        ids = np.concatenate([p[1] for p in self.parts])
        order = np.lexsort((ids, scores if self.lower else -scores))[: self.m]
        rows = np.concatenate([p[2] for p in self.parts])[order] if self.keep_vectors else None
        return scores[order], ids[order], rows

    def result(self, dim: int) -> TopRows:
        if not self.parts:
            empty = np.zeros((0, dim), np.float32) if self.keep_vectors else None
            return TopRows(np.zeros(0, np.float32), np.zeros(0, np.int64), empty)
        scores, ids, rows = self._merged()
        return TopRows(scores, ids, rows)


def exact_tops(chunks: Iterable[tuple[np.ndarray, np.ndarray]], ranks: Sequence[RankChunk], ms: Sequence[int], *,
               dim: int, lower_is_better: bool | Sequence[bool] = False,
               keep_vectors: bool = False) -> list[TopRows]:
    """The best ``ms[i]`` rows under ``ranks[i]`` for every i, in ONE pass over ``chunks``.

    ``lower_is_better`` says how each ranking's scores order (one value for all, or one each);
    with ``keep_vectors`` the kept rows' vectors come along (M·d floats per ranking, no more).
    """
    lower = [lower_is_better] * len(ranks) if isinstance(lower_is_better, bool) else list(lower_is_better)
    running = [_Running(r, m, low, keep_vectors) for r, m, low in zip(ranks, ms, lower, strict=True)]
    for ids, vectors in chunks:
        ids = np.asarray(ids, np.int64)
        if len(ids):
            for r in running:
                r.add(ids, vectors)
    return [r.result(dim) for r in running]


def exact_top(chunks: Iterable[tuple[np.ndarray, np.ndarray]], rank: RankChunk, m: int, *, dim: int,
              lower_is_better: bool = False, keep_vectors: bool = False) -> TopRows:
    """The best ``m`` rows under ``rank`` over every row of ``chunks``; see :func:`exact_tops`."""
    return exact_tops(chunks, [rank], [m], dim=dim, lower_is_better=lower_is_better, keep_vectors=keep_vectors)[0]
