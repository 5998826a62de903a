"""Every conversion between protobuf messages and the core's dataclasses, each written once.

Requests: ``*_request`` functions turn a message into the core request it carries (a sheet's
inner request goes through the same function as the RPC of its own). Answers: ``*_response`` and
``*_message`` functions turn core results into messages. :func:`deadline` is the caller's time
left. Nothing here decides anything: limits and values are checked by the core, which raises the
exceptions of :mod:`latentspace.server.errors`; a message that names nothing (an empty oneof, an
enum value this server does not know) is InvalidQuery here, since only the wire can express it.
"""

from __future__ import annotations

import grpc
import numpy as np

from latentspace.indexer.item_db import Direction, Item
from latentspace.render.featurevis import Progress
from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.vectors import vector_message
from latentspace.server.arithmetic.requests import (
    CombineRequest,
    DirectionSource,
    DiscoverRequest,
    FromClasses,
    FromLabels,
    FromSets,
    FromVector,
    PathResult,
    ShiftRequest,
    WalkRequest,
    signed_terms,
)
from latentspace.server.errors import InvalidQuery
from latentspace.server.pictures import ItemThumbnail, SearchRequest, Sheet, SheetRequest
from latentspace.server.search.deadline import Deadline
from latentspace.server.search.engine import EngineInfo
from latentspace.server.search.queries import (
    DirectionRef,
    ImageQuery,
    ImageToAdd,
    ItemQuery,
    Named,
    Query,
    SearchOptions,
    SearchResult,
    Source,
    VectorQuery,
    describe,
)
from latentspace.server.visualizations import ClassRef, UnitRef, VisualizeRequest, VisualizeResult

__all__ = [
    "combine_request", "deadline", "discover_request", "direction_message", "direction_source", "images_to_add", "info_response",
    "item_message", "options", "path_response", "query", "render_sheet_response", "search_request",
    "search_response", "sheet_request", "shift_request", "thumbnails_response", "visualize_event",
    "visualize_request", "walk_request",
]

_METHODS = {
    pb.COMBINE_METHOD_UNSPECIFIED: "add",
    pb.COMBINE_METHOD_ADD: "add",
    pb.COMBINE_METHOD_COSMUL: "cosmul",
    pb.COMBINE_METHOD_AVERAGE: "average",
    pb.COMBINE_METHOD_BEST_SCORE: "best_score",
    pb.COMBINE_METHOD_SUM_SCORES: "sum_scores",
}
_INTERPOLATIONS = {
    pb.INTERPOLATION_UNSPECIFIED: "linear",
    pb.INTERPOLATION_LINEAR: "linear",
    pb.INTERPOLATION_SLERP: "slerp",
}


def deadline(context: grpc.ServicerContext) -> Deadline:
    """The client's deadline, for work long enough to check it between stages."""
    return Deadline.after(context.time_remaining())


# -- requests ----------------------------------------------------------------------------------


def _vector(message: pb.Vector) -> np.ndarray:
    return np.asarray(message.values, dtype=np.float32)


def query(message: pb.Query, what: str = "the query") -> Query:
    kind = message.WhichOneof("kind")
    if kind == "image":
        return ImageQuery(message.image)
    if kind == "item_id":
        return ItemQuery(message.item_id)
    if kind == "vector":
        return VectorQuery(_vector(message.vector))
    raise InvalidQuery(f"{what} is empty: set one of image, item_id or vector")


def options(message: pb.SearchOptions) -> SearchOptions:
    def given(field: str) -> float | None:
        return getattr(message, field) if message.HasField(field) else None

    return SearchOptions(k=message.k, include_self=message.include_self, labels=tuple(message.labels),
                         min_score=given("min_score"), max_distance=given("max_distance"), offset=message.offset,
                         hide_duplicates=message.hide_duplicates, diversity=given("diversity"),
                         group_by=message.group_by, group_size=message.group_size)


def search_request(message: pb.SearchRequest) -> SearchRequest:
    """A Search (also carried by RenderSheet)."""
    return SearchRequest(query(message.query), options(message.options))


def _term(message: pb.Term, what: str) -> tuple[Source, float | None]:
    kind = message.WhichOneof("kind")
    if kind == "query":
        source: Source = query(message.query, what)
    elif kind == "direction":
        source = DirectionRef(message.direction)
    else:
        raise InvalidQuery(f"{what} is empty: set a query or a direction name")
    return source, (message.weight if message.HasField("weight") else None)


def combine_request(message: pb.CombineRequest) -> CombineRequest:
    """A Combine (also carried by RenderSheet)."""
    if message.method not in _METHODS:
        raise InvalidQuery(f"unknown method {message.method}; see CombineMethod for the choices")
    terms = signed_terms([_term(t, f"positive {i}") for i, t in enumerate(message.positive, 1)],
                         [_term(t, f"negative {i}") for i, t in enumerate(message.negative, 1)])
    return CombineRequest(terms, _METHODS[message.method], options(message.options))


def _point_term(message: pb.Term, what: str) -> Named:
    """A discovery term: a point or a direction, named for errors; a weight has no meaning there."""
    source, weight = _term(message, what)
    if weight is not None:
        raise InvalidQuery(f"{what}: a weight has no meaning in discover; leave it unset")
    return Named(source, f"{what} ({describe(source)})")


def discover_request(message: pb.DiscoverRequest) -> DiscoverRequest:
    """A Discover (also carried by RenderSheet)."""
    target = _point_term(message.target, "target") if message.HasField("target") else None
    pairs = tuple((_point_term(p.positive, f"context pair {i} positive"),
                   _point_term(p.negative, f"context pair {i} negative")) for i, p in enumerate(message.context, 1))
    return DiscoverRequest(target, pairs, options(message.options))


def shift_request(message: pb.ShiftRequest) -> ShiftRequest:
    """A Shift (also carried by RenderSheet)."""
    kind = message.WhichOneof("direction")
    if kind == "direction_name":
        direction: DirectionRef | VectorQuery = DirectionRef(message.direction_name)
    elif kind == "direction_vector":
        direction = VectorQuery(_vector(message.direction_vector))
    else:
        raise InvalidQuery("no direction: set direction_name or direction_vector")
    return ShiftRequest(query(message.start, "start"), direction, tuple(message.alphas), options(message.options))


def walk_request(message: pb.WalkRequest) -> WalkRequest:
    """A Walk (also carried by RenderSheet)."""
    if message.interpolation not in _INTERPOLATIONS:
        raise InvalidQuery(f"unknown interpolation {message.interpolation}; choose linear or slerp")
    return WalkRequest(query(message.start, "start"), query(message.end, "end"), message.steps,
                       _INTERPOLATIONS[message.interpolation], message.unique, options(message.options))


def sheet_request(message: pb.RenderSheetRequest) -> SheetRequest:
    kind = message.WhichOneof("request")
    if kind == "search":
        return search_request(message.search)
    if kind == "combine":
        return combine_request(message.combine)
    if kind == "shift":
        return shift_request(message.shift)
    if kind == "walk":
        return walk_request(message.walk)
    if kind == "discover":
        return discover_request(message.discover)
    raise InvalidQuery("the sheet names no request: set one of search, combine, discover, shift or walk")


def direction_source(message: pb.CreateDirectionRequest) -> DirectionSource:
    kind = message.WhichOneof("source")
    if kind == "sets":
        return FromSets(tuple(query(q, f"positive {i}") for i, q in enumerate(message.sets.positive, 1)),
                        tuple(query(q, f"negative {i}") for i, q in enumerate(message.sets.negative, 1)),
                        message.sets.learned)
    if kind == "labels":
        return FromLabels(message.labels.positive, message.labels.negative, message.labels.learned)
    if kind == "classes":
        return FromClasses(message.classes.positive, message.classes.negative)
    if kind == "vector":
        return FromVector(_vector(message.vector))
    raise InvalidQuery("the request names no source: set sets, labels, classes or vector")


def visualize_request(message: pb.VisualizeRequest) -> VisualizeRequest:
    kind = message.WhichOneof("objective")
    if kind == "class_name":
        objective = ClassRef(message.class_name)
    elif kind in ("channel", "neuron"):
        unit = getattr(message, kind)
        objective = UnitRef(unit.layer, unit.unit, neuron=kind == "neuron")
    elif kind == "direction":
        objective = DirectionRef(message.direction)
    elif kind == "item_id":
        objective = ItemQuery(message.item_id)
    else:
        raise InvalidQuery("the request names no objective: set one of class_name, channel, neuron, direction "
                           "or item_id")
    return VisualizeRequest(objective, seed=message.seed, steps=message.steps, size=message.size,
                            count=message.count, diversity=message.diversity)


def images_to_add(message: pb.AddImagesRequest) -> list[ImageToAdd]:
    return [ImageToAdd(data=im.data, path=im.path, label=im.label) for im in message.images]


# -- answers -----------------------------------------------------------------------------------


def _hits(hits) -> list[pb.Hit]:
    return [pb.Hit(id=h.id, score=h.score, path=h.path, label=h.label) for h in hits]


def search_response(result: SearchResult) -> pb.SearchResponse:
    return pb.SearchResponse(hits=_hits(result.hits), metric=result.metric,
                             groups=[pb.HitGroup(label=g.label, hits=_hits(g.hits)) for g in result.groups])


def path_response(result: PathResult) -> pb.PathResponse:
    return pb.PathResponse(steps=[pb.PathStep(position=p, result=search_response(r))
                                  for p, r in zip(result.positions, result.rows)])


def item_message(item: Item, vector: np.ndarray | None = None) -> pb.Item:
    message = pb.Item(id=item.id, path=item.path, label=item.label, sha256=item.sha256, width=item.width,
                      height=item.height, stored_file=item.stored_file or "")
    if vector is not None:
        message.vector.CopyFrom(vector_message(vector))
    return message


def direction_message(direction: Direction, *, with_vector: bool) -> pb.Direction:
    vector = np.asarray(direction.vector, dtype=np.float32)
    message = pb.Direction(name=direction.name, kind=direction.kind, description=direction.description,
                           created_at=direction.created_at, dimension=len(vector),
                           norm=float(np.linalg.norm(vector.astype(np.float64))))
    if direction.accuracy is not None:
        message.accuracy = direction.accuracy
    if with_vector:
        message.vector.CopyFrom(vector_message(vector))
    return message


def info_response(info: EngineInfo) -> pb.InfoResponse:
    c = info.config
    return pb.InfoResponse(
        item_count=info.item_count, dimension=info.dimension, model=info.model, layer=info.layer,
        weights=pb.WeightsInfo(choice=info.weights_choice, description=info.weights_description,
                               sha256=info.weights_sha256, pretrained=info.pretrained),
        metric=info.metric, faiss_factory=info.faiss_factory, uses_faiss=info.uses_faiss, device=info.device,
        versions=info.versions,
        limits=pb.Limits(max_k=c.max_k, max_batch_queries=c.max_batch_queries, max_add_images=c.max_add_images,
                         max_ids=c.max_ids, max_message_bytes=c.max_message_bytes,
                         max_thumbnails=c.pictures.max_thumbnails, max_tile_size=c.pictures.max_tile_size,
                         max_picture_pixels=c.pictures.max_picture_pixels,
                         max_visualize_steps=c.visualize.max_steps, max_visualize_size=c.visualize.max_size,
                         max_visualize_count=c.visualize.max_count,
                         max_concurrent_visualizations=c.visualize.max_concurrent),
        search=pb.SearchSettings(nprobe=info.search.nprobe, ef_search=info.search.ef_search,
                                 candidates=info.search.candidates),
    )


def thumbnails_response(thumbnails: list[ItemThumbnail]) -> pb.GetThumbnailsResponse:
    return pb.GetThumbnailsResponse(thumbnails=[pb.Thumbnail(id=t.id, png=t.png, missing_reason=t.missing_reason or "")
                                                for t in thumbnails])


def render_sheet_response(sheet: Sheet) -> pb.RenderSheetResponse:
    response = pb.RenderSheetResponse(png=sheet.png, width=sheet.width, height=sheet.height)
    if isinstance(sheet.result, PathResult):
        response.path.CopyFrom(path_response(sheet.result))
    else:
        response.search.CopyFrom(search_response(sheet.result))
    return response


def visualize_event(event: Progress | VisualizeResult) -> pb.VisualizeResponse:
    """One message of Visualize's stream: a step's progress, or the result."""
    if isinstance(event, Progress):
        return pb.VisualizeResponse(progress=pb.VisualizeProgress(step=event.step, steps=event.steps,
                                                                  value=event.values[0]))
    params = event.params
    return pb.VisualizeResponse(result=pb.VisualizeResult(
        png=list(event.visualization.pictures), value=event.visualization.value, cached=event.visualization.cached,
        description=event.description, model=event.model, steps=params.steps, size=params.size, seed=params.seed))
