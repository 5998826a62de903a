"""Requests and answers of direction arithmetic: plain frozen dataclasses, no protobuf.

Points of the space are the :data:`~latentspace.server.search.queries.Query` kinds of a search
(image, item, vector); a term may also be a stored direction (:class:`DirectionRef`). Every term
and example is :class:`Named` with a label such as ``"negative 2 (item 17)"``, which error
messages use to say which one to fix. ``check_*`` run where a request enters the engine, before
anything is resolved or embedded, with the limits of :class:`ArithmeticLimits`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from latentspace.server.arithmetic.scoring import Method, check_method, check_term_count
from latentspace.server.arithmetic.trajectories import check_alphas, check_mode, check_steps
from latentspace.server.config import ArithmeticLimits
from latentspace.server.errors import InvalidQuery
from latentspace.server.search.queries import (
    DirectionRef,
    Named,
    Query,
    SearchOptions,
    SearchResult,
    Source,
    VectorQuery,
    describe,
)

__all__ = [
    "CombineRequest",
    "DiscoverRequest",
    "DirectionSource",
    "FromClasses",
    "FromLabels",
    "FromSets",
    "FromVector",
    "PathResult",
    "ShiftRequest",
    "WalkRequest",
    "check_combine",
    "check_shift",
    "check_walk",
    "signed_terms",
]


def signed_terms(positive: Sequence[tuple[Source, float | None]],
                 negative: Sequence[tuple[Source, float | None]]) -> tuple[Named, ...]:
    """Terms from two lists of ``(source, weight)``: a weight is a magnitude (None means 1), finite
    and > 0, and the list gives the sign. A bad weight is InvalidQuery naming the term."""
    terms = []
    for side, sign, entries in (("positive", 1.0, positive), ("negative", -1.0, negative)):
        for i, (source, weight) in enumerate(entries, 1):
            label = f"{side} {i} ({describe(source)})"
            w = 1.0 if weight is None else float(weight)
            if not (math.isfinite(w) and w > 0):
                raise InvalidQuery(f"{label}: weight must be finite and > 0 (the list it is in gives the sign), got {w}")
            terms.append(Named(source, label, sign * w))
    return tuple(terms)


@dataclass(frozen=True)
class CombineRequest:
    """Rank items by a combination of terms; ``options.include_self`` keeps term items in the hits."""

    terms: tuple[Named, ...]
    method: Method = "add"
    options: SearchOptions = SearchOptions()


@dataclass(frozen=True)
class DiscoverRequest:
    """A target (None: context search) and (positive, negative) context pairs, as Combine's terms."""

    target: Named | None
    pairs: tuple[tuple[Named, Named], ...]
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


def check_combine(request: CombineRequest, limits: ArithmeticLimits) -> None:
    """The method and the number of terms (each term's vector is checked once it is resolved)."""
    check_method(request.method)
    check_term_count(len(request.terms), limits.max_terms)


def check_shift(request: ShiftRequest, limits: ArithmeticLimits) -> tuple[float, ...]:
    """The strengths, as floats."""
    return check_alphas(request.alphas, max_steps=limits.max_steps, max_alpha=limits.max_alpha)


def check_walk(request: WalkRequest, limits: ArithmeticLimits) -> int:
    """The number of points (and the interpolation mode)."""
    steps = check_steps(request.steps, max_steps=limits.max_steps)
    check_mode(request.mode)
    return steps


@dataclass(frozen=True)
class FromSets:
    """mean(unit(positive)) − mean(unit(negative)) over examples (items, images or vectors)."""

    positive: tuple[Query, ...]
    negative: tuple[Query, ...]
    learned: str = ""
    """A method of :mod:`~.learned_directions` ("probe", ...) instead of the mean difference."""


@dataclass(frozen=True)
class FromLabels:
    """The same over every stored item with label ``positive`` and every one with ``negative``."""

    positive: str
    negative: str
    learned: str = ""
    """As for :class:`FromSets`."""


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
