"""Vector messages built from wire bytes are the messages protobuf itself builds from the values."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.vectors import vector_message

CASES = {
    "empty": np.zeros(0, dtype=np.float32),
    "one": np.array([1.5], dtype=np.float32),
    "fc7": np.random.default_rng(0).normal(size=4096).astype(np.float32),
    "2-d": np.arange(12, dtype=np.float32).reshape(3, 4),  # flattened
    "float64": np.random.default_rng(1).normal(size=1280),  # cast to float32
    "specials": np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4e38], dtype=np.float32),
    "list": [0.25, -2.0, 7.0],
    "long": np.ones(40_000, dtype=np.float32),  # a length needing a 3-byte varint
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_message_as_built_from_a_list(name):
    values = np.asarray(CASES[name], dtype=np.float32).reshape(-1)
    ours = vector_message(CASES[name])
    reference = pb.Vector(values=values.tolist())
    assert ours.SerializeToString() == reference.SerializeToString()
    got = np.asarray(ours.values, dtype=np.float32)
    assert got.tobytes() == values.tobytes()


def test_fits_into_parent_messages():
    vector = CASES["fc7"]
    query = pb.Query(vector=vector_message(vector))
    parsed = pb.Query.FromString(query.SerializeToString())
    assert parsed.WhichOneof("kind") == "vector"
    assert np.asarray(parsed.vector.values, dtype=np.float32).tobytes() == vector.tobytes()
