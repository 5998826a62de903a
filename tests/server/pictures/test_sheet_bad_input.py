"""Bad picture requests get status codes that say what to change, and nothing is drawn or cached."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest


@pytest.fixture
def limited(start_server, small_index):
    """A server with small picture limits: 4 thumbnails, tiles up to 256 px, 200,000 pixels per answer."""
    from latentspace.client import Client
    from latentspace.server.config import PictureLimits

    running = start_server(small_index, pictures=PictureLimits(max_thumbnails=4, max_tile_size=256,
                                                                max_picture_pixels=200_000))
    with Client(running.address, timeout=30.0) as client:
        yield running, client


def test_bad_thumbnail_requests(limited):
    from latentspace.client import InvalidArgument, NotFound, ResourceExhausted

    running, client = limited
    with pytest.raises(NotFound, match="no item with id 999"):
        client.thumbnails([1, 999])
    with pytest.raises(ResourceExhausted, match="5 ids in one request; the limit is 4"):
        client.thumbnails([1, 2, 3, 4, 5])
    with pytest.raises(ResourceExhausted, match="ask for at most 3 at a time"):
        client.thumbnails([1, 2, 3, 4], size=256)  # 4 × 256² pixels > 200,000
    with pytest.raises(InvalidArgument, match="duplicate ids"):
        client.thumbnails([2, 2])
    with pytest.raises(InvalidArgument, match="no ids given"):
        client.thumbnails([])
    for size in (8, 257, -1):
        with pytest.raises(InvalidArgument, match=f"size must be 16..256 pixels \\(or 0 for 128\\), got {size}"):
            client.thumbnails([1], size=size)
    assert not (Path(running.engine.store.directory) / "thumbnails").exists(), "nothing was drawn"
    assert len(client.thumbnails([1, 2, 3, 4], size=16)) == 4


def test_bad_sheet_requests(limited):
    from latentspace.client import InvalidArgument, NotFound, ResourceExhausted

    running, client = limited
    with pytest.raises(ResourceExhausted, match=r"the sheet would be 1520×204 = 310080 pixels.*lower k"):
        client.search_sheet(item_id=1, k=10)
    with pytest.raises(ResourceExhausted, match="over the limit of 200000"):
        client.walk_sheet(1, 2, steps=4, k=3)
    with pytest.raises(InvalidArgument, match="tile_size must be 16..256"):
        client.search_sheet(item_id=1, k=2, tile_size=300)
    with pytest.raises(InvalidArgument, match="k must be between 1 and"):
        client.search_sheet(item_id=1, k=0)
    with pytest.raises(NotFound, match="no item with id 999"):
        client.search_sheet(item_id=999, k=2)
    with pytest.raises(InvalidArgument, match="steps: must be an integer in"):
        client.walk_sheet(1, 2, steps=1, k=2)
    with pytest.raises(NotFound, match="no direction named 'nope'"):
        client.shift_sheet(1, direction="nope", alphas=[1], k=2)
    assert not (Path(running.engine.store.directory) / "thumbnails").exists(), "nothing was drawn"
    assert client.search_sheet(item_id=1, k=3).width == 568


def test_malformed_sheet_messages_are_invalid_argument(limited):
    from latentspace.proto.v1 import latentspace_pb2 as pb
    from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc

    running, _ = limited
    with grpc.insecure_channel(running.address) as channel:
        stub = pb_grpc.LatentSpaceStub(channel)
        cases = [
            (pb.RenderSheetRequest(), "names no request"),
            (pb.RenderSheetRequest(search=pb.SearchRequest(options=pb.SearchOptions(k=2))), "the query is empty"),
            (pb.RenderSheetRequest(walk=pb.WalkRequest(start=pb.Query(item_id=1), end=pb.Query(item_id=2), steps=3,
                                                       interpolation=9, options=pb.SearchOptions(k=2))),
             "unknown interpolation"),
            (pb.RenderSheetRequest(shift=pb.ShiftRequest(start=pb.Query(item_id=1), alphas=[1],
                                                         options=pb.SearchOptions(k=2))), "no direction"),
        ]
        for request, message in cases:
            with pytest.raises(grpc.RpcError) as caught:
                stub.RenderSheet(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in caught.value.details()
