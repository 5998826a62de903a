"""The core's requests and answers: plain frozen dataclasses, no protobuf.

A query names one point of the embedding space in one of three ways; a request of direction
arithmetic may also name a stored direction (:class:`DirectionRef`). The servicer builds these
from messages (:mod:`latentspace.server.rpc.convert`) and :mod:`~latentspace.server.search.resolve`
turns them into vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DirectionRef", "Hit", "HitGroup", "ImageQuery", "ImageToAdd", "ItemQuery", "Named", "Query", "SearchOptions",
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
    min_score: float | None = None
    """Keep hits scoring at least this (scores where higher is better)."""
    max_distance: float | None = None
    """Keep hits within this squared L2 distance (l2 scores)."""
    offset: int = 0
    """Skip this many hits first (paging); k + offset is limited by ``max_k``."""
    hide_duplicates: bool = False
    """Collapse near-identical hits to their best one."""
    diversity: float | None = None
    """MMR re-ranking, 0 (relevance only) .. 1 (most diverse); None: off."""
    group_by: str = ""
    """``"label"``: answer with groups of hits per label; empty: plain hits."""
    group_size: int = 0
    """Hits per group when ``group_by`` is set."""

    @property
    def refined(self) -> bool:
        """True when the ranking needs more than the plain top-k (see :mod:`~.refined`)."""
        return (self.min_score is not None or self.max_distance is not None or self.offset != 0
                or self.hide_duplicates or self.diversity is not None or bool(self.group_by))


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    path: str
    label: str


@dataclass(frozen=True)
class HitGroup:
    """One label's best hits, for ``group_by="label"``."""

    label: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    metric: str
    """``cosine``: scores are cosines, descending; ``l2``: squared distances, ascending."""
    groups: tuple[HitGroup, ...] = ()
    """With ``group_by``: one group per label, best label first (and ``hits`` empty)."""


@dataclass(frozen=True)
class ImageToAdd:
    data: bytes = field(repr=False)
    path: str = ""
    """Metadata only; empty means the name of the server's copy."""
    label: str = ""
