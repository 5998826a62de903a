"""Bad requests get a precise status and an actionable message; the server keeps serving and
nothing stored changes."""

from __future__ import annotations

import io

import grpc
import numpy as np
import pytest
from PIL import Image

from support.cli import export_arrays
from support.photos import photo_bytes

LIMITS = dict(max_k=50, max_batch_queries=4, max_add_images=3, max_ids=20, max_message_bytes=1 << 20)


@pytest.fixture
def limited(start_server, small_index):
    from latentspace.client import Client

    running = start_server(small_index, **LIMITS)
    with Client(running.address) as client:
        yield running, client, small_index


def _ppm() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="PPM")
    return buffer.getvalue()


def _state(client, index_dir, out):
    exported = export_arrays(index_dir, out)
    stored = sorted(p.name for p in (index_dir / "images").iterdir()) if (index_dir / "images").exists() else []
    return client.info().item_count, exported, stored


def test_each_bad_request_is_refused_and_changes_nothing(limited, tmp_path):
    from latentspace import client as ls
    from latentspace.client import NewImage

    running, client, index_dir = limited
    count, before, stored = _state(client, index_dir, tmp_path / "before.npz")
    ids = before["ids"].tolist()
    dim = before["vectors"].shape[1]
    good = photo_bytes(1)
    truncated = photo_bytes(2)[:300]
    nan = np.ones(dim, dtype=np.float32)
    nan[5] = np.nan
    inf = np.ones(dim, dtype=np.float32)
    inf[0] = np.inf

    cases = [
        # (call, expected exception, words the message must contain)
        (lambda: client.search(b"", k=3), ls.InvalidArgument, "empty"),
        (lambda: client.search(b"plain text, not a picture", k=3), ls.InvalidArgument, "not an image"),
        (lambda: client.search(_ppm(), k=3), ls.InvalidArgument, "PPM images are not accepted"),
        (lambda: client.search(truncated, k=3), ls.InvalidArgument, "image rejected"),
        (lambda: client.embed(b"GIF89a broken"), ls.InvalidArgument, "image rejected"),
        (lambda: client.search(vector=np.ones(dim - 1), k=3), ls.InvalidArgument, f"{dim}-dimensional"),
        (lambda: client.search(vector=nan, k=3), ls.InvalidArgument, "NaN"),
        (lambda: client.search(vector=inf, k=3), ls.InvalidArgument, "position 0"),
        (lambda: client.search(vector=np.zeros(dim), k=3), ls.InvalidArgument, "all zeros"),
        (lambda: client.search(item_id=ids[0], k=0), ls.InvalidArgument, "between 1 and 50"),
        (lambda: client.search(item_id=ids[0], k=-4), ls.InvalidArgument, "between 1 and 50"),
        (lambda: client.search(item_id=ids[0], k=51), ls.InvalidArgument, "between 1 and 50"),
        (lambda: client.search(item_id=10_000), ls.NotFound, "10000"),
        (lambda: client.batch_search([ids[0]] * 5, k=3), ls.ResourceExhausted, "limit is 4"),
        (lambda: client.batch_search([], k=3), ls.InvalidArgument, "no queries"),
        (lambda: client.batch_search([good, b"junk"], k=3), ls.InvalidArgument, "query 1:"),
        (lambda: client.batch_search([ids[0], 777_777], k=3), ls.NotFound, "query 1: no item with id 777777"),
        (lambda: client.get_items([ids[0], 10_001]), ls.NotFound, "10001"),
        (lambda: client.get_items([ids[0], ids[1], ids[0]]), ls.InvalidArgument, "duplicate"),
        (lambda: client.get_items([]), ls.InvalidArgument, "no ids"),
        (lambda: client.get_items(range(1, 30)), ls.ResourceExhausted, "limit is 20"),
        (lambda: client.remove([ids[0], 10_002]), ls.NotFound, "nothing was removed"),
        (lambda: client.remove([ids[1], ids[1]]), ls.InvalidArgument, "duplicate"),
        (lambda: client.add_images([NewImage(good, f"a{i}.png") for i in range(4)]), ls.ResourceExhausted, "limit is 3"),
        (lambda: client.add_images([NewImage(good, "ok.png"), NewImage(b"junk", "bad.png")]), ls.InvalidArgument, "image 1:"),
        (lambda: client.add_images([NewImage(good, "../escape.png")]), ls.InvalidArgument, "'..'"),
        (lambda: client.add_images([NewImage(good, "cats/../../x.png")]), ls.InvalidArgument, "'..'"),
        (lambda: client.add_images([NewImage(good, "/etc/passwd")]), ls.InvalidArgument, "absolute"),
        (lambda: client.add_images([NewImage(good, "C:\\x.png")]), ls.InvalidArgument, "absolute"),
        (lambda: client.add_images([NewImage(good, "a\x00b.png")]), ls.InvalidArgument, "U+0000"),
        (lambda: client.add_images([NewImage(good, "a\nb.png")]), ls.InvalidArgument, "U+000A"),
        (lambda: client.add_images([NewImage(good, "ok.png", "bad\x1blabel")]), ls.InvalidArgument, "label"),
        (lambda: client.search(b"\x89PNG" + bytes(2 << 20), k=3), ls.ResourceExhausted, "larger than max"),
    ]
    for call, expected, words in cases:
        with pytest.raises(expected) as caught:
            call()
        assert words in caught.value.message, (expected, caught.value.message)
        assert caught.value.code == expected.code
        assert client.health() == "SERVING"

    # The client's own limit is enforced before sending.
    from latentspace.client import Client

    with Client(running.address, max_message_bytes=1 << 16) as small:
        with pytest.raises(ls.ResourceExhausted):
            small.embed(bytes(1 << 17))

    after_count, after, after_stored = _state(client, index_dir, tmp_path / "after.npz")
    assert after_count == count == len(ids)
    assert after_stored == stored == []
    for key in ("ids", "vectors", "paths", "labels"):
        np.testing.assert_array_equal(after[key], before[key])
    assert client.search(item_id=ids[0], k=3).ids  # still answering


def test_string_that_is_not_utf8_is_invalid_argument(limited):
    from latentspace.proto.v1 import latentspace_pb2 as pb

    running, client, _ = limited
    count = client.info().item_count
    message = pb.AddImagesRequest(images=[pb.NewImage(data=photo_bytes(1), path="PLACEHOLDER")]).SerializeToString()
    raw = message.replace(b"PLACEHOLDER", b"bad\xff\xfename!")  # same length: the framing stays valid
    with grpc.insecure_channel(running.address) as channel:
        add = channel.unary_unary("/latentspace.v1.LatentSpace/AddImages")
        with pytest.raises(grpc.RpcError) as caught:
            add(raw, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UTF-8" in caught.value.details()
    assert client.info().item_count == count


