"""``Vector`` messages made straight from float32 arrays, without a Python list in between.

``repeated float values`` is packed on the wire: a tag, a length, then the little-endian float32
values back to back, which is how NumPy holds them already. Parsing that form takes a few
microseconds; filling the field from a list takes about 0.1 ms for 4096 values, paid on every
search by vector, every Embed answer and every vector of GetItems.
"""

from __future__ import annotations

import numpy as np
from google.protobuf.descriptor import FieldDescriptor

from latentspace.proto.v1 import latentspace_pb2 as pb

__all__ = ["vector_message"]

_FIELD = pb.Vector.DESCRIPTOR.fields_by_name["values"]
assert _FIELD.type == FieldDescriptor.TYPE_FLOAT and _FIELD.is_packed, "Vector.values must be a packed repeated float"
_TAG = bytes([(_FIELD.number << 3) | 2])  # wire type 2: length-delimited


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def vector_message(values: np.ndarray | list[float]) -> pb.Vector:
    """A ``Vector`` holding ``values`` as float32, flattened."""
    data = np.ascontiguousarray(values, dtype="<f4").reshape(-1).tobytes()
    return pb.Vector.FromString(_TAG + _varint(len(data)) + data) if data else pb.Vector()
