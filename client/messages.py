"""Request messages built from the client's arguments, in one place.

A search, combine, shift or walk is sent on its own or inside a RenderSheet request; both go
through these builders, so a sheet always shows exactly what the plain call would return.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from latentspace.client.arith_models import Term, TermInput
from latentspace.client.models import Query
from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.vectors import vector_message

__all__ = ["METHODS", "combine_message", "options_message", "query_message", "search_message", "shift_message",
           "term_message", "walk_message"]

ImageInput = bytes | bytearray | memoryview | str | os.PathLike
PointInput = Query | int | bytes | np.ndarray | str

METHODS = {
    "add": pb.COMBINE_METHOD_ADD,
    "cosmul": pb.COMBINE_METHOD_COSMUL,
    "average": pb.COMBINE_METHOD_AVERAGE,
    "best_score": pb.COMBINE_METHOD_BEST_SCORE,
}
"""The combination methods: 3CosAdd, 3CosMul, Qdrant's average_vector and best_score."""


def query_message(query: Query) -> pb.Query:
    if query.image is not None:
        return pb.Query(image=query.image)
    if query.item_id is not None:
        return pb.Query(item_id=query.item_id)
    return pb.Query(vector=vector_message(query.vector))


def options_message(k: int, include: bool, labels: Iterable[str]) -> pb.SearchOptions:
    return pb.SearchOptions(k=k, include_self=include, labels=list(labels))


def term_message(value: TermInput) -> pb.Term:
    term = Term.of(value)
    message = pb.Term(direction=term.direction) if term.direction is not None else pb.Term(query=query_message(term.query))
    if term.weight is not None:
        message.weight = term.weight
    return message


def search_message(
    image: ImageInput | None = None,
    *,
    item_id: int | None = None,
    vector: Sequence[float] | np.ndarray | None = None,
    k: int = 10,
    exclude_self: bool = True,
    labels: Iterable[str] = (),
) -> pb.SearchRequest:
    query = Query(image=image, item_id=item_id, vector=vector)
    return pb.SearchRequest(query=query_message(query), options=options_message(k, not exclude_self, labels))


def combine_message(
    positive: Iterable[TermInput] = (),
    negative: Iterable[TermInput] = (),
    *,
    method: str = "add",
    k: int = 10,
    include_terms: bool = False,
    labels: Iterable[str] = (),
) -> pb.CombineRequest:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return pb.CombineRequest(positive=[term_message(t) for t in positive], negative=[term_message(t) for t in negative],
                             method=METHODS[method], options=options_message(k, include_terms, labels))


def shift_message(
    start: PointInput,
    *,
    direction: str | None = None,
    vector: Sequence[float] | np.ndarray | None = None,
    alphas: Iterable[float] = (0.0, 0.5, 1.0),
    k: int = 10,
    include_start: bool = False,
    labels: Iterable[str] = (),
) -> pb.ShiftRequest:
    if (direction is None) == (vector is None):
        raise ValueError("give exactly one of direction (a stored name) or vector")
    request = pb.ShiftRequest(start=query_message(Query.of(start)), alphas=[float(a) for a in alphas],
                              options=options_message(k, include_start, labels))
    if direction is not None:
        request.direction_name = direction
    else:
        request.direction_vector.CopyFrom(vector_message(vector))
    return request


def walk_message(
    start: PointInput,
    end: PointInput,
    *,
    steps: int = 6,
    slerp: bool = False,
    unique: bool = False,
    k: int = 10,
    include_ends: bool = False,
    labels: Iterable[str] = (),
) -> pb.WalkRequest:
    return pb.WalkRequest(start=query_message(Query.of(start)), end=query_message(Query.of(end)), steps=steps,
                          interpolation=pb.INTERPOLATION_SLERP if slerp else pb.INTERPOLATION_LINEAR,
                          unique=unique, options=options_message(k, include_ends, labels))
