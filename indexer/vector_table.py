"""The stored vectors in memory, by item id, for exact scoring, arithmetic and rebuilding FAISS."""

from __future__ import annotations

import numpy as np

__all__ = ["VectorTable"]


class VectorTable:
    """Raw vectors ``(capacity, d)`` float32 with their int64 ids; freed rows are reused.

    A free row has id ``-1`` and a zero vector, so whole-table scoring stays one matrix product:
    callers mask rows with ``ids < 0``. Not thread-safe: the store serialises writers.
    """

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._vectors = np.zeros((max(capacity, 1), dim), dtype=np.float32)
        self._ids = np.full(max(capacity, 1), -1, dtype=np.int64)
        self._row_of: dict[int, int] = {}
        self._free: list[int] = []
        self._end = 0  # rows [0, _end) have been used at least once

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, item_id: int) -> bool:
        return int(item_id) in self._row_of

    def _grow(self, needed: int) -> None:
        capacity = len(self._ids)
        if needed <= capacity:
            return
        new_capacity = max(needed, capacity * 2)
        vectors = np.zeros((new_capacity, self.dim), dtype=np.float32)
        vectors[:capacity] = self._vectors
        ids = np.full(new_capacity, -1, dtype=np.int64)
        ids[:capacity] = self._ids
        self._vectors, self._ids = vectors, ids

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add rows; ``ids`` must be new."""
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected vectors of shape ({len(ids)}, {self.dim}), got {vectors.shape}")
        reuse = min(len(self._free), len(ids))
        rows = [self._free.pop() for _ in range(reuse)]
        fresh = len(ids) - reuse
        self._grow(self._end + fresh)
        rows.extend(range(self._end, self._end + fresh))
        self._end += fresh
        for item_id, row in zip(ids.tolist(), rows):
            if item_id in self._row_of:
                raise ValueError(f"id {item_id} is already in the table")
            self._row_of[item_id] = row
        rows_array = np.asarray(rows, dtype=np.int64)
        self._ids[rows_array] = ids
        self._vectors[rows_array] = vectors

    def remove(self, ids: np.ndarray) -> int:
        """Remove the rows of ``ids`` that exist; returns how many were removed."""
        removed = 0
        for item_id in np.asarray(ids, dtype=np.int64).tolist():
            row = self._row_of.pop(item_id, None)
            if row is None:
                continue
            self._ids[row] = -1
            self._vectors[row] = 0.0
            self._free.append(row)
            removed += 1
        return removed

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Vectors ``(len(ids), d)`` for known ids (KeyError names the first unknown one)."""
        rows = [self._row_of[int(i)] for i in np.asarray(ids, dtype=np.int64).tolist()]
        return self._vectors[np.asarray(rows, dtype=np.int64)].copy()

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids (n,), vectors (n, d))`` of every stored row, as views over the used prefix.

        Free rows are included with id ``-1``; filter them (``ids >= 0``) or mask their scores.
        """
        return self._ids[: self._end], self._vectors[: self._end]

    def compact(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the live rows only, sorted by id."""
        ids, vectors = self.live()
        keep = ids >= 0
        order = np.argsort(ids[keep], kind="stable")
        return ids[keep][order].copy(), vectors[keep][order].copy()
