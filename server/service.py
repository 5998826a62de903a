"""The gRPC face of the engine: messages in, engine calls, messages out.

Every RPC goes through :func:`method_handlers`, the one place that parses requests and turns
exceptions into status codes (see ``STATUS_OF``): a request that is not valid protobuf (say, a
string field that is not UTF-8) is INVALID_ARGUMENT, not the INTERNAL that gRPC would give.
The servicer methods themselves only translate.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import grpc
import numpy as np
from google.protobuf.message import DecodeError, Message

from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc
from latentspace.proto.vectors import vector_message
from latentspace.server.arith_engine import ArithmeticEngine
from latentspace.server.arith_service import ArithmeticRpcs
from latentspace.server.arithmetic import QueryError
from latentspace.server.deadline import Deadline
from latentspace.server.engine import SearchEngine
from latentspace.server.errors import (
    AlreadyExists,
    DeadlineExceeded,
    EmptyIndex,
    InvalidQuery,
    NotFound,
    PreconditionFailed,
    ShuttingDown,
    StorageFull,
    TooLarge,
)
from latentspace.server.queries import ImageQuery, ImageToAdd, ItemQuery, Query, SearchOptions, SearchResult, VectorQuery
from latentspace.server.sheet_service import PictureRpcs
from latentspace.server.sheets import PictureEngine

__all__ = ["SERVICE_NAME", "STATUS_OF", "InFlight", "LatentSpaceService", "add_to_server", "method_handlers"]

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["LatentSpace"].full_name

STATUS_OF: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (InvalidQuery, grpc.StatusCode.INVALID_ARGUMENT),
    (QueryError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (EmptyIndex, grpc.StatusCode.FAILED_PRECONDITION),
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StorageFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),  # an RPC in the .proto this server lacks
)
"""Core exceptions and the status each becomes; anything else is INTERNAL (and logged)."""


def _status(exc: BaseException) -> grpc.StatusCode | None:
    for kind, code in STATUS_OF:
        if isinstance(exc, kind):
            return code
    return None


def _query(message: pb.Query) -> Query:
    kind = message.WhichOneof("kind")
    if kind == "image":
        return ImageQuery(message.image)
    if kind == "item_id":
        return ItemQuery(message.item_id)
    if kind == "vector":
        return VectorQuery(np.asarray(message.vector.values, dtype=np.float32))
    raise InvalidQuery("the query is empty: set one of image, item_id or vector")


def _deadline(context: grpc.ServicerContext) -> Deadline:
    """The client's deadline, for work long enough to check it between stages."""
    return Deadline.after(context.time_remaining())


def _options(message: pb.SearchOptions) -> SearchOptions:
    return SearchOptions(k=message.k, include_self=message.include_self, labels=tuple(message.labels))


def _search_response(result: SearchResult) -> pb.SearchResponse:
    return pb.SearchResponse(
        hits=[pb.Hit(id=h.id, score=h.score, path=h.path, label=h.label) for h in result.hits], metric=result.metric
    )


def _item(item, vector: np.ndarray | None = None) -> pb.Item:
    message = pb.Item(id=item.id, path=item.path, label=item.label, sha256=item.sha256, width=item.width,
                      height=item.height, stored_file=item.stored_file or "")
    if vector is not None:
        message.vector.CopyFrom(vector_message(vector))
    return message


class InFlight:
    """Counts calls being handled, so shutdown can wait for them and no longer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0

    def __enter__(self) -> None:
        with self._cond:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        """Calls being handled right now."""
        with self._cond:
            return self._count

    def wait_idle(self, timeout: float | None) -> bool:
        """True once no call is being handled; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


class LatentSpaceService(PictureRpcs, ArithmeticRpcs, pb_grpc.LatentSpaceServicer):
    """Translates each RPC into one :class:`SearchEngine` (or :class:`ArithmeticEngine`, :class:`PictureEngine`) call."""

    def __init__(self, engine: SearchEngine) -> None:
        self.engine = engine
        self.arithmetic = ArithmeticEngine(engine)
        self.pictures = PictureEngine(engine, self.arithmetic)
        self.in_flight = InFlight()

    def Search(self, request: pb.SearchRequest, context: grpc.ServicerContext) -> pb.SearchResponse:
        return _search_response(self.engine.search(_query(request.query), _options(request.options),
                                                   deadline=_deadline(context)))

    def BatchSearch(self, request: pb.BatchSearchRequest, context: grpc.ServicerContext) -> pb.BatchSearchResponse:
        queries = [_query(q) for q in request.queries]
        results = self.engine.batch_search(queries, _options(request.options), deadline=_deadline(context))
        return pb.BatchSearchResponse(results=[_search_response(r) for r in results])

    def Embed(self, request: pb.EmbedRequest, context: grpc.ServicerContext) -> pb.EmbedResponse:
        vector = self.engine.embed(request.image, deadline=_deadline(context))
        return pb.EmbedResponse(vector=vector_message(vector))

    def GetItems(self, request: pb.GetItemsRequest, context: grpc.ServicerContext) -> pb.GetItemsResponse:
        items, vectors = self.engine.get_items(list(request.ids), with_vectors=request.with_vectors)
        rows = vectors if vectors is not None else [None] * len(items)
        return pb.GetItemsResponse(items=[_item(item, row) for item, row in zip(items, rows)])

    def ListItems(self, request: pb.ListItemsRequest, context: grpc.ServicerContext) -> pb.ListItemsResponse:
        items, next_after = self.engine.list_items(after_id=request.after_id, limit=request.limit)
        return pb.ListItemsResponse(items=[_item(item) for item in items], next_after_id=next_after)

    def AddImages(self, request: pb.AddImagesRequest, context: grpc.ServicerContext) -> pb.AddImagesResponse:
        images = [ImageToAdd(data=im.data, path=im.path, label=im.label) for im in request.images]
        return pb.AddImagesResponse(items=[_item(item) for item in self.engine.add_images(images, deadline=_deadline(context))])

    def RemoveItems(self, request: pb.RemoveItemsRequest, context: grpc.ServicerContext) -> pb.RemoveItemsResponse:
        return pb.RemoveItemsResponse(removed_ids=self.engine.remove(list(request.ids)))

    def Info(self, request: pb.InfoRequest, context: grpc.ServicerContext) -> pb.InfoResponse:
        info = self.engine.info()
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
                             max_picture_pixels=c.pictures.max_picture_pixels),
        )


def _unary(name: str, method: Callable, request_type: type[Message], in_flight: InFlight) -> grpc.RpcMethodHandler:
    def handle(raw: bytes, context: grpc.ServicerContext) -> Message:
        with in_flight:
            return _handle(raw, context)

    def _handle(raw: bytes, context: grpc.ServicerContext) -> Message:
        try:
            request = request_type.FromString(raw)
        except DecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"{name}: the request is not a valid {request_type.DESCRIPTOR.full_name} "
                          f"(is every string field valid UTF-8?): {exc}")
        try:
            return method(request, context)
        except Exception as exc:
            code = _status(exc)
            if code is None:
                log.exception("%s failed", name)
                context.abort(grpc.StatusCode.INTERNAL, f"{name}: internal error ({type(exc).__name__}); see the server log")
            context.abort(code, str(exc))

    return grpc.unary_unary_rpc_method_handler(handle, request_deserializer=None,
                                               response_serializer=lambda m: m.SerializeToString())


def method_handlers(servicer: LatentSpaceService) -> dict[str, grpc.RpcMethodHandler]:
    """A handler per RPC of the service descriptor, parsing and mapping errors as described above."""
    handlers = {}
    for method in pb.DESCRIPTOR.services_by_name["LatentSpace"].methods:
        handlers[method.name] = _unary(method.name, getattr(servicer, method.name), getattr(pb, method.input_type.name),
                                       servicer.in_flight)
    return handlers


def add_to_server(servicer: LatentSpaceService, server: grpc.Server) -> None:
    """Register the service (instead of the generated ``add_LatentSpaceServicer_to_server``)."""
    handlers = method_handlers(servicer)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
