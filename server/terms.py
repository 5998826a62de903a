"""The points and directions a request names, as vectors of the index's space.

Stored items and stored directions are looked up, raw vectors checked, and every image of the
request embedded in one forward pass through the engine's batcher, after everything cheaper has
been checked. Errors name the entry by its label (``"negative 2 (item 17): no item with id 17"``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latentspace.server.arith_queries import DirectionRef, Labelled
from latentspace.server.deadline import NO_DEADLINE, Deadline
from latentspace.server.engine import SearchEngine
from latentspace.server.errors import InvalidQuery, NotFound
from latentspace.server.queries import ImageQuery, ItemQuery, VectorQuery
from latentspace.server.validation import check_vector

__all__ = ["known_directions", "resolve"]


def known_directions(engine: SearchEngine, limit: int = 10) -> str:
    """``"stored directions: a, b"`` or ``"no directions are stored"``, for NOT_FOUND messages."""
    names = [d.name for d in engine.store.db.list_directions()]
    if not names:
        return "no directions are stored"
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return "stored directions: " + ", ".join(names[:limit]) + more


def resolve(engine: SearchEngine, entries: Sequence[Labelled], *, nonzero: bool = False,
            deadline: Deadline = NO_DEADLINE) -> np.ndarray:
    """Vectors ``(len(entries), d)`` float32, in order; ``nonzero`` refuses all-zero ones.

    Raises InvalidQuery (bad vector or image, wrong dimension, NaN) or NotFound (unknown item or
    direction). Nothing is embedded unless every other entry resolved; ``deadline`` is checked
    before each image is decoded.
    """
    store = engine.store
    out = np.empty((len(entries), store.dim), dtype=np.float32)
    images: list[tuple[int, str, bytes]] = []
    items: list[tuple[int, str, int]] = []
    for i, entry in enumerate(entries):
        source, label = entry.source, entry.label
        if isinstance(source, VectorQuery):
            out[i] = check_vector(source.values, store.dim, store.metric, what=label)
        elif isinstance(source, DirectionRef):
            found = store.db.get_direction(source.name)
            if found is None:
                raise NotFound(f"{label}: no direction named {source.name!r}; {known_directions(engine)}")
            out[i] = found.vector
        elif isinstance(source, ItemQuery):
            items.append((i, label, int(source.item_id)))
        elif isinstance(source, ImageQuery):
            images.append((i, label, source.data))
        else:
            raise InvalidQuery(f"{label}: names no image, item id, vector or direction")
    for i, label, item_id in items:
        try:
            out[i] = store.vectors([item_id])[0]
        except KeyError:
            raise NotFound(f"{label}: no item with id {item_id}") from None
    if images:
        # The engine's own embedding path: decode and preprocess here, one forward pass shared
        # with concurrent requests, and rejections named by the prefix given with each image.
        vectors, _ = engine._embed_images([(f"{label}: ", data) for _, label, data in images], deadline=deadline)
        out[[i for i, _, _ in images]] = vectors
    if nonzero:
        for i, entry in enumerate(entries):
            if not out[i].any():
                raise InvalidQuery(f"{entry.label}: vector is all zeros, it has no direction")
    return out
