"""Bad arithmetic requests get a precise status and a message naming the culprit; the server
keeps serving and nothing stored changes.

Unknown items, directions and labels are NOT_FOUND (they name something the index lacks); a label
filter matching nothing is not an error (no hits, as for Search). Over-limit counts of terms,
strengths and steps are INVALID_ARGUMENT, like the other shapes a request may not take.
"""

from __future__ import annotations

import numpy as np
import pytest

from support.cli import export_arrays
from support.photos import photo_bytes

LIMITS = dict(max_terms=4, max_steps=5, max_alpha=2.0, max_examples=3)


@pytest.fixture
def limited(start_server, small_index):
    from latentspace.client import Client
    from latentspace.server.config import ArithmeticLimits

    running = start_server(small_index, arithmetic=ArithmeticLimits(**LIMITS))
    with Client(running.address) as client:
        client.create_direction("kept", labels=("red", "green"))
        yield client, small_index


def _state(client, index_dir, out):
    exported = export_arrays(index_dir, out)
    directions = [(d.name, d.kind, d.description, d.created_at, d.vector.tobytes())
                  for d in client.list_directions(with_vectors=True)]
    return client.info().item_count, exported, directions


def _cases(client):
    from latentspace.client import Query, Term
    from latentspace.client import errors as e

    dim = client.info().dimension
    zero, nan = np.zeros(dim, np.float32), np.full(dim, np.nan, np.float32)
    some = np.ones(dim, np.float32)
    return [
        # Combine
        (lambda: client.combine([], []), e.InvalidArgument, "empty combination"),
        (lambda: client.combine([1, 2, 3], [4, 5]), e.InvalidArgument, "too many terms: 5 given, at most 4"),
        (lambda: client.combine([1, zero], [2]), e.InvalidArgument, r"positive 2 \(vector\).*all zeros"),
        (lambda: client.combine([1, nan]), e.InvalidArgument, r"positive 2 \(vector\) has a non-finite value"),
        (lambda: client.combine([1], [np.ones(5)]), e.InvalidArgument,
         rf"negative 1 \(vector\) has 5 values; this index holds {dim}-dimensional"),
        (lambda: client.combine([1, 999]), e.NotFound, r"positive 2 \(item 999\): no item with id 999"),
        (lambda: client.combine([1, Term.named("nope")]), e.NotFound,
         r"positive 2 \(direction 'nope'\): no direction named 'nope'; stored directions: kept"),
        (lambda: client.combine([1], [b"not an image"]), e.InvalidArgument, r"negative 1 \(image\): image rejected"),
        (lambda: client.combine([Term.of(1, weight=0.0)]), e.InvalidArgument, r"positive 1 \(item 1\): weight must be"),
        (lambda: client.combine([1], [Term.of(2, weight=-1.0)]), e.InvalidArgument, r"negative 1 \(item 2\): weight"),
        (lambda: client.combine([Term.of(1, weight=float("nan"))]), e.InvalidArgument, "weight must be finite"),
        (lambda: client.combine([1], [1]), e.InvalidArgument, "the terms cancel out"),
        (lambda: client.combine(negative=[1], method="cosmul"), e.InvalidArgument, "cosmul needs a positive term"),
        (lambda: client.combine([1], k=0), e.InvalidArgument, "k must be between 1 and"),
        # Shift
        (lambda: client.shift(1, vector=zero, alphas=[1]), e.InvalidArgument, r"direction \(vector\).*all zeros"),
        (lambda: client.shift(1, vector=some[:7], alphas=[1]), e.InvalidArgument, r"direction \(vector\) has 7 values"),
        (lambda: client.shift(1, direction="nope", alphas=[1]), e.NotFound, "no direction named 'nope'"),
        (lambda: client.shift(999, direction="kept", alphas=[1]), e.NotFound, r"start \(item 999\)"),
        (lambda: client.shift(zero, direction="kept", alphas=[1]), e.InvalidArgument, r"start \(vector\).*all zeros"),
        (lambda: client.shift(1, direction="kept", alphas=[]), e.InvalidArgument, "alphas: give 1 to 5 strengths, got 0"),
        (lambda: client.shift(1, direction="kept", alphas=[0] * 6), e.InvalidArgument, "give 1 to 5 strengths, got 6"),
        (lambda: client.shift(1, direction="kept", alphas=[0, 2.5]), e.InvalidArgument,
         r"alphas\[1\]: strength 2.5 is outside \[-2, 2\]"),
        (lambda: client.shift(1, direction="kept", alphas=[float("nan")]), e.InvalidArgument, r"alphas\[0\]"),
        # Walk
        (lambda: client.walk(1, 2, steps=1), e.InvalidArgument, r"steps: must be an integer in \[2, 5\], got 1"),
        (lambda: client.walk(1, 2, steps=6), e.InvalidArgument, r"steps: must be an integer in \[2, 5\], got 6"),
        (lambda: client.walk(1, 999, steps=3), e.NotFound, r"end \(item 999\): no item with id 999"),
        (lambda: client.walk(Query(vector=some), Query(vector=-some), steps=3, slerp=True), e.InvalidArgument,
         "opposite directions"),
        (lambda: client.walk(1, b"\x89PNG broken", steps=3), e.InvalidArgument, r"end \(image\): image rejected"),
        # Directions
        (lambda: client.create_direction("kept", labels=("red", "blue")), e.AlreadyExists, "'kept' already exists"),
        (lambda: client.create_direction("", labels=("red", "blue")), e.InvalidArgument, "name '' is not allowed"),
        (lambda: client.create_direction("a b", labels=("red", "blue")), e.InvalidArgument, "is not allowed"),
        (lambda: client.create_direction("x" * 65, labels=("red", "blue")), e.InvalidArgument, "1 to 64 characters"),
        (lambda: client.create_direction("café", labels=("red", "blue")), e.InvalidArgument, "is not allowed"),
        (lambda: client.create_direction("d", labels=("red", "purple")), e.NotFound,
         "negative label: no item has label 'purple'; labels in the index: 'blue', 'green', 'red'"),
        (lambda: client.create_direction("d", labels=("red", "red")), e.InvalidArgument, "both 'red'"),
        (lambda: client.create_direction("d", positive=[1, 2], negative=[2, 1]), e.InvalidArgument,
         "same mean direction"),
        (lambda: client.create_direction("d", positive=[1], negative=[]), e.InvalidArgument,
         "negative examples: give at least one"),
        (lambda: client.create_direction("d", positive=[1, 2, 3, 4], negative=[5]), e.InvalidArgument,
         "positive examples: 4 given, at most 3"),
        (lambda: client.create_direction("d", positive=[1], negative=[999]), e.NotFound, r"negative 1 \(item 999\)"),
        (lambda: client.create_direction("d", positive=[1], negative=[zero]), e.InvalidArgument,
         r"negative 1 \(vector\).*all zeros"),
        (lambda: client.create_direction("d", vector=zero), e.InvalidArgument, "all zeros"),
        (lambda: client.create_direction("d", vector=nan), e.InvalidArgument, "non-finite"),
        (lambda: client.create_direction("d", vector=some[:3]), e.InvalidArgument, "has 3 values"),
        (lambda: client.create_direction("d", classes=("tabby", "kitty-cat")), e.NotFound, "no ImageNet class"),
        (lambda: client.get_direction("nope"), e.NotFound, "no direction named 'nope'"),
        (lambda: client.delete_direction("nope"), e.NotFound, "no direction named 'nope'"),
    ]


def test_each_bad_request_is_refused_and_changes_nothing(limited, tmp_path):
    client, index_dir = limited
    before = _state(client, index_dir, tmp_path / "before.npz")
    for call, error, pattern in _cases(client):
        with pytest.raises(error, match=pattern):
            call()
    after = _state(client, index_dir, tmp_path / "after.npz")
    assert after[0] == before[0] and after[2] == before[2]
    for key in ("ids", "vectors", "paths", "labels"):
        np.testing.assert_array_equal(after[1][key], before[1][key])
    # and it still answers
    assert len(client.combine([1, 3], [2], k=3)) == 3
    assert client.combine([1], labels=["no-such-label"]).hits == ()


def test_empty_index_and_wire_level_mistakes(start_server, random_embedder, tmp_path):
    """An empty index is FAILED_PRECONDITION; requests the client library would never send are
    still answered with INVALID_ARGUMENT."""
    import grpc

    from latentspace.client import Client, FailedPrecondition
    from latentspace.indexer import EmbedderInfo, IndexStore
    from latentspace.proto.v1 import latentspace_pb2 as pb
    from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc

    IndexStore.create(tmp_path / "empty", EmbedderInfo.from_embedder(random_embedder)).close()
    running = start_server(tmp_path / "empty")
    with Client(running.address) as client:
        image = photo_bytes(71)
        for call in (lambda: client.combine([image]), lambda: client.shift(image, vector=np.ones(4096), alphas=[0]),
                     lambda: client.walk(image, photo_bytes(72))):
            with pytest.raises(FailedPrecondition, match="holds no items"):
                call()
        # directions from images need no items
        assert client.create_direction("from-images", positive=[image], negative=[photo_bytes(72)]).kind == "sets"
    with grpc.insecure_channel(running.address) as channel:
        stub = pb_grpc.LatentSpaceStub(channel)
        options = pb.SearchOptions(k=3)
        bad = [
            (stub.Combine, pb.CombineRequest(positive=[pb.Term()], options=options), "positive 1 is empty"),
            (stub.Combine, pb.CombineRequest(positive=[pb.Term(query=pb.Query())], options=options),
             "positive 1 is empty"),
            (stub.Combine, pb.CombineRequest(positive=[pb.Term(direction="x")], method=42, options=options),
             "unknown method 42"),
            (stub.Shift, pb.ShiftRequest(start=pb.Query(item_id=1), alphas=[0], options=options), "no direction"),
            (stub.Walk, pb.WalkRequest(start=pb.Query(item_id=1), end=pb.Query(item_id=2), steps=3, interpolation=9,
                                       options=options), "unknown interpolation 9"),
            (stub.CreateDirection, pb.CreateDirectionRequest(name="x"), "names no source"),
        ]
        for rpc, request, text in bad:
            with pytest.raises(grpc.RpcError) as caught:
                rpc(request, timeout=30)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and text in caught.value.details()
