"""Requests and answers of direction arithmetic: plain frozen dataclasses, no protobuf.

Points of the space are the :data:`~latentspace.server.queries.Query` kinds of a search (image,
item, vector); a term may also be a stored direction (:class:`DirectionRef`). Every term and
example carries a ``label`` such as ``"negative 2 (item 17)"``, which error messages use to say
which one to fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from latentspace.server.arithmetic import QueryError
from latentspace.server.queries import ImageQuery, ItemQuery, Query, SearchOptions, SearchResult, VectorQuery

__all__ = [
    "CombineRequest",
    "DirectionRef",
    "DirectionSource",
    "FromClasses",
    "FromLabels",
    "FromSets",
    "FromVector",
    "Labelled",
    "PathResult",
    "ShiftRequest",
    "Source",
    "TermSpec",
    "WalkRequest",
    "describe",
    "signed_terms",
]


@dataclass(frozen=True)
class DirectionRef:
    """A stored named direction, used as a term or as the direction of a shift."""

    name: str


Source = ImageQuery | ItemQuery | VectorQuery | DirectionRef


@dataclass(frozen=True)
class Labelled:
    """A point or direction and how messages refer to it."""

    source: Source
    label: str


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
class TermSpec:
    """One term of a combination; ``weight`` is signed (> 0 positive, < 0 negative)."""

    source: Source
    weight: float
    label: str


def signed_terms(positive: Sequence[tuple[Source, float | None]],
                 negative: Sequence[tuple[Source, float | None]]) -> tuple[TermSpec, ...]:
    """Terms from two lists of ``(source, weight)``: a weight is a magnitude (None means 1), finite
    and > 0, and the list gives the sign. A bad weight is a QueryError naming the term."""
    terms = []
    for side, sign, entries in (("positive", 1.0, positive), ("negative", -1.0, negative)):
        for i, (source, weight) in enumerate(entries, 1):
            label = f"{side} {i} ({describe(source)})"
            w = 1.0 if weight is None else float(weight)
            if not (math.isfinite(w) and w > 0):
                raise QueryError(f"{label}: weight must be finite and > 0 (the list it is in gives the sign), got {w}")
            terms.append(TermSpec(source, sign * w, label))
    return tuple(terms)


Method = Literal["add", "cosmul", "average", "best_score"]


@dataclass(frozen=True)
class CombineRequest:
    """Rank items by a combination of terms; ``options.include_self`` keeps term items in the hits."""

    terms: tuple[TermSpec, ...]
    method: Method = "add"
    options: SearchOptions = SearchOptions()


@dataclass(frozen=True)
class ShiftRequest:
    """Neighbours of start + α·‖start‖·unit(direction) for each α."""

    start: Query
    direction: DirectionRef | VectorQuery
    alphas: tuple[float, ...]
    options: SearchOptions = SearchOptions()


@dataclass(frozen=True)
class WalkRequest:
    """Neighbours of ``steps`` points from start to end; ``unique`` drops items shown earlier."""

    start: Query
    end: Query
    steps: int
    mode: Literal["linear", "slerp"] = "linear"
    unique: bool = False
    options: SearchOptions = SearchOptions()


@dataclass(frozen=True)
class PathResult:
    """One row of hits per point; ``positions`` are the α of a shift or the t ∈ [0, 1] of a walk."""

    positions: tuple[float, ...]
    rows: tuple[SearchResult, ...]


@dataclass(frozen=True)
class FromSets:
    """mean(unit(positive)) − mean(unit(negative)) over examples (items, images or vectors)."""

    positive: tuple[Query, ...]
    negative: tuple[Query, ...]


@dataclass(frozen=True)
class FromLabels:
    """The same over every stored item with label ``positive`` and every one with ``negative``."""

    positive: str
    negative: str


@dataclass(frozen=True)
class FromClasses:
    """Classifier row of class ``positive`` minus that of ``negative`` (names or indexes)."""

    positive: str
    negative: str


@dataclass(frozen=True)
class FromVector:
    values: object
    """A raw vector ``(d,)``, stored as given."""


DirectionSource = FromSets | FromLabels | FromClasses | FromVector
