"""What the direction-arithmetic calls accept and return: frozen dataclasses, never protobuf."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from latentspace.client.models import Query, SearchResult

__all__ = ["Direction", "PathResult", "PathStep", "Term", "TermInput"]


@dataclass(frozen=True)
class Term:
    """One term of a combination: a point (image, item id or vector) or a stored direction's name.

    ``weight`` is how much it counts (None means 1; finite and > 0): whether it pulls towards or
    away depends on the list it is given in, positive or negative.
    """

    query: Query | None = None
    direction: str | None = None
    weight: float | None = None

    def __post_init__(self) -> None:
        if (self.query is None) == (self.direction is None):
            raise ValueError("a term needs exactly one of query or direction")

    @classmethod
    def named(cls, direction: str, *, weight: float | None = None) -> Term:
        """A stored direction as a term."""
        return cls(direction=direction, weight=weight)

    @classmethod
    def of(cls, value: TermInput, *, weight: float | None = None) -> Term:
        """A term from a bare value as :meth:`Query.of` reads it (an int is an item id, bytes or a
        path an image, an array a vector); a Term is kept, with ``weight`` if given."""
        if isinstance(value, Term):
            return value if weight is None else replace(value, weight=weight)
        return cls(query=Query.of(value), weight=weight)


TermInput = Term | Query | int | bytes | np.ndarray | str | os.PathLike
"""Anything :meth:`Term.of` accepts."""


@dataclass(frozen=True)
class PathStep:
    position: float
    """The strength α of a shift, or the fraction t ∈ [0, 1] of the way for a walk."""
    result: SearchResult

    @property
    def ids(self) -> list[int]:
        return self.result.ids


@dataclass(frozen=True)
class PathResult:
    """One row of neighbours per point of a shift or a walk, in order."""

    steps: tuple[PathStep, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[PathStep]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> PathStep:
        return self.steps[index]


@dataclass(frozen=True)
class Direction:
    """A named direction stored in the index."""

    name: str
    kind: str
    """How it was made: ``sets``, ``labels``, ``classes`` or ``vector``."""
    description: str
    created_at: float
    """Seconds since the Unix epoch."""
    dimension: int
    norm: float
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Read-only float32 ``(dimension,)``, when the call returns it."""
