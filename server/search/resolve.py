"""The points and directions a request names, as vectors of the index's space: the one resolver.

Searches, combinations, shifts, walks and direction examples all come here. Raw vectors are
checked, stored items and stored directions looked up, and every image of the request embedded
in one forward pass (shared with concurrent requests), after everything cheaper has been checked.
Errors start with the entry's label (``"negative 2 (item 17): no item with id 17"``; a search's
``"query 1: …"``, or nothing when the request has a single query).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from latentspace.indexer.store import IndexStore
from latentspace.server.errors import InvalidQuery, NotFound, no_such_items
from latentspace.server.search.deadline import NO_DEADLINE, Deadline
from latentspace.server.search.queries import DirectionRef, ImageQuery, ItemQuery, Named, VectorQuery
from latentspace.server.search.validation import check_vector

__all__ = ["EmbedImages", "Resolver", "known_directions"]

EmbedImages = Callable[..., tuple[np.ndarray, list]]
"""``embed_images(blobs, deadline=...)`` of :class:`~latentspace.server.search.engine.SearchEngine`:
``blobs`` are ``(message prefix, bytes)``; returns the vectors ``(n, d)`` and the decoded images."""


def known_directions(store: IndexStore, limit: int = 10) -> str:
    """``"stored directions: a, b"`` or ``"no directions are stored"``, for NOT_FOUND messages."""
    names = [d.name for d in store.list_directions()]
    if not names:
        return "no directions are stored"
    more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
    return "stored directions: " + ", ".join(names[:limit]) + more


def _prefix(label: str) -> str:
    return f"{label}: " if label else ""


class Resolver:
    """Turns :class:`Named` entries into vectors over one store, embedding with ``embed_images``."""

    def __init__(self, store: IndexStore, embed_images: EmbedImages) -> None:
        self.store = store
        self._embed_images = embed_images

    def vectors(self, entries: Sequence[Named], *, nonzero: bool = False, directions: bool = True,
                deadline: Deadline = NO_DEADLINE) -> np.ndarray:
        """Vectors ``(len(entries), d)`` float32, in order.

        ``nonzero`` refuses all-zero vectors (a path or a direction needs one); ``directions``
        False refuses :class:`DirectionRef` (a search names points only). Raises InvalidQuery (a
        bad vector or image, a wrong dimension, NaN) or NotFound (an unknown item or direction).
        Nothing is embedded unless every other entry resolved; ``deadline`` is checked before each
        image is decoded.
        """
        store = self.store
        kinds = "image, item id, vector or direction" if directions else "image, item id or vector"
        out = np.empty((len(entries), store.dim), dtype=np.float32)
        images: list[tuple[int, str, bytes]] = []
        items: list[tuple[int, int]] = []
        for i, entry in enumerate(entries):
            source, label = entry.source, entry.label
            if isinstance(source, VectorQuery):
                out[i] = check_vector(source.values, store.dim, store.metric, what=label or "vector")
            elif isinstance(source, DirectionRef) and directions:
                found = store.get_direction(source.name)
                if found is None:
                    raise NotFound(f"{_prefix(label)}no direction named {source.name!r}; {known_directions(store)}")
                out[i] = found.vector
            elif isinstance(source, ItemQuery):
                items.append((i, int(source.item_id)))
            elif isinstance(source, ImageQuery):
                images.append((i, _prefix(label), source.data))
            else:
                raise InvalidQuery(f"{label or 'the query'} names no {kinds}")
        if items:
            try:
                out[[i for i, _ in items]] = store.vectors([item_id for _, item_id in items])
            except KeyError as exc:  # the first unknown id, in request order
                missing = int(exc.args[0])
                index = next(i for i, item_id in items if item_id == missing)
                raise no_such_items([missing], prefix=_prefix(entries[index].label)) from None
        if images:
            vectors, _ = self._embed_images([(prefix, data) for _, prefix, data in images], deadline=deadline)
            out[[i for i, _, _ in images]] = vectors
        if nonzero:
            for i, entry in enumerate(entries):
                if not out[i].any():
                    raise InvalidQuery(f"{_prefix(entry.label)}vector is all zeros, it has no direction")
        return out
