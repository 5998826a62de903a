"""Every kind of bad input, one parametrized case each, through the gRPC API and through the indexer.

Each gRPC case is sent to a running server and must get its expected status and a message with
the expected words; afterwards the server still answers SERVING and what is stored is exactly what
was there before (item count, the exported ids, vectors, paths and labels, the images folder), and
nothing was printed as a warning. Images that must be accepted (animated GIF, CMYK, 16-bit,
palette with transparency, every EXIF orientation) must embed to the picture a person sees.
The image cases are also put in a corpus for ``latentspace index``, which must skip the bad ones
with their reason and store the good ones with those same vectors.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
from PIL import Image

from support.cli import export_arrays
from support.photos import draw_photo, photo_bytes

LIMITS = dict(max_k=50, max_batch_queries=4, max_add_images=3, max_ids=20, max_message_bytes=1 << 20)
SIZE = (96, 72)
SERVICE = "/latentspace.v1.LatentSpace/"


# -- image bytes ---------------------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png(width: int, height: int, *, bit_depth: int = 8, colour: int = 2, idat: bytes = b"") -> bytes:
    """A PNG whose header (valid CRC) claims any size."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + (_png_chunk(b"IDAT", idat) if idat else b"")
            + _png_chunk(b"IEND", b""))


def _bomb() -> bytes:
    """A complete 1-bit PNG just over Pillow's decompression-bomb limit, where Pillow only warns."""
    from latentspace.indexer.images import MAX_PIXELS

    width = 10_000
    height = MAX_PIXELS // width + 1
    return _png(width, height, bit_depth=1, colour=0, idat=zlib.compress((b"\x00" * (1 + width // 8)) * height, 9))


def _psd() -> bytes:
    """A minimal RGB Photoshop file (Pillow reads PSD but cannot write it)."""
    return (b"8BPS" + struct.pack(">H", 1) + b"\0" * 6 + struct.pack(">HIIHH", 3, 8, 8, 8, 3)
            + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + bytes(3 * 64))


def _photo() -> Image.Image:
    return draw_photo(5, (200, 40, 30), SIZE)


def _oriented(orientation: int) -> bytes:
    """A PNG whose pixels are stored so that EXIF ``orientation`` shows :func:`_photo` upright."""
    upright = np.asarray(_photo())
    stored = {
        1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, 1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2), 8: lambda a: np.rot90(a, -1),
    }[orientation](upright)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(Image.fromarray(np.ascontiguousarray(stored)), "PNG", exif=exif)


def _animated() -> tuple[bytes, Image.Image]:
    frames = [draw_photo(20 + i, (40, 60, 200), SIZE).quantize(64) for i in range(3)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0), frames[0]


def _palette_transparent() -> tuple[bytes, Image.Image]:
    palette = _photo().quantize(32)
    shown = np.asarray(palette.convert("RGB")).copy()
    shown[np.asarray(palette) == 0] = 255  # index 0 is transparent: white shows through
    return _encode(palette, "PNG", transparency=0), Image.fromarray(shown)


def _sixteen_bit() -> tuple[bytes, Image.Image]:
    grey = _photo().convert("L")
    return _encode(Image.fromarray(np.asarray(grey).astype(np.uint16) * 257), "PNG"), grey


def _other_format(fmt: str) -> bytes:
    image = _photo()
    if fmt in ("XBM", "MSP"):
        image = image.convert("1")
    elif fmt == "SPIDER":
        image = image.convert("F")
    elif fmt == "ICO":
        image = image.resize((32, 32))
    return _psd() if fmt == "PSD" else _encode(image, fmt)


REJECTED_FORMATS = ("PPM", "ICO", "TGA", "PCX", "SGI", "XBM", "DDS", "QOI", "JPEG2000", "MSP", "EPS", "SPIDER",
                    "ICNS", "AVIF", "PSD")  # not IM: Pillow warns that it is deprecated

# name -> (bytes, the reason it is rejected for, or None when accepted)
BAD_IMAGES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "random-bytes": lambda: (np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "not-an-image"),
    "empty-bytes": lambda: (b"", "empty"),
    "text": lambda: (b"shopping list\n- eggs\n" * 20, "not-an-image"),
    "truncated-jpeg": lambda: (photo_bytes(3, fmt="JPEG")[:900], "truncated"),
    "truncated-png": lambda: (photo_bytes(3)[:-400], "truncated"),
    "png-claims-100000x100000": lambda: (_png(100_000, 100_000, idat=zlib.compress(b"\0" * 100)), "too-large"),
    "decompression-bomb": lambda: (_bomb(), "too-large"),
    "corrupt-png-data": lambda: (_png(10, 10, idat=b"garbage!" * 20), "corrupt"),
    "gif-header-only": lambda: (b"GIF89a broken", "not-an-image"),
    "svg": lambda: (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                    b'<rect width="64" height="64" fill="red"/></svg>', "not-an-image"),
    **{f"format-{fmt.lower()}": (lambda fmt=fmt: (_other_format(fmt), "unsupported-format")) for fmt in REJECTED_FORMATS},
}

# name -> (bytes, the upright RGB picture it shows; None: compare with the server's own decoding)
GOOD_IMAGES: dict[str, Callable[[], tuple[bytes, Image.Image | None]]] = {
    "animated-gif-first-frame": _animated,
    "cmyk-jpeg": lambda: (_encode(_photo().convert("CMYK"), "JPEG", quality=95), None),
    "sixteen-bit-png": _sixteen_bit,
    "palette-with-transparency": _palette_transparent,
    **{f"exif-orientation-{o}": (lambda o=o: (_oriented(o), _photo())) for o in range(1, 9)},
}


# -- the servers ---------------------------------------------------------------------------------


@dataclass
class Target:
    client: object
    empty: object
    address: str
    index_dir: Path
    ids: list[int]
    dim: int


@pytest.fixture(scope="module")
def target(shared_index, random_embedder, tmp_path_factory):
    from latentspace.client import Client
    from latentspace.indexer import EmbedderInfo, IndexStore
    from latentspace.server.app import create_server

    from support.servers import server_config

    empty_dir = tmp_path_factory.mktemp("empty") / "idx"
    IndexStore.create(empty_dir, EmbedderInfo.from_embedder(random_embedder)).close()
    running = create_server(shared_index, server_config(**LIMITS), embedder=random_embedder)
    empty = create_server(empty_dir, server_config(**LIMITS), embedder=random_embedder)
    try:
        with Client(running.address) as client, Client(empty.address) as empty_client:
            exported = export_arrays(shared_index, tmp_path_factory.mktemp("battery") / "start.npz")
            yield Target(client, empty_client, running.address, shared_index, exported["ids"].tolist(),
                         exported["vectors"].shape[1])
    finally:
        running.stop(grace=1.0)
        empty.stop(grace=1.0)


def _stored(target: Target, out: Path) -> tuple[int, dict[str, np.ndarray], list[str]]:
    images = target.index_dir / "images"
    return (target.client.info().item_count, export_arrays(target.index_dir, out),
            sorted(p.name for p in images.iterdir()) if images.exists() else [])


@pytest.fixture(scope="module")
def baseline(target, tmp_path_factory):
    return _stored(target, tmp_path_factory.mktemp("baseline") / "before.npz")


@pytest.fixture
def unchanged(target, baseline, tmp_path, capfd):
    """After the case: still SERVING, nothing stored changed, no warning printed."""
    yield
    assert target.client.health() == "SERVING"
    count, exported, images = _stored(target, tmp_path / "after.npz")
    assert count == baseline[0] and images == baseline[2]
    for key in ("ids", "vectors", "paths", "labels"):
        np.testing.assert_array_equal(exported[key], baseline[1][key])
    err = capfd.readouterr().err
    assert "Warning" not in err and "Traceback" not in err, err


# -- image cases over gRPC -----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_bad_image_is_refused(name, target, unchanged):
    from latentspace import client as ls
    from latentspace.client import NewImage

    data, reason = BAD_IMAGES[name]()
    with pytest.raises(ls.InvalidArgument) as caught:
        target.client.search(data, k=3)
    assert f"image rejected ({reason})" in caught.value.message, caught.value.message
    with pytest.raises(ls.InvalidArgument) as caught:  # an add of it together with a good image stores neither
        target.client.add_images([NewImage(photo_bytes(9), "good.png"), NewImage(data, "bad.png")])
    assert f"image 1: image rejected ({reason})" in caught.value.message


@pytest.fixture(scope="module")
def embed_locally(random_embedder):
    def embed(picture: Image.Image) -> np.ndarray:
        return random_embedder.embed_images([picture.convert("RGB")])[0]

    return embed


@pytest.mark.parametrize("name", list(GOOD_IMAGES))
def test_good_image_is_accepted_as_the_picture_shown(name, target, embed_locally, unchanged):
    from latentspace.indexer import decode_image

    data, shown = GOOD_IMAGES[name]()
    vector = target.client.embed(data)
    expected = embed_locally(shown if shown is not None else decode_image(data).image)
    assert np.abs(vector - expected).max() <= 1e-5
    if name == "cmyk-jpeg":  # not inverted: close to the RGB picture it was made from
        decoded = np.asarray(decode_image(data).image, dtype=float)
        assert np.abs(decoded - np.asarray(_photo(), dtype=float)).mean() < 10
    assert len(target.client.search(data, k=3).hits) == 3


# -- every other field of a request --------------------------------------------------------------


def _vector(target: Target, **changes) -> np.ndarray:
    vector = np.ones(target.dim, dtype=np.float32)
    for position, value in changes.get("at", {}).items():
        vector[position] = value
    return vector


def _raw(target: Target, method: str, request: bytes):
    with grpc.insecure_channel(target.address) as channel:
        return channel.unary_unary(SERVICE + method)(request, timeout=10)


def _not_utf8(message, placeholder: str = "PLACEHOLDER") -> bytes:
    raw = message.SerializeToString()
    assert raw.count(placeholder.encode()) == 1
    return raw.replace(placeholder.encode(), b"bad\xff\xfename!")  # same length: the framing stays valid


def _pb():
    from latentspace.proto.v1 import latentspace_pb2

    return latentspace_pb2


def _new(data: bytes | None = None, path: str = "ok.png", label: str = ""):
    from latentspace.client import NewImage

    return NewImage(photo_bytes(9) if data is None else data, path, label)


# name -> (call(target), expected client error class name or grpc status name, words in the message)
REQUESTS: dict[str, tuple[Callable[[Target], object], str, str]] = {
    # vectors
    "vector-too-short": (lambda t: t.client.search(vector=np.ones(t.dim - 1), k=3), "InvalidArgument", "-dimensional"),
    "vector-too-long": (lambda t: t.client.search(vector=np.ones(t.dim + 1), k=3), "InvalidArgument", "-dimensional"),
    "vector-nan": (lambda t: t.client.search(vector=_vector(t, at={5: np.nan}), k=3), "InvalidArgument", "NaN"),
    "vector-plus-infinity": (lambda t: t.client.search(vector=_vector(t, at={0: np.inf}), k=3), "InvalidArgument",
                             "position 0"),
    "vector-minus-infinity": (lambda t: t.client.search(vector=_vector(t, at={7: -np.inf}), k=3), "InvalidArgument",
                              "position 7"),
    "vector-all-zero": (lambda t: t.client.search(vector=np.zeros(t.dim), k=3), "InvalidArgument", "all zeros"),
    # k
    "k-zero": (lambda t: t.client.search(item_id=t.ids[0], k=0), "InvalidArgument", "between 1 and 50"),
    "k-negative": (lambda t: t.client.search(item_id=t.ids[0], k=-4), "InvalidArgument", "between 1 and 50"),
    "k-beyond-limit": (lambda t: t.client.search(item_id=t.ids[0], k=51), "InvalidArgument", "between 1 and 50"),
    "k-int32-max": (lambda t: t.client.search(vector=np.ones(t.dim), k=2**31 - 1), "InvalidArgument", "between 1 and 50"),
    # ids
    "unknown-id-search": (lambda t: t.client.search(item_id=10_000), "NotFound", "no item with id 10000"),
    "negative-id-search": (lambda t: t.client.search(item_id=-3), "NotFound", "no item with id -3"),
    "unknown-id-get": (lambda t: t.client.get_items([t.ids[0], 10_001]), "NotFound", "10001"),
    "unknown-id-remove": (lambda t: t.client.remove([t.ids[0], 10_002]), "NotFound", "nothing was removed"),
    "duplicate-ids-get": (lambda t: t.client.get_items([t.ids[0], t.ids[1], t.ids[0]]), "InvalidArgument", "duplicate"),
    "duplicate-ids-remove": (lambda t: t.client.remove([t.ids[1], t.ids[1]]), "InvalidArgument", "duplicate"),
    "no-ids": (lambda t: t.client.get_items([]), "InvalidArgument", "no ids"),
    "too-many-ids": (lambda t: t.client.get_items(range(1, 30)), "ResourceExhausted", "limit is 20"),
    "list-limit-zero": (lambda t: _raw(t, "ListItems", _pb().ListItemsRequest(limit=0).SerializeToString()),
                        "INVALID_ARGUMENT", "limit must be between 1 and 20"),
    "list-limit-beyond": (lambda t: list(t.client.iter_items(page_size=21)), "InvalidArgument", "between 1 and 20"),
    # batches and queries
    "too-many-batch-queries": (lambda t: t.client.batch_search([t.ids[0]] * 5, k=3), "ResourceExhausted", "limit is 4"),
    "empty-batch": (lambda t: t.client.batch_search([], k=3), "InvalidArgument", "no queries"),
    "one-bad-query-in-batch": (lambda t: t.client.batch_search([t.ids[0], b"junk"], k=3), "InvalidArgument", "query 1:"),
    "query-with-nothing-set": (lambda t: _raw(t, "Search", _pb().SearchRequest().SerializeToString()),
                               "INVALID_ARGUMENT", "the query is empty"),
    # empty index
    "empty-index-vector": (lambda t: t.empty.search(vector=np.ones(t.dim)), "FailedPrecondition", "no items"),
    "empty-index-image": (lambda t: t.empty.search(photo_bytes(1)), "FailedPrecondition", "no items"),
    "empty-index-batch": (lambda t: t.empty.batch_search([np.ones(t.dim)]), "FailedPrecondition", "no items"),
    # sizes
    "oversize-message": (lambda t: t.client.search(b"\x89PNG" + bytes(2 << 20), k=3), "ResourceExhausted",
                         "larger than max"),
    "too-many-images-in-add": (lambda t: t.client.add_images([_new(path=f"a{i}.png") for i in range(4)]),
                               "ResourceExhausted", "limit is 3"),
    # labels
    "label-escape-char": (lambda t: t.client.add_images([_new(label="bad\x1blabel")]), "InvalidArgument", "U+001B"),
    "label-nul": (lambda t: t.client.add_images([_new(label="a\x00b")]), "InvalidArgument", "U+0000"),
    "label-newline": (lambda t: t.client.add_images([_new(label="two\nlines")]), "InvalidArgument", "U+000A"),
    "label-line-separator": (lambda t: t.client.add_images([_new(label="a\u2028b")]), "InvalidArgument", "U+2028"),
    "label-too-long": (lambda t: t.client.add_images([_new(label="x" * 257)]), "InvalidArgument", "limit is 256"),
    "label-filter-control-char": (lambda t: t.client.search(item_id=t.ids[0], labels=["red\x07"]), "InvalidArgument",
                                  "label filter"),
    "too-many-label-filters": (lambda t: t.client.search(item_id=t.ids[0], labels=[f"l{i}" for i in range(257)]),
                               "ResourceExhausted", "labels in one filter"),
    # paths: metadata only, never a place to write to
    "path-dotdot": (lambda t: t.client.add_images([_new(path="../../evil.jpg")]), "InvalidArgument", "'..'"),
    "path-dotdot-inside": (lambda t: t.client.add_images([_new(path="cats/../../x.png")]), "InvalidArgument", "'..'"),
    "path-dotdot-backslash": (lambda t: t.client.add_images([_new(path="..\\..\\evil.jpg")]), "InvalidArgument", "'..'"),
    "path-absolute": (lambda t: t.client.add_images([_new(path="/etc/x")]), "InvalidArgument", "absolute"),
    "path-windows-drive": (lambda t: t.client.add_images([_new(path="C:\\x.png")]), "InvalidArgument", "absolute"),
    "path-nul": (lambda t: t.client.add_images([_new(path="a\x00b.png")]), "InvalidArgument", "U+0000"),
    "path-too-long": (lambda t: t.client.add_images([_new(path="d/" * 2049)]), "InvalidArgument", "limit is 4096"),
    # bytes that are not what the .proto says
    "path-not-utf8": (lambda t: _raw(t, "AddImages", _not_utf8(_pb().AddImagesRequest(
        images=[_pb().NewImage(data=photo_bytes(9), path="PLACEHOLDER")]))), "INVALID_ARGUMENT", "UTF-8"),
    "label-not-utf8": (lambda t: _raw(t, "AddImages", _not_utf8(_pb().AddImagesRequest(
        images=[_pb().NewImage(data=photo_bytes(9), label="PLACEHOLDER")]))), "INVALID_ARGUMENT", "UTF-8"),
    "label-filter-not-utf8": (lambda t: _raw(t, "Search", _not_utf8(_pb().SearchRequest(
        query=_pb().Query(item_id=1), options=_pb().SearchOptions(k=3, labels=["PLACEHOLDER"])))),
        "INVALID_ARGUMENT", "UTF-8"),
    "not-a-protobuf": (lambda t: _raw(t, "Search", b"\xff\xff\xff\xff not protobuf"), "INVALID_ARGUMENT",
                       "not a valid latentspace.v1.SearchRequest"),
    "unknown-method": (lambda t: _raw(t, "NoSuchMethod", b""), "UNIMPLEMENTED", ""),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_bad_request_is_refused(name, target, unchanged):
    from latentspace import client as ls

    call, expected, words = REQUESTS[name]
    if expected.isupper():  # a raw call: the status itself
        with pytest.raises(grpc.RpcError) as raw:
            call(target)
        assert raw.value.code().name == expected
        message = raw.value.details() or ""
    else:
        with pytest.raises(getattr(ls, expected)) as caught:
            call(target)
        message = caught.value.message
    assert words in message, message


def test_the_battery_is_large():
    assert len(BAD_IMAGES) + len(GOOD_IMAGES) + len(REQUESTS) >= 40


# -- the client's paths never become server paths ------------------------------------------------


def test_added_images_go_under_images_with_server_chosen_names(start_server, small_index, tmp_path, monkeypatch):
    from latentspace import client as ls
    from latentspace.client import Client, NewImage

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root = small_index.parent
    before = {p for p in root.rglob("*")}
    running = start_server(small_index)
    data = photo_bytes(77)
    with Client(running.address) as client:
        for path in ("../../evil.jpg", "/etc/x", str(tmp_path / "abs.png"), "a/../../../evil.png"):
            with pytest.raises(ls.InvalidArgument):
                client.add_images([NewImage(data, path)])
        [item] = client.add_images([NewImage(data, "sub/dir/evil.jpg", "kept")])
    running.stop()
    created = {p for p in root.rglob("*")} - before
    assert {p.relative_to(small_index).as_posix() for p in created if p.is_file() and ".sqlite" not in p.name
            and not p.name.endswith(".faiss")} == {item.stored_file}
    assert re.fullmatch(r"images/[0-9a-f]{64}\.png", item.stored_file)
    assert item.path == "sub/dir/evil.jpg"  # kept as metadata only
    assert (small_index / item.stored_file).read_bytes() == data
    assert not (small_index / "sub").exists() and list(cwd.iterdir()) == []


# -- the same image cases through the indexer ----------------------------------------------------


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, index_cli):
    corpus = tmp_path_factory.mktemp("battery-corpus") / "cases"
    corpus.mkdir()
    for name, build in {**BAD_IMAGES, **GOOD_IMAGES}.items():
        (corpus / f"{name}.png").write_bytes(build()[0])  # the suffix only makes the file found
    index = corpus.parent / "idx"
    result = index_cli(corpus, index)
    assert result.code == 0, result.text
    exported = export_arrays(index, corpus.parent / "export.npz")
    skipped = {Path(m["path"]).stem: m["reason"]
               for m in re.finditer(r"^skipped (?P<path>.+?): (?P<reason>[a-z-]+): ", result.err, re.MULTILINE)}
    vectors = {Path(p).stem: v for p, v in zip(exported["paths"].tolist(), exported["vectors"])}
    return result, skipped, vectors


@pytest.fixture(scope="module")
def index_cli():
    from latentspace.cli.main import main

    import contextlib

    @dataclass
    class Result:
        code: int
        out: str
        err: str

        @property
        def text(self) -> str:
            return self.out + self.err

    def run(corpus: Path, index: Path) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["index", str(corpus), "--index", str(index), "--weights", "random:0", "--workers", "0",
                         "--no-progress"])
        return Result(code, out.getvalue(), err.getvalue())

    return run


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_indexer_skips_the_bad_image_with_its_reason(name, indexed):
    result, skipped, vectors = indexed
    assert skipped.get(name) == BAD_IMAGES[name]()[1]
    assert name not in vectors
    assert "Traceback" not in result.err and "Warning" not in result.err


@pytest.mark.parametrize("name", list(GOOD_IMAGES))
def test_indexer_stores_the_good_image_as_the_picture_shown(name, indexed, embed_locally):
    from latentspace.indexer import decode_image

    _, skipped, vectors = indexed
    data, shown = GOOD_IMAGES[name]()
    assert name not in skipped
    expected = embed_locally(shown if shown is not None else decode_image(data).image)
    assert np.abs(vectors[name] - expected).max() <= 1e-5
