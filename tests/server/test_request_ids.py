"""Request ids: each call's id is on its log line, in its trailers and in the client's exception."""

from __future__ import annotations

import io
import json
import logging

import grpc
import pytest

from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc


@pytest.fixture
def json_log():
    """The package's log, as the server writes it with ``--log-format json --log-calls``, into a buffer."""
    from latentspace.server.logs import configure_logging

    package = logging.getLogger("latentspace")
    level = package.level
    buffer = io.StringIO()
    handler = configure_logging("json", calls=True, stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    package.removeHandler(handler)
    package.setLevel(level)


def test_a_failing_call_logs_the_request_id_the_client_exception_carries(server, client, json_log):
    from latentspace.client import NotFound

    client.search(item_id=1, k=2)
    with pytest.raises(NotFound) as failure:
        client.search(item_id=424242, k=2)
    request_id = failure.value.request_id
    assert request_id and request_id in str(failure.value)
    calls = [line for line in json_log() if line["logger"] == "latentspace.server.requests"]
    assert [(c["method"], c["status"]) for c in calls] == [("Search", "OK"), ("Search", "NOT_FOUND")]
    assert calls[1]["request_id"] == request_id
    assert calls[0]["request_id"] != request_id
    assert calls[1]["duration_ms"] >= 0 and calls[1]["level"] == "info"


def test_a_sane_client_id_is_kept_and_returned_an_odd_one_replaced(server, json_log):
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.LatentSpaceStub(channel)
        _, call = stub.Info.with_call(pb.InfoRequest(), metadata=(("x-request-id", "job-7.step:3"),), timeout=30)
        assert dict(call.trailing_metadata())["x-request-id"] == "job-7.step:3"
        _, call = stub.Info.with_call(pb.InfoRequest(), metadata=(("x-request-id", "no spaces " * 3),), timeout=30)
        generated = dict(call.trailing_metadata())["x-request-id"]
    assert generated != "no spaces " * 3 and len(generated) == 32
    assert [line["request_id"] for line in json_log() if line.get("method") == "Info"] == ["job-7.step:3", generated]
