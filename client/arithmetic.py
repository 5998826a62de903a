"""Direction arithmetic on the client: combinations, shifts, walks and named directions.

:class:`ArithmeticCalls` is a base of :class:`~latentspace.client.Client`; its methods go through
the client's ``_call`` (deadline, exceptions) and ``_stub`` like every other call.

    with Client("127.0.0.1:50051") as client:
        client.analogy(12, 7, 3, k=5)                       # item 12 − item 7 + item 3
        client.create_direction("tabby-tiger", classes=("tabby", "tiger"))
        client.shift(12, direction="tabby-tiger", alphas=[0, 0.5, 1])
        client.walk(12, "photos/cat.jpg", steps=6, slerp=True, unique=True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from latentspace.client.arith_models import Direction, PathResult, PathStep, TermInput
from latentspace.client.messages import METHODS, combine_message, query_message, shift_message, walk_message
from latentspace.client.models import Hit, Query, SearchResult, as_vector
from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.vectors import vector_message

__all__ = ["ArithmeticCalls", "METHODS", "path_result", "search_result"]


def search_result(message: pb.SearchResponse) -> SearchResult:
    return SearchResult(tuple(Hit(h.id, h.score, h.path, h.label) for h in message.hits), message.metric)


def path_result(message: pb.PathResponse) -> PathResult:
    return PathResult(tuple(PathStep(s.position, search_result(s.result)) for s in message.steps))


def _direction(message: pb.Direction) -> Direction:
    vector = as_vector(message.vector.values) if message.HasField("vector") else None
    return Direction(message.name, message.kind, message.description, message.created_at, message.dimension,
                     message.norm, vector)


class ArithmeticCalls:
    """The direction-arithmetic calls of :class:`~latentspace.client.Client`."""

    def combine(
        self,
        positive: Iterable[TermInput] = (),
        negative: Iterable[TermInput] = (),
        *,
        method: str = "add",
        k: int = 10,
        include_terms: bool = False,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> SearchResult:
        """Items ranked by a combination of terms, best first.

        A term is a :class:`Term` or anything :meth:`Term.of` reads (an item id, image bytes or a
        file, a vector); ``Term.named("smile")`` is a stored direction. ``method`` is ``add``
        (3CosAdd), ``cosmul`` (3CosMul), ``average`` or ``best_score`` (Qdrant's strategies).
        Items given as terms are left out unless ``include_terms``. The result's ``metric`` names
        the score: ``cosine``, ``l2`` (lower is better), ``cosmul`` or ``best_score``.
        """
        request = combine_message(positive, negative, method=method, k=k, include_terms=include_terms, labels=labels)
        return search_result(self._call(self._stub.Combine, request, timeout))

    def analogy(self, a: TermInput, b: TermInput, c: TermInput, **options) -> SearchResult:
        """A − B + C: what is to C as A is to B (``combine([a, c], [b], **options)``)."""
        return self.combine([a, c], [b], **options)

    def shift(
        self,
        start: Query | int | bytes | np.ndarray | str,
        *,
        direction: str | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        alphas: Iterable[float] = (0.0, 0.5, 1.0),
        k: int = 10,
        include_start: bool = False,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> PathResult:
        """Neighbours of start + α·‖start‖·unit(direction), one step per α (α = 0: the start).

        Give a stored ``direction`` by name or a raw ``vector``; only its direction counts.
        """
        request = shift_message(start, direction=direction, vector=vector, alphas=alphas, k=k,
                                include_start=include_start, labels=labels)
        return path_result(self._call(self._stub.Shift, request, timeout))

    def walk(
        self,
        start: Query | int | bytes | np.ndarray | str,
        end: Query | int | bytes | np.ndarray | str,
        *,
        steps: int = 6,
        slerp: bool = False,
        unique: bool = False,
        k: int = 10,
        include_ends: bool = False,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> PathResult:
        """Neighbours of ``steps`` points from start to end (both included), linear or slerp.

        ``unique`` leaves out of each step the items shown at earlier steps; the start and end
        items are left out unless ``include_ends``.
        """
        request = walk_message(start, end, steps=steps, slerp=slerp, unique=unique, k=k, include_ends=include_ends,
                               labels=labels)
        return path_result(self._call(self._stub.Walk, request, timeout))

    # -- named directions ----------------------------------------------------------------------

    def create_direction(
        self,
        name: str,
        *,
        positive: Iterable[Query | int | bytes | np.ndarray | str] | None = None,
        negative: Iterable[Query | int | bytes | np.ndarray | str] | None = None,
        labels: tuple[str, str] | None = None,
        classes: tuple[str, str] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        timeout: float | None = None,
    ) -> Direction:
        """Compute and store a direction from exactly one source, and return it with its vector.

        ``positive`` and ``negative`` examples: mean of unit vectors minus mean of unit vectors.
        ``labels=(A, B)``: the same over every item labelled A and every item labelled B.
        ``classes=(A, B)``: the classifier's row for ImageNet class A minus B's (names as in the
        embedder's categories, case-insensitive, or indexes). ``vector``: stored as given.
        AlreadyExists if the name is taken.
        """
        sets = positive is not None or negative is not None
        given = [n for n, v in (("positive/negative", sets or None), ("labels", labels), ("classes", classes),
                                ("vector", vector)) if v is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one source: positive and negative, labels, classes or vector (got {given})")
        request = pb.CreateDirectionRequest(name=name)
        if sets:
            request.sets.positive.extend(query_message(Query.of(q)) for q in positive or ())
            request.sets.negative.extend(query_message(Query.of(q)) for q in negative or ())
        elif labels is not None:
            request.labels.positive, request.labels.negative = labels
        elif classes is not None:
            request.classes.positive, request.classes.negative = classes
        else:
            request.vector.CopyFrom(vector_message(vector))
        return _direction(self._call(self._stub.CreateDirection, request, timeout))

    def list_directions(self, *, with_vectors: bool = False, timeout: float | None = None) -> list[Direction]:
        """The stored directions, by name."""
        response = self._call(self._stub.ListDirections, pb.ListDirectionsRequest(with_vectors=with_vectors), timeout)
        return [_direction(m) for m in response.directions]

    def get_direction(self, name: str, *, timeout: float | None = None) -> Direction:
        """A stored direction with its vector; NotFound if there is none of that name."""
        return _direction(self._call(self._stub.GetDirection, pb.GetDirectionRequest(name=name), timeout))

    def delete_direction(self, name: str, *, timeout: float | None = None) -> None:
        """Remove a stored direction; NotFound if there is none of that name."""
        self._call(self._stub.DeleteDirection, pb.DeleteDirectionRequest(name=name), timeout)
