"""Semantic quality of an index: do an item's nearest neighbours share its label?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentspace.indexer.store import IndexStore

__all__ = ["LabelPrecision", "PrecisionReport", "precision_at_k"]


@dataclass(frozen=True)
class LabelPrecision:
    label: str
    items: int
    precision: float
    chance: float
    """Expected precision of random neighbours: (items with this label − 1) / (all items − 1)."""


@dataclass(frozen=True)
class PrecisionReport:
    k: int
    items: int
    precision: float
    """Mean over labelled items of the share of their k nearest neighbours (itself excluded) with its label."""
    chance: float
    labels: tuple[LabelPrecision, ...]


def precision_at_k(store: IndexStore, k: int = 5, *, chunk: int = 1024) -> PrecisionReport:
    """Precision@k over every item that has a label, using the index's own search.

    Queries go ``chunk`` items at a time, read from the vector files, so memory holds one chunk
    of vectors (and every item's label), not the whole index.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    label_of = {item.id: item.label for item in store.db.iter_items()}
    n = sum(1 for label in label_of.values() if label)
    if n < 2:
        raise ValueError(f"precision@k needs at least 2 labelled items; the index has {n}")
    own_labels, shares = [], []
    for ids, vectors in store.iter_vector_chunks(chunk, release=True):
        labels = np.array([label_of.get(i, "") for i in ids.tolist()], dtype=object)
        labelled = labels != ""
        if not labelled.any():
            continue
        _, hits = store.search(vectors[labelled], k, exclude_ids=[{i} for i in ids[labelled].tolist()])
        for own, row in zip(labels[labelled], hits):
            found = row[row >= 0]
            shares.append(float(np.mean([label_of.get(h) == own for h in found.tolist()])) if len(found) else 0.0)
            own_labels.append(own)
    per_item, labels = np.asarray(shares), np.asarray(own_labels, dtype=object)
    n = len(per_item)
    rows = []
    for label in sorted(set(own_labels)):
        mask = labels == label
        count = int(mask.sum())
        rows.append(LabelPrecision(label, count, float(per_item[mask].mean()), (count - 1) / (n - 1)))
    chance = float(sum(r.items * r.chance for r in rows) / n)
    return PrecisionReport(k, n, float(per_item.mean()), chance, tuple(rows))
