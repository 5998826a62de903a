"""Indexes built through the store API from synthetic vectors, for tests that need many items or
another metric than the photo index has."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["synthetic_index"]


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
