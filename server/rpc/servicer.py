"""The gRPC face of the engines: each RPC is a message converted in, one core call, converted out.

:class:`LatentSpaceServicer` holds the four engines (search, arithmetic, pictures, visualizations) and nothing
else; parsing requests, counting calls in flight and turning exceptions into statuses are the
interceptors' work (:mod:`latentspace.server.rpc.interceptors`), conversions are
:mod:`latentspace.server.rpc.convert`'s. A new RPC is a method here, its conversions there and
one core method.
"""

from __future__ import annotations

import grpc

from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc
from latentspace.proto.vectors import vector_message
from latentspace.server.arithmetic.engine import ArithmeticEngine
from latentspace.server.pictures import PictureEngine
from latentspace.server.rpc import convert
from latentspace.server.rpc.interceptors import InFlight
from latentspace.server.search.engine import SearchEngine
from latentspace.server.visualizations import VisualizeEngine

__all__ = ["SERVICE", "SERVICE_NAME", "LatentSpaceServicer"]

SERVICE = pb.DESCRIPTOR.services_by_name["LatentSpace"]
SERVICE_NAME = SERVICE.full_name

Context = grpc.ServicerContext


class LatentSpaceServicer(pb_grpc.LatentSpaceServicer):
    """Every RPC of ``latentspace.v1.LatentSpace``; ``in_flight`` counts the calls being handled."""

    def __init__(self, engine: SearchEngine, in_flight: InFlight | None = None) -> None:
        self.engine = engine
        self.arithmetic = ArithmeticEngine(engine)
        self.pictures = PictureEngine(engine, self.arithmetic)
        self.visualizations = VisualizeEngine(engine, self.arithmetic.directions)
        self.in_flight = in_flight if in_flight is not None else InFlight()

    def add_to_server(self, server: grpc.Server) -> None:
        pb_grpc.add_LatentSpaceServicer_to_server(self, server)

    # -- search --------------------------------------------------------------------------------

    def Search(self, request: pb.SearchRequest, context: Context) -> pb.SearchResponse:
        search = convert.search_request(request)
        return convert.search_response(self.engine.search(search.query, search.options,
                                                          deadline=convert.deadline(context)))

    def BatchSearch(self, request: pb.BatchSearchRequest, context: Context) -> pb.BatchSearchResponse:
        queries = [convert.query(q) for q in request.queries]
        results = self.engine.batch_search(queries, convert.options(request.options), deadline=convert.deadline(context))
        return pb.BatchSearchResponse(results=[convert.search_response(r) for r in results])

    def Embed(self, request: pb.EmbedRequest, context: Context) -> pb.EmbedResponse:
        return pb.EmbedResponse(vector=vector_message(self.engine.embed(request.image, deadline=convert.deadline(context))))

    def GetItems(self, request: pb.GetItemsRequest, context: Context) -> pb.GetItemsResponse:
        items, vectors = self.engine.get_items(list(request.ids), with_vectors=request.with_vectors)
        rows = vectors if vectors is not None else [None] * len(items)
        return pb.GetItemsResponse(items=[convert.item_message(item, row) for item, row in zip(items, rows)])

    def ListItems(self, request: pb.ListItemsRequest, context: Context) -> pb.ListItemsResponse:
        items, next_after = self.engine.list_items(after_id=request.after_id, limit=request.limit)
        return pb.ListItemsResponse(items=[convert.item_message(item) for item in items], next_after_id=next_after)

    def AddImages(self, request: pb.AddImagesRequest, context: Context) -> pb.AddImagesResponse:
        added = self.engine.add_images(convert.images_to_add(request), deadline=convert.deadline(context))
        return pb.AddImagesResponse(items=[convert.item_message(item) for item in added])

    def RemoveItems(self, request: pb.RemoveItemsRequest, context: Context) -> pb.RemoveItemsResponse:
        return pb.RemoveItemsResponse(removed_ids=self.engine.remove(list(request.ids)))

    def Info(self, request: pb.InfoRequest, context: Context) -> pb.InfoResponse:
        return convert.info_response(self.engine.info())

    # -- arithmetic ----------------------------------------------------------------------------

    def Combine(self, request: pb.CombineRequest, context: Context) -> pb.SearchResponse:
        return convert.search_response(self.arithmetic.combine(convert.combine_request(request),
                                                               deadline=convert.deadline(context)))

    def Discover(self, request: pb.DiscoverRequest, context: Context) -> pb.SearchResponse:
        return convert.search_response(self.arithmetic.discover(convert.discover_request(request),
                                                                deadline=convert.deadline(context)))

    def Shift(self, request: pb.ShiftRequest, context: Context) -> pb.PathResponse:
        return convert.path_response(self.arithmetic.shift(convert.shift_request(request),
                                                           deadline=convert.deadline(context)))

    def Walk(self, request: pb.WalkRequest, context: Context) -> pb.PathResponse:
        return convert.path_response(self.arithmetic.walk(convert.walk_request(request),
                                                          deadline=convert.deadline(context)))

    def CreateDirection(self, request: pb.CreateDirectionRequest, context: Context) -> pb.Direction:
        created = self.arithmetic.directions.create(request.name, convert.direction_source(request),
                                                    deadline=convert.deadline(context))
        return convert.direction_message(created, with_vector=True)

    def ListDirections(self, request: pb.ListDirectionsRequest, context: Context) -> pb.ListDirectionsResponse:
        return pb.ListDirectionsResponse(directions=[convert.direction_message(d, with_vector=request.with_vectors)
                                                     for d in self.arithmetic.directions.list()])

    def GetDirection(self, request: pb.GetDirectionRequest, context: Context) -> pb.Direction:
        return convert.direction_message(self.arithmetic.directions.get(request.name), with_vector=True)

    def DeleteDirection(self, request: pb.DeleteDirectionRequest, context: Context) -> pb.DeleteDirectionResponse:
        self.arithmetic.directions.delete(request.name)
        return pb.DeleteDirectionResponse()

    # -- pictures ------------------------------------------------------------------------------

    def GetThumbnails(self, request: pb.GetThumbnailsRequest, context: Context) -> pb.GetThumbnailsResponse:
        return convert.thumbnails_response(self.pictures.thumbnails(list(request.ids), request.size,
                                                                    deadline=convert.deadline(context)))

    def RenderSheet(self, request: pb.RenderSheetRequest, context: Context) -> pb.RenderSheetResponse:
        sheet = self.pictures.render(convert.sheet_request(request), tile_size=request.tile_size,
                                     title=request.title if request.HasField("title") else None,
                                     deadline=convert.deadline(context))
        return convert.render_sheet_response(sheet)

    # -- feature visualization -----------------------------------------------------------------

    def Visualize(self, request: pb.VisualizeRequest, context: Context):
        """A stream: the core's events as they come; the work stops when the caller cancels."""
        events = self.visualizations.run(convert.visualize_request(request), deadline=convert.deadline(context),
                                         cancelled=lambda: not context.is_active())
        for event in events:
            yield convert.visualize_event(event)
