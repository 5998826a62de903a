"""The gRPC face of direction arithmetic: messages to core requests and back, nothing else.

:class:`ArithmeticRpcs` is mixed into :class:`~latentspace.server.service.LatentSpaceService`,
whose handlers parse every request and map every exception to a status in one place; these
methods only translate and call the :class:`ArithmeticEngine` in ``self.arithmetic``.
"""

from __future__ import annotations

import grpc
import numpy as np

from latentspace.indexer.item_db import Direction
from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.vectors import vector_message
from latentspace.server.arith_engine import ArithmeticEngine
from latentspace.server.arith_queries import (
    CombineRequest,
    DirectionRef,
    DirectionSource,
    FromClasses,
    FromLabels,
    FromSets,
    FromVector,
    PathResult,
    ShiftRequest,
    Source,
    WalkRequest,
    signed_terms,
)
from latentspace.server.deadline import Deadline
from latentspace.server.errors import InvalidQuery
from latentspace.server.queries import ImageQuery, ItemQuery, Query, SearchOptions, SearchResult, VectorQuery

__all__ = ["ArithmeticRpcs", "combine_request", "path_response", "search_response", "shift_request", "walk_request"]

_METHODS = {
    pb.COMBINE_METHOD_UNSPECIFIED: "add",
    pb.COMBINE_METHOD_ADD: "add",
    pb.COMBINE_METHOD_COSMUL: "cosmul",
    pb.COMBINE_METHOD_AVERAGE: "average",
    pb.COMBINE_METHOD_BEST_SCORE: "best_score",
}
_INTERPOLATIONS = {
    pb.INTERPOLATION_UNSPECIFIED: "linear",
    pb.INTERPOLATION_LINEAR: "linear",
    pb.INTERPOLATION_SLERP: "slerp",
}


def _query(message: pb.Query, what: str) -> Query:
    kind = message.WhichOneof("kind")
    if kind == "image":
        return ImageQuery(message.image)
    if kind == "item_id":
        return ItemQuery(message.item_id)
    if kind == "vector":
        return VectorQuery(np.asarray(message.vector.values, dtype=np.float32))
    raise InvalidQuery(f"{what} is empty: set one of image, item_id or vector")


def _term(message: pb.Term, what: str) -> tuple[Source, float | None]:
    kind = message.WhichOneof("kind")
    if kind == "query":
        source: Source = _query(message.query, what)
    elif kind == "direction":
        source = DirectionRef(message.direction)
    else:
        raise InvalidQuery(f"{what} is empty: set a query or a direction name")
    return source, (message.weight if message.HasField("weight") else None)


def _deadline(context: grpc.ServicerContext) -> Deadline:
    return Deadline.after(context.time_remaining())


def _options(message: pb.SearchOptions) -> SearchOptions:
    return SearchOptions(k=message.k, include_self=message.include_self, labels=tuple(message.labels))


def search_response(result: SearchResult) -> pb.SearchResponse:
    return pb.SearchResponse(
        hits=[pb.Hit(id=h.id, score=h.score, path=h.path, label=h.label) for h in result.hits], metric=result.metric
    )


def path_response(result: PathResult) -> pb.PathResponse:
    return pb.PathResponse(steps=[pb.PathStep(position=p, result=search_response(r))
                                  for p, r in zip(result.positions, result.rows)])


def _direction(direction: Direction, *, with_vector: bool) -> pb.Direction:
    vector = np.asarray(direction.vector, dtype=np.float32)
    message = pb.Direction(name=direction.name, kind=direction.kind, description=direction.description,
                           created_at=direction.created_at, dimension=len(vector),
                           norm=float(np.linalg.norm(vector.astype(np.float64))))
    if with_vector:
        message.vector.CopyFrom(vector_message(vector))
    return message


def _source(message: pb.CreateDirectionRequest) -> DirectionSource:
    kind = message.WhichOneof("source")
    if kind == "sets":
        return FromSets(tuple(_query(q, f"positive {i}") for i, q in enumerate(message.sets.positive, 1)),
                        tuple(_query(q, f"negative {i}") for i, q in enumerate(message.sets.negative, 1)))
    if kind == "labels":
        return FromLabels(message.labels.positive, message.labels.negative)
    if kind == "classes":
        return FromClasses(message.classes.positive, message.classes.negative)
    if kind == "vector":
        return FromVector(np.asarray(message.vector.values, dtype=np.float32))
    raise InvalidQuery("the request names no source: set sets, labels, classes or vector")


def combine_request(request: pb.CombineRequest) -> CombineRequest:
    """The core request of a Combine (also carried by RenderSheet)."""
    if request.method not in _METHODS:
        raise InvalidQuery(f"unknown method {request.method}; see CombineMethod for the choices")
    terms = signed_terms([_term(t, f"positive {i}") for i, t in enumerate(request.positive, 1)],
                         [_term(t, f"negative {i}") for i, t in enumerate(request.negative, 1)])
    return CombineRequest(terms, _METHODS[request.method], _options(request.options))


def shift_request(request: pb.ShiftRequest) -> ShiftRequest:
    """The core request of a Shift (also carried by RenderSheet)."""
    kind = request.WhichOneof("direction")
    if kind == "direction_name":
        direction: DirectionRef | VectorQuery = DirectionRef(request.direction_name)
    elif kind == "direction_vector":
        direction = VectorQuery(np.asarray(request.direction_vector.values, dtype=np.float32))
    else:
        raise InvalidQuery("no direction: set direction_name or direction_vector")
    return ShiftRequest(_query(request.start, "start"), direction, tuple(request.alphas), _options(request.options))


def walk_request(request: pb.WalkRequest) -> WalkRequest:
    """The core request of a Walk (also carried by RenderSheet)."""
    if request.interpolation not in _INTERPOLATIONS:
        raise InvalidQuery(f"unknown interpolation {request.interpolation}; choose linear or slerp")
    return WalkRequest(_query(request.start, "start"), _query(request.end, "end"), request.steps,
                       _INTERPOLATIONS[request.interpolation], request.unique, _options(request.options))


class ArithmeticRpcs:
    """Combine, Shift, Walk and the direction RPCs; needs ``self.arithmetic``."""

    arithmetic: ArithmeticEngine

    def Combine(self, request: pb.CombineRequest, context: grpc.ServicerContext) -> pb.SearchResponse:
        return search_response(self.arithmetic.combine(combine_request(request), deadline=_deadline(context)))

    def Shift(self, request: pb.ShiftRequest, context: grpc.ServicerContext) -> pb.PathResponse:
        return path_response(self.arithmetic.shift(shift_request(request), deadline=_deadline(context)))

    def Walk(self, request: pb.WalkRequest, context: grpc.ServicerContext) -> pb.PathResponse:
        return path_response(self.arithmetic.walk(walk_request(request), deadline=_deadline(context)))

    def CreateDirection(self, request: pb.CreateDirectionRequest, context: grpc.ServicerContext) -> pb.Direction:
        created = self.arithmetic.directions.create(request.name, _source(request), deadline=_deadline(context))
        return _direction(created, with_vector=True)

    def ListDirections(self, request: pb.ListDirectionsRequest,
                       context: grpc.ServicerContext) -> pb.ListDirectionsResponse:
        found = self.arithmetic.directions.list()
        return pb.ListDirectionsResponse(directions=[_direction(d, with_vector=request.with_vectors) for d in found])

    def GetDirection(self, request: pb.GetDirectionRequest, context: grpc.ServicerContext) -> pb.Direction:
        return _direction(self.arithmetic.directions.get(request.name), with_vector=True)

    def DeleteDirection(self, request: pb.DeleteDirectionRequest,
                        context: grpc.ServicerContext) -> pb.DeleteDirectionResponse:
        self.arithmetic.directions.delete(request.name)
        return pb.DeleteDirectionResponse()
