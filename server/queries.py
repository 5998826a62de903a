"""The core's requests and answers: plain frozen dataclasses, no protobuf.

A query names one point of the embedding space in one of three ways; the servicer builds these
from messages and the engine resolves them to vectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Hit", "ImageQuery", "ImageToAdd", "ItemQuery", "Query", "SearchOptions", "SearchResult", "VectorQuery"]


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
    """A raw vector ``(d,)`` of the index's dimension (validated by the engine)."""

    values: np.ndarray = field(repr=False, compare=False)


Query = ImageQuery | ItemQuery | VectorQuery


@dataclass(frozen=True)
class SearchOptions:
    k: int = 10
    include_self: bool = False
    """Item queries drop their own item from the hits unless this is set."""
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
