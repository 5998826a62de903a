"""The gRPC face of the pictures: GetThumbnails and RenderSheet, messages to core requests and back.

:class:`PictureRpcs` is mixed into :class:`~latentspace.server.service.LatentSpaceService`, whose
handlers parse every request and map every exception to a status in one place; these methods only
translate and call the :class:`~latentspace.server.sheets.PictureEngine` in ``self.pictures``. The
request a sheet carries is parsed exactly as its own RPC parses it.
"""

from __future__ import annotations

import grpc
import numpy as np

from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.server.arith_queries import PathResult
from latentspace.server.arith_service import (
    combine_request,
    path_response,
    search_response,
    shift_request,
    walk_request,
)
from latentspace.server.deadline import Deadline
from latentspace.server.errors import InvalidQuery
from latentspace.server.queries import ImageQuery, ItemQuery, Query, SearchOptions, VectorQuery
from latentspace.server.sheets import PictureEngine, SearchRequest, SheetRequest

__all__ = ["PictureRpcs"]


def _search_request(message: pb.SearchRequest) -> SearchRequest:
    kind = message.query.WhichOneof("kind")
    if kind == "image":
        query: Query = ImageQuery(message.query.image)
    elif kind == "item_id":
        query = ItemQuery(message.query.item_id)
    elif kind == "vector":
        query = VectorQuery(np.asarray(message.query.vector.values, dtype=np.float32))
    else:
        raise InvalidQuery("the query is empty: set one of image, item_id or vector")
    o = message.options
    return SearchRequest(query, SearchOptions(k=o.k, include_self=o.include_self, labels=tuple(o.labels)))


def _sheet_request(message: pb.RenderSheetRequest) -> SheetRequest:
    kind = message.WhichOneof("request")
    if kind == "search":
        return _search_request(message.search)
    if kind == "combine":
        return combine_request(message.combine)
    if kind == "shift":
        return shift_request(message.shift)
    if kind == "walk":
        return walk_request(message.walk)
    raise InvalidQuery("the sheet names no request: set one of search, combine, shift or walk")


class PictureRpcs:
    """GetThumbnails and RenderSheet; needs ``self.pictures``."""

    pictures: PictureEngine

    def GetThumbnails(self, request: pb.GetThumbnailsRequest, context: grpc.ServicerContext) -> pb.GetThumbnailsResponse:
        found = self.pictures.thumbnails(list(request.ids), request.size,
                                         deadline=Deadline.after(context.time_remaining()))
        return pb.GetThumbnailsResponse(thumbnails=[pb.Thumbnail(id=t.id, png=t.png, missing_reason=t.missing_reason or "")
                                                    for t in found])

    def RenderSheet(self, request: pb.RenderSheetRequest, context: grpc.ServicerContext) -> pb.RenderSheetResponse:
        sheet = self.pictures.render(_sheet_request(request), tile_size=request.tile_size,
                                     title=request.title if request.HasField("title") else None,
                                     deadline=Deadline.after(context.time_remaining()))
        response = pb.RenderSheetResponse(png=sheet.png, width=sheet.width, height=sheet.height)
        if isinstance(sheet.result, PathResult):
            response.path.CopyFrom(path_response(sheet.result))
        else:
            response.search.CopyFrom(search_response(sheet.result))
        return response
