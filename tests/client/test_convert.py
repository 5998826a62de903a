"""The client's one conversion layer, without a server: arguments to requests, responses to models."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.client import Direction, Hit, Item, PathResult, Query, SearchResult, Sheet, Term
from latentspace.client import convert
from latentspace.proto.v1 import latentspace_pb2 as pb


def test_search_options_say_what_the_caller_asked():
    request = convert.search_message(item_id=7, k=3, exclude_self=True, labels=("red", "blue"))
    assert request.query.WhichOneof("kind") == "item_id" and request.query.item_id == 7
    assert (request.options.k, request.options.include_self, list(request.options.labels)) == (3, False, ["red", "blue"])
    kept = convert.search_message(vector=[1.0, 2.0], exclude_self=False)
    assert kept.options.include_self and list(kept.query.vector.values) == [1.0, 2.0]
    assert convert.search_message(b"\x89PNG").query.image == b"\x89PNG"
    with pytest.raises(ValueError, match="exactly one of image, item_id or vector"):
        convert.search_message(b"\x89PNG", item_id=7)


def test_combine_terms_weights_and_methods():
    request = convert.combine_message([3, Term.named("smile", weight=0.5)], [np.ones(2, np.float32)],
                                      method="cosmul", k=4, include_terms=True)
    assert request.method == pb.COMBINE_METHOD_COSMUL and request.options.include_self
    first, second = request.positive
    assert first.query.item_id == 3 and not first.HasField("weight")
    assert second.direction == "smile" and second.weight == 0.5
    assert list(request.negative[0].query.vector.values) == [1.0, 1.0]
    with pytest.raises(ValueError, match="unknown method 'sum'; choose one of add, cosmul, average, best_score"):
        convert.combine_message([3], method="sum")


def test_shift_walk_and_direction_requests_need_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one of direction"):
        convert.shift_message(1)
    shift = convert.shift_message(1, direction="up", alphas=(0, 2), include_start=True)
    assert shift.direction_name == "up" and list(shift.alphas) == [0.0, 2.0] and shift.options.include_self
    walk = convert.walk_message(1, 2, steps=3, slerp=True)
    assert walk.interpolation == pb.INTERPOLATION_SLERP and walk.steps == 3 and not walk.options.include_self
    assert convert.walk_message(1, 2).interpolation == pb.INTERPOLATION_LINEAR
    with pytest.raises(ValueError, match="give exactly one source"):
        convert.direction_message("d", labels=("a", "b"), classes=("c", "d"))
    sets = convert.direction_message("d", positive=[1, 2], negative=[3])
    assert [q.item_id for q in sets.sets.positive] == [1, 2] and [q.item_id for q in sets.sets.negative] == [3]


def test_responses_become_frozen_models():
    hits = pb.SearchResponse(hits=[pb.Hit(id=4, score=0.5, path="a.png", label="red")], metric="cosine")
    assert convert.search_result(hits) == SearchResult((Hit(4, 0.5, "a.png", "red"),), "cosine")
    path = convert.path_result(pb.PathResponse(steps=[pb.PathStep(position=0.25, result=hits)]))
    assert isinstance(path, PathResult) and path[0].position == 0.25 and path[0].ids == [4]
    sheet = convert.sheet(pb.RenderSheetResponse(png=b"png", width=3, height=2, path=pb.PathResponse()))
    assert sheet == Sheet(b"png", 3, 2, PathResult(()))
    assert convert.sheet(pb.RenderSheetResponse(png=b"png", search=hits)).result.ids == [4]

    item = convert.item(pb.Item(id=2, path="p", label="l", sha256="s", width=5, height=6,
                                vector=pb.Vector(values=[1.0, 2.0])))
    assert item == Item(2, "p", "l", "s", 5, 6, None) and item.vector.dtype == np.float32
    assert not item.vector.flags.writeable
    assert convert.item(pb.Item(id=2, stored_file="images/x.png")).stored_file == "images/x.png"
    direction = convert.direction(pb.Direction(name="up", kind="vector", dimension=2, norm=1.0))
    assert direction == Direction("up", "vector", "", 0.0, 2, 1.0) and direction.vector is None


def test_bare_values_read_as_queries():
    assert Query.of(5) == Query(item_id=5)
    assert Query.of(b"bytes").image == b"bytes"
    assert Query.of([1.0, 2.0]).vector.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="a bool is not a query"):
        Query.of(True)
