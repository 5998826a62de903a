"""Property: whatever bytes arrive, ``decode_image`` returns an upright RGB picture or raises
``ImageRejected``; never another exception, never a warning.

Hypothesis runs derandomized (the same examples every run) with bounded example counts, over
arbitrary bytes and over valid files of every allowed format mutated byte by byte.
"""

from __future__ import annotations

import io
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from latentspace.indexer.images import ALLOWED_FORMATS, DecodedImage, ImageRejected, decode_image

FUZZ = settings(max_examples=500, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _valid_files() -> dict[str, bytes]:
    picture = Image.new("RGB", (24, 16))
    picture.putdata([((x * 11) % 256, (y * 17) % 256, (x * y) % 256) for y in range(16) for x in range(24)])
    files = {}
    for fmt, params in (("PNG", {}), ("JPEG", {"quality": 80}), ("GIF", {}), ("BMP", {}), ("TIFF", {}),
                        ("WEBP", {"lossless": True})):
        buffer = io.BytesIO()
        picture.save(buffer, fmt, **params)
        files[fmt] = buffer.getvalue()
    return files


VALID = _valid_files()


def _check(data: bytes) -> None:
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        try:
            decoded = decode_image(data)
        except ImageRejected as exc:
            assert str(exc) and exc.reason.value
            decoded = None
    if decoded is not None:
        assert isinstance(decoded, DecodedImage) and decoded.format in {*ALLOWED_FORMATS, "MPO"}  # MPO: a JPEG
        assert decoded.image.mode == "RGB" and decoded.image.size == (decoded.width, decoded.height)
        assert decoded.width > 0 and decoded.height > 0
    bombs = [w for w in shown if issubclass(w.category, Image.DecompressionBombWarning)]
    assert bombs == []


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data):
    _check(data)


@st.composite
def _mutated(draw) -> bytes:
    data = bytearray(VALID[draw(st.sampled_from(sorted(VALID)))])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "header"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80]))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "header" and len(data) > 32:  # the sizes and flags live in the first bytes
            data[draw(st.integers(0, 31))] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(_mutated())
def test_mutated_valid_files(data):
    _check(data)


@pytest.mark.parametrize("fmt", sorted(VALID))
def test_the_unmutated_files_decode(fmt):
    assert decode_image(VALID[fmt]).image.size == (24, 16)
