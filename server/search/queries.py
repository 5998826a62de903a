"""The core's requests and answers: plain frozen dataclasses, no protobuf.

A query names one point of the embedding space in one of three ways; a request of direction
arithmetic may also name a stored direction (:class:`DirectionRef`). The servicer builds these
from messages (:mod:`latentspace.server.rpc.convert`) and :mod:`~latentspace.server.search.resolve`
turns them into vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DirectionRef", "Hit", "ImageQuery", "ImageToAdd", "ItemQuery", "Named", "Query", "SearchOptions",
           "SearchResult", "Source", "VectorQuery", "describe"]


@dataclass(frozen=True)
class ImageQuery:
    """Encoded image bytes, embedded by the server with the index's embedder."""

    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ItemQuery:
    """A stored item; its stored vector is the query, and by default it is left out of the hits."""

    item_id: int


@dataclass(frozen=True)
class VectorQuery:
    """A raw vector ``(d,)`` of the index's dimension (validated where it is resolved)."""

    values: np.ndarray = field(repr=False, compare=False)


Query = ImageQuery | ItemQuery | VectorQuery


@dataclass(frozen=True)
class DirectionRef:
    """A stored named direction, used as a term or as the direction of a shift."""

    name: str


Source = ImageQuery | ItemQuery | VectorQuery | DirectionRef
"""Anything a request may name that resolves to a vector of the index's space."""


def describe(source: Source) -> str:
    """``item 17``, ``image``, ``vector`` or ``direction 'smile'``."""
    if isinstance(source, ItemQuery):
        return f"item {source.item_id}"
    if isinstance(source, ImageQuery):
        return "image"
    if isinstance(source, DirectionRef):
        return f"direction {source.name!r}"
    return "vector"


@dataclass(frozen=True)
class Named:
    """A point or direction of a request, how messages refer to it, and its signed weight when it
    is a term of a combination (> 0 positive, < 0 negative)."""

    source: Source
    label: str
    """``"negative 2 (item 17)"``; errors about this entry start with it (empty: the request has one)."""
    weight: float = 1.0


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    include_self: bool = False
    """Item queries (and the items a combination or path is made of) are left out of the hits
    unless this is set."""
    labels: tuple[str, ...] = ()
    """Keep only items with one of these labels; empty keeps all."""


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    path: str
    label: str


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    metric: str
    """``cosine``: scores are cosines, descending; ``l2``: squared distances, ascending."""


@dataclass(frozen=True)
class ImageToAdd:
    data: bytes = field(repr=False)
    path: str = ""
    """Metadata only; empty means the name of the server's copy."""
    label: str = ""
