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


def precision_at_k(store: IndexStore, k: int = 5) -> PrecisionReport:
    """Precision@k over every item that has a label, using the index's own search."""
    if k < 1:
        raise ValueError("k must be at least 1")
    ids, vectors = store.snapshot()
    items = store.items(ids.tolist())
    labels = np.array([items[i].label for i in ids.tolist()], dtype=object)
    labelled = labels != ""
    if labelled.sum() < 2:
        raise ValueError(f"precision@k needs at least 2 labelled items; the index has {int(labelled.sum())}")
    _, hits = store.search(vectors[labelled], k, exclude_ids=[{i} for i in ids[labelled].tolist()])
    label_of = dict(zip(ids.tolist(), labels.tolist()))
    per_item = np.array([
        np.mean([label_of.get(h) == own for h in row[row >= 0]]) if (row >= 0).any() else 0.0
        for own, row in zip(labels[labelled], hits)
    ])
    n = int(labelled.sum())
    rows = []
    for label in sorted(set(labels[labelled].tolist())):
        mask = labels[labelled] == label
        count = int(mask.sum())
        rows.append(LabelPrecision(label, count, float(per_item[mask].mean()), (count - 1) / (n - 1)))
    chance = float(sum(r.items * r.chance for r in rows) / n)
    return PrecisionReport(k, n, float(per_item.mean()), chance, tuple(rows))
