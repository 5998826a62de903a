"""Every conversion between the client's models and the wire messages, each written once.

Requests are built here from the client's arguments and responses read back into the frozen
dataclasses of :mod:`latentspace.client.models`. A search, combine, shift or walk is sent on its
own or inside a RenderSheet request; both use the same builder, so a sheet always shows exactly
what the plain call returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from latentspace.client.models import (
    Direction,
    Hit,
    HitGroup,
    ImageInput,
    IndexInfo,
    Item,
    Limits,
    NewImage,
    PathResult,
    PathStep,
    Query,
    QueryInput,
    SearchResult,
    SearchSettings,
    Sheet,
    Term,
    TermInput,
    Thumbnail,
    Visualization,
    VisualizeProgress,
    WeightsInfo,
    as_vector,
)
from latentspace.client.errors import Internal
from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.vectors import vector_message

__all__ = [
    "METHODS",
    "REFINEMENTS",
    "combine_message",
    "direction",
    "direction_message",
    "directions",
    "discover_message",
    "embedded_vector",
    "index_info",
    "item",
    "item_page",
    "items",
    "new_image_message",
    "nothing",
    "options_message",
    "path_result",
    "query_message",
    "removed_ids",
    "search_message",
    "search_result",
    "search_results",
    "sheet",
    "shift_message",
    "term_message",
    "thumbnails",
    "VisualizeReader",
    "visualize_message",
    "walk_message",
]

METHODS = {
    "add": pb.COMBINE_METHOD_ADD,
    "cosmul": pb.COMBINE_METHOD_COSMUL,
    "average": pb.COMBINE_METHOD_AVERAGE,
    "best_score": pb.COMBINE_METHOD_BEST_SCORE,
    "sum_scores": pb.COMBINE_METHOD_SUM_SCORES,
}
"""The combination methods: 3CosAdd, 3CosMul, Qdrant's average_vector, best_score and sum_scores."""

REFINEMENTS = ("min_score", "max_distance", "offset", "hide_duplicates", "diversity", "group_by", "group_size")
"""Keyword options of search and combine beyond k: thresholds, paging, duplicates, MMR and groups."""


# -- requests -----------------------------------------------------------------------------------


def query_message(query: Query) -> pb.Query:
    if query.image is not None:
        return pb.Query(image=query.image)
    if query.item_id is not None:
        return pb.Query(item_id=query.item_id)
    return pb.Query(vector=vector_message(query.vector))


def options_message(k: int, include: bool, labels: Iterable[str], *, min_score: float | None = None,
                    max_distance: float | None = None, offset: int = 0, hide_duplicates: bool = False,
                    diversity: float | None = None, group_by: str = "", group_size: int = 0) -> pb.SearchOptions:
    """``include``: keep the query's own items (``not exclude_self``, ``include_terms``, ``include_ends``...).

    The rest refine the ranking (see ``SearchOptions`` in the proto); the server checks them all.
    """
    message = pb.SearchOptions(k=k, include_self=include, labels=list(labels), offset=offset,
                               hide_duplicates=hide_duplicates, group_by=group_by, group_size=group_size)
    for field, value in (("min_score", min_score), ("max_distance", max_distance), ("diversity", diversity)):
        if value is not None:
            setattr(message, field, value)
    return message


def term_message(value: TermInput) -> pb.Term:
    term = Term.of(value)
    message = pb.Term(direction=term.direction) if term.direction is not None else pb.Term(query=query_message(term.query))
    if term.weight is not None:
        message.weight = term.weight
    return message


def new_image_message(image: NewImage) -> pb.NewImage:
    return pb.NewImage(data=image.data, path=image.path, label=image.label)


def search_message(
    image: ImageInput | None = None,
    *,
    item_id: int | None = None,
    vector: Sequence[float] | np.ndarray | None = None,
    k: int = 10,
    exclude_self: bool = True,
    labels: Iterable[str] = (),
    **refine,
) -> pb.SearchRequest:
    """``refine``: the keywords of :data:`REFINEMENTS`."""
    query = Query(image=image, item_id=item_id, vector=vector)
    return pb.SearchRequest(query=query_message(query), options=options_message(k, not exclude_self, labels, **refine))


def combine_message(
    positive: Iterable[TermInput] = (),
    negative: Iterable[TermInput] = (),
    *,
    method: str = "add",
    k: int = 10,
    include_terms: bool = False,
    labels: Iterable[str] = (),
    **refine,
) -> pb.CombineRequest:
    """``refine``: the keywords of :data:`REFINEMENTS`."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return pb.CombineRequest(positive=[term_message(t) for t in positive], negative=[term_message(t) for t in negative],
                             method=METHODS[method], options=options_message(k, include_terms, labels, **refine))


def discover_message(
    target: TermInput | None = None,
    context: Iterable[tuple[TermInput, TermInput]] = (),
    *,
    k: int = 10,
    include_terms: bool = False,
    labels: Iterable[str] = (),
    **refine,
) -> pb.DiscoverRequest:
    """``context``: (positive, negative) pairs of terms; ``refine``: the keywords of :data:`REFINEMENTS`."""
    request = pb.DiscoverRequest(context=[pb.ContextPair(positive=term_message(p), negative=term_message(n))
                                          for p, n in context],
                                 options=options_message(k, include_terms, labels, **refine))
    if target is not None:
        request.target.CopyFrom(term_message(target))
    return request


def shift_message(
    start: QueryInput,
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
    start: QueryInput,
    end: QueryInput,
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


def direction_message(
    name: str,
    *,
    positive: Iterable[QueryInput] | None = None,
    negative: Iterable[QueryInput] | None = None,
    labels: tuple[str, str] | None = None,
    classes: tuple[str, str] | None = None,
    vector: Sequence[float] | np.ndarray | None = None,
    learned: str = "",
) -> pb.CreateDirectionRequest:
    """A CreateDirection request from exactly one source: example sets, two labels, two classes or a vector.

    ``learned`` ("probe", "logistic", "fisher", "whitened") fits a linear probe between the sets or
    labels instead of taking the mean difference.
    """
    sets = positive is not None or negative is not None
    given = [n for n, v in (("positive/negative", sets or None), ("labels", labels), ("classes", classes),
                            ("vector", vector)) if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one source: positive and negative, labels, classes or vector (got {given})")
    request = pb.CreateDirectionRequest(name=name)
    if learned and not (sets or labels is not None):
        raise ValueError("learned directions come from positive and negative examples or from labels")
    if sets:
        request.sets.positive.extend(query_message(Query.of(q)) for q in positive or ())
        request.sets.negative.extend(query_message(Query.of(q)) for q in negative or ())
        request.sets.learned = learned
    elif labels is not None:
        request.labels.positive, request.labels.negative = labels
        request.labels.learned = learned
    elif classes is not None:
        request.classes.positive, request.classes.negative = classes
    else:
        request.vector.CopyFrom(vector_message(vector))
    return request


# -- responses ----------------------------------------------------------------------------------


def _hits(hits) -> tuple[Hit, ...]:
    return tuple(Hit(h.id, h.score, h.path, h.label) for h in hits)


def search_result(message: pb.SearchResponse) -> SearchResult:
    return SearchResult(_hits(message.hits), message.metric,
                        tuple(HitGroup(g.label, _hits(g.hits)) for g in message.groups))


def path_result(message: pb.PathResponse) -> PathResult:
    return PathResult(tuple(PathStep(s.position, search_result(s.result)) for s in message.steps))


def item(message: pb.Item) -> Item:
    vector = as_vector(message.vector.values) if message.HasField("vector") else None
    return Item(message.id, message.path, message.label, message.sha256, message.width, message.height,
                message.stored_file or None, vector)


def direction(message: pb.Direction) -> Direction:
    vector = as_vector(message.vector.values) if message.HasField("vector") else None
    accuracy = message.accuracy if message.HasField("accuracy") else None
    return Direction(message.name, message.kind, message.description, message.created_at, message.dimension,
                     message.norm, vector, accuracy)


def search_results(message: pb.BatchSearchResponse) -> list[SearchResult]:
    return [search_result(r) for r in message.results]


def embedded_vector(message: pb.EmbedResponse) -> np.ndarray:
    return as_vector(message.vector.values)


def items(message: pb.GetItemsResponse | pb.AddImagesResponse | pb.ListItemsResponse) -> list[Item]:
    return [item(m) for m in message.items]


def item_page(message: pb.ListItemsResponse) -> tuple[list[Item], int]:
    """A page of items and the ``after_id`` of the next page (0: this was the last)."""
    return items(message), message.next_after_id


def directions(message: pb.ListDirectionsResponse) -> list[Direction]:
    return [direction(m) for m in message.directions]


def removed_ids(message: pb.RemoveItemsResponse) -> list[int]:
    return list(message.removed_ids)


def nothing(message: object) -> None:
    """Responses that carry nothing but their success."""


def index_info(m: pb.InfoResponse) -> IndexInfo:
    w, lim = m.weights, m.limits
    return IndexInfo(
        item_count=m.item_count, dimension=m.dimension, model=m.model, layer=m.layer,
        weights=WeightsInfo(w.choice, w.description, w.sha256, w.pretrained), metric=m.metric,
        faiss_factory=m.faiss_factory, uses_faiss=m.uses_faiss, device=m.device, versions=dict(m.versions),
        limits=Limits(lim.max_k, lim.max_batch_queries, lim.max_add_images, lim.max_ids, lim.max_message_bytes,
                      lim.max_thumbnails, lim.max_tile_size, lim.max_picture_pixels, lim.max_visualize_steps,
                      lim.max_visualize_size, lim.max_visualize_count, lim.max_concurrent_visualizations),
        search=SearchSettings(m.search.nprobe, m.search.ef_search, m.search.candidates) if m.HasField("search") else None,
    )


def thumbnails(message: pb.GetThumbnailsResponse) -> dict[int, Thumbnail]:
    return {t.id: Thumbnail(t.id, t.png, t.missing_reason or None) for t in message.thumbnails}


def sheet(message: pb.RenderSheetResponse) -> Sheet:
    kind = message.WhichOneof("result")
    result = path_result(message.path) if kind == "path" else search_result(message.search)
    return Sheet(message.png, message.width, message.height, result)


def visualize_message(class_name: str | int | None = None, *, layer: str | None = None, unit: int | None = None,
                      neuron: bool = False, direction: str | None = None, item_id: int | None = None, seed: int = 0,
                      steps: int | None = None, size: int | None = None, count: int | None = None,
                      diversity: float = 0.0) -> pb.VisualizeRequest:
    """A Visualize request for exactly one objective; None steps, size and count are the server's defaults."""
    given = [name for name, value in (("class_name", class_name), ("layer", layer), ("direction", direction),
                                      ("item_id", item_id)) if value is not None]
    if len(given) != 1:
        raise ValueError("give exactly one objective: class_name, layer (with unit), direction or item_id"
                         + (f"; got {', '.join(given)}" if given else ""))
    if (layer is None) != (unit is None):
        raise ValueError("layer and unit go together: the unit (channel) of the layer to visualise")
    if neuron and layer is None:
        raise ValueError("neuron=True goes with layer and unit")
    message = pb.VisualizeRequest(seed=int(seed), steps=steps or 0, size=size or 0, count=count or 0,
                                  diversity=float(diversity))
    if class_name is not None:
        message.class_name = str(class_name)
    elif layer is not None:
        getattr(message, "neuron" if neuron else "channel").CopyFrom(pb.LayerUnit(layer=layer, unit=int(unit)))
    elif direction is not None:
        message.direction = direction
    else:
        message.item_id = int(item_id)
    return message


class VisualizeReader:
    """Reads Visualize's stream: each progress message goes to ``progress``, the result is kept."""

    def __init__(self, progress=None) -> None:
        self._progress = progress
        self._result: Visualization | None = None

    def feed(self, message: pb.VisualizeResponse) -> None:
        kind = message.WhichOneof("event")
        if kind == "progress":
            if self._progress is not None:
                p = message.progress
                self._progress(VisualizeProgress(p.step, p.steps, p.value))
        elif kind == "result":
            r = message.result
            self._result = Visualization(tuple(r.png), r.value, r.cached, r.description, r.model, r.steps, r.size,
                                         r.seed)

    def result(self) -> Visualization:
        if self._result is None:
            raise Internal("the server ended the Visualize stream without a result")
        return self._result
