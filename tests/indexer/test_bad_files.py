"""Every accepted format and mode is indexed as the picture a person sees; every bad file is skipped
with its path and a reason, and the run still succeeds.

Expected pictures are built here from the pixels written (not by decoding the files), and the
stored vectors are compared with the embedding of those pictures.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentspace.indexer.images import MAX_PIXELS, ImageRejected, RejectReason, decode_image

SIZE = (96, 72)
ORIENTATION = 0x0112


# -- building files ------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, *, bit_depth: int = 8, colour: int = 2, idat: bytes | None = None) -> bytes:
    """A PNG with a correct IHDR (valid CRC) for any claimed size, with or without pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    body = png_chunk(b"IHDR", ihdr) + (png_chunk(b"IDAT", idat) if idat is not None else b"")
    return b"\x89PNG\r\n\x1a\n" + body + png_chunk(b"IEND", b"")


def bomb_png() -> bytes:
    """A real, complete 1-bit PNG just over Pillow's decompression-bomb limit (small on disk)."""
    width = 10_000
    height = MAX_PIXELS // width + 1
    row = b"\x00" + b"\x00" * (width // 8)
    return png_bytes(width, height, bit_depth=1, colour=0, idat=zlib.compress(row * height, 9))


def stored_for_orientation(upright: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels a camera stores so that EXIF ``orientation`` displays ``upright`` (EXIF 2.3, 4.6.4)."""
    return {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # rotated 180°
        4: lambda a: a[::-1],  # mirrored top-bottom
        5: lambda a: a.transpose(1, 0, 2),  # row 0 = left side, column 0 = top
        6: lambda a: np.rot90(a, 1),  # row 0 = right side, column 0 = top: display turns it 90° clockwise
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # row 0 = right side, column 0 = bottom
        8: lambda a: np.rot90(a, -1),  # row 0 = left side, column 0 = bottom
    }[orientation](upright).copy()


def with_orientation(upright: Image.Image, orientation: int, fmt: str = "PNG", encode=None) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    stored = Image.fromarray(stored_for_orientation(np.asarray(upright), orientation))
    return encode(stored, fmt, exif=exif)


def over_white(rgba: Image.Image) -> Image.Image:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba.convert("RGBA")).convert("RGB")


def alpha_ramp(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.tile(np.linspace(0, 255, w), (h, 1)).astype(np.uint8)


def build_good_files(root: Path, draw, encode) -> dict[str, Image.Image]:
    """Writes one file per format and mode; returns {relative path: the upright RGB picture it shows}."""
    photo = draw(1, (200, 40, 30), SIZE)
    expected: dict[str, Image.Image] = {}

    def put(rel: str, data: bytes, shows: Image.Image) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[rel] = shows.convert("RGB")

    put("formats/photo.png", encode(photo, "PNG"), photo)
    put("formats/photo.bmp", encode(photo, "BMP"), photo)
    put("formats/photo.tif", encode(photo, "TIFF", compression="tiff_deflate"), photo)
    put("formats/photo.webp", encode(photo, "WEBP", lossless=True), photo)
    jpeg = encode(photo, "JPEG", quality=90)
    put("formats/photo.jpg", jpeg, Image.open(io.BytesIO(jpeg)).convert("RGB"))
    frames = [draw(10 + i, (40, 60, 200), SIZE).quantize(64) for i in range(3)]
    put("formats/animated.gif", encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0),
        frames[0])

    grey = photo.convert("L")
    put("modes/grey_L.png", encode(grey, "PNG"), grey)
    palette = photo.quantize(32)
    put("modes/palette_P.png", encode(palette, "PNG"), palette)
    shown = np.asarray(palette.convert("RGB")).copy()
    shown[np.asarray(palette) == 0] = 255  # index 0 is transparent: white shows through
    put("modes/palette_P_transparent.png", encode(palette, "PNG", transparency=0), Image.fromarray(shown))
    rgba = Image.fromarray(np.dstack([np.asarray(photo), alpha_ramp(SIZE)]), "RGBA")
    put("modes/rgba.png", encode(rgba, "PNG"), over_white(rgba))
    la = Image.fromarray(np.dstack([np.asarray(grey), alpha_ramp(SIZE)[:, ::-1]]), "LA")
    put("modes/la.png", encode(la, "PNG"), over_white(la))
    grey16 = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)  # full 16-bit range
    assert grey16.mode == "I;16"
    put("modes/grey_I16.png", encode(grey16, "PNG"), grey)
    put("modes/cmyk.jpg", encode(photo.convert("CMYK"), "JPEG", quality=95), photo)  # lossy: not compared exactly

    for orientation in range(2, 9):
        put(f"exif/orientation_{orientation}.png", with_orientation(photo, orientation, encode=encode), photo)
    return expected


def build_bad_files(root: Path, draw, encode) -> dict[str, str]:
    """Writes every kind of bad file; returns {relative path: the reason code it must get}."""
    photo = draw(2, (40, 170, 60), SIZE)
    jpeg = encode(photo, "JPEG")
    files = {
        "bad/corrupt.jpg": (np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes(), "not-an-image"),
        "bad/truncated.jpg": (jpeg[: len(jpeg) // 2], "truncated"),
        "bad/empty.png": (b"", "empty"),
        "bad/notes.png": (b"shopping list\n- eggs\n- flour\n" * 20, "not-an-image"),
        "bad/drawing.png": (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
            b'<rect width="64" height="64" fill="red"/></svg>',
            "not-an-image",
        ),
        "bad/huge_header.png": (png_bytes(100_000, 100_000, idat=zlib.compress(b"\x00" * 100)), "too-large"),
        "bad/bomb.png": (bomb_png(), "too-large"),
    }
    for rel, (data, _) in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: reason for rel, (_, reason) in files.items()}


SKIP_LINE = re.compile(r"^skipped (?P<path>.+?): (?P<reason>[a-z-]+): (?P<message>.+)$", re.MULTILINE)


def skipped_lines(stderr: str) -> dict[str, tuple[str, str]]:
    return {m["path"]: (m["reason"], m["message"]) for m in SKIP_LINE.finditer(stderr)}


# -- the command on a mixed corpus ---------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, draw, encode_image, index_run, export):
    root = tmp_path_factory.mktemp("mixed")
    corpus = root / "corpus"
    good = build_good_files(corpus, draw, encode_image)
    bad = build_bad_files(corpus, draw, encode_image)
    index = root / "idx"
    first = index_run(corpus, index)
    data = export(index)
    second = index_run(corpus, index)
    return corpus.resolve(), good, bad, first, data, second, export(index, root / "second.npz")


def test_every_good_file_is_indexed(mixed):
    corpus, good, _, first, data, _, _ = mixed
    assert first.code == 0, first.text
    assert sorted(data["paths"].tolist()) == sorted(str(corpus / rel) for rel in good)
    assert f"indexed {len(good)} new, 0 changed" in first.out
    labels = dict(zip(data["paths"].tolist(), data["labels"].tolist()))
    assert labels[str(corpus / "exif/orientation_6.png")] == "exif"


def test_every_bad_file_is_reported_with_path_and_reason(mixed):
    corpus, _, bad, first, _, _, _ = mixed
    reported = skipped_lines(first.err)
    assert {p: r for p, (r, _) in reported.items()} == {str(corpus / rel): reason for rel, reason in bad.items()}
    assert "Traceback" not in first.err
    counts = {}
    for reason in bad.values():
        counts[reason] = counts.get(reason, 0) + 1
    summary = ", ".join(f"{r}: {n}" for r, n in sorted(counts.items()))
    assert f"skipped {len(bad)} ({summary})" in first.out


def test_stored_vectors_show_the_upright_rgb_picture(mixed, random_embedder):
    """Formats, modes, transparency, 16-bit and EXIF orientation all reach the network as expected."""
    corpus, good, _, _, data, _, _ = mixed
    exact = {rel: image for rel, image in good.items() if not rel.endswith("cmyk.jpg")}
    expected = random_embedder.embed_images(list(exact.values()))
    row_of = {p: i for i, p in enumerate(data["paths"].tolist())}
    for rel, vector in zip(exact, expected):
        stored = data["vectors"][row_of[str(corpus / rel)]]
        assert np.abs(stored - vector).max() <= 1e-5, rel


def test_rerun_adds_nothing_and_reports_bad_files_again(mixed):
    corpus, good, bad, _, data, second, data2 = mixed
    assert second.code == 0, second.text
    assert f"indexed 0 new, 0 changed, {len(good)} unchanged, 0 pruned; skipped {len(bad)}" in second.out
    assert len(skipped_lines(second.err)) == len(bad)
    np.testing.assert_array_equal(data2["ids"], data["ids"])
    np.testing.assert_array_equal(data2["vectors"], data["vectors"])


def test_list_corpus_reports_other_suffixes_missing_files_and_folders(tmp_path, draw, encode_image, index_run, export):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "ok.png").write_bytes(encode_image(draw(3, (30, 60, 200), SIZE), "PNG"))
    (tmp_path / "imgs" / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    (tmp_path / "imgs" / "readme.txt").write_text("not a picture")
    (tmp_path / "imgs" / "ppm.ppm").write_bytes(encode_image(draw(4, (30, 60, 200), SIZE), "PPM"))
    (tmp_path / "imgs" / "a-folder.png").mkdir()
    listing = tmp_path / "list.txt"
    listing.write_text("# corpus\nimgs/ok.png\n\nimgs/drawing.svg\nimgs/readme.txt\nimgs/ppm.ppm\nimgs/gone.jpg\nimgs/a-folder.png\n")
    result = index_run(listing, tmp_path / "idx")
    assert result.code == 0, result.text
    base = tmp_path.resolve() / "imgs"
    reported = {p: r for p, (r, _) in skipped_lines(result.err).items()}
    assert reported == {
        str(base / "drawing.svg"): "not-an-image",
        str(base / "readme.txt"): "not-an-image",
        str(base / "ppm.ppm"): "unsupported-format",
        str(base / "gone.jpg"): "unreadable",
        str(base / "a-folder.png"): "unreadable",
    }
    assert export(tmp_path / "idx")["paths"].tolist() == [str(base / "ok.png")]


# -- decode_image, one reason at a time ----------------------------------------------------------


@pytest.fixture(scope="module")
def photo(draw) -> Image.Image:
    return draw(5, (200, 40, 30), SIZE)


def reject(data: bytes, **kwargs) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, **kwargs)
    return caught.value


def test_empty(photo):
    assert reject(b"").reason is RejectReason.EMPTY


@pytest.mark.parametrize("data", [b"hello world" * 10, b'<svg xmlns="http://www.w3.org/2000/svg"/>', bytes(range(256)) * 4, b"%PDF-1.4\n"])
def test_not_an_image(data):
    assert reject(data).reason is RejectReason.NOT_AN_IMAGE


@pytest.mark.parametrize("fmt", ["PPM", "ICO", "TGA", "PCX"])
def test_unsupported_format(fmt, photo, encode_image):
    error = reject(encode_image(photo, fmt))
    assert error.reason is RejectReason.UNSUPPORTED_FORMAT
    assert "allowed formats" in str(error)


def test_too_large_from_the_header_alone():
    error = reject(png_bytes(100_000, 100_000))
    assert error.reason is RejectReason.TOO_LARGE


def test_too_large_just_over_the_bomb_limit():
    """Pillow only warns between its limit and twice it: that warning is a refusal, never printed."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        error = reject(bomb_png())
    assert error.reason is RejectReason.TOO_LARGE
    assert f"{MAX_PIXELS:,}" in str(error)
    assert [w for w in shown if issubclass(w.category, Image.DecompressionBombWarning)] == []


def test_max_pixels_is_a_parameter(photo, encode_image):
    data = encode_image(photo, "PNG")
    assert reject(data, max_pixels=SIZE[0] * SIZE[1] - 1).reason is RejectReason.TOO_LARGE
    assert decode_image(data, max_pixels=SIZE[0] * SIZE[1]).image.size == SIZE


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "BMP", "TIFF"])
@pytest.mark.parametrize("fraction", [0.5, 0.95])
def test_truncated(fmt, fraction, photo, encode_image):
    data = encode_image(photo, fmt)
    assert reject(data[: int(len(data) * fraction)]).reason is RejectReason.TRUNCATED


def test_truncated_inside_the_jpeg_header(photo, encode_image):
    assert reject(encode_image(photo, "JPEG")[:300]).reason is RejectReason.TRUNCATED


def test_corrupt_png_data_is_not_called_truncated():
    """Complete file, garbage compressed stream: the data is corrupt, nothing is missing."""
    error = reject(png_bytes(10, 10, idat=b"garbage!" * 20))
    assert error.reason is RejectReason.CORRUPT


def test_corrupt_png_pixels(photo, encode_image):
    data = bytearray(encode_image(photo, "PNG"))
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(200)  # inside IDAT: the chunk CRC and zlib stream break
    assert reject(bytes(data)).reason is RejectReason.CORRUPT


def test_corrupt_jpeg_huffman_table(photo, encode_image):
    data = bytearray(encode_image(photo, "JPEG"))
    dht = data.find(b"\xff\xc4")  # first Huffman table: make its code counts impossible
    data[dht + 5 : dht + 21] = b"\xff" * 16
    assert reject(bytes(data)).reason is RejectReason.CORRUPT


def test_corrupt_header(photo, encode_image):
    data = bytearray(encode_image(photo, "BMP"))
    data[28:30] = struct.pack("<H", 7)  # 7 bits per pixel
    assert reject(bytes(data)).reason is RejectReason.CORRUPT


def test_rejection_is_a_value_error_with_a_message():
    error = reject(b"")
    assert isinstance(error, ValueError) and str(error)


# -- decode_image, what the good files become ----------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_upright_picture(orientation, photo, encode_image, random_embedder):
    decoded = decode_image(with_orientation(photo, orientation, encode=encode_image))
    np.testing.assert_array_equal(np.asarray(decoded.image), np.asarray(photo))
    assert (decoded.width, decoded.height) == SIZE
    vectors = random_embedder.embed_images([decoded.image, photo])
    assert np.abs(vectors[0] - vectors[1]).max() <= 1e-5


def test_exif_orientation_in_a_jpeg(photo, encode_image):
    """JPEG is lossy, so compare loosely: the upright picture is far closer than the stored one."""
    data = with_orientation(photo, 6, "JPEG", encode=lambda im, fmt, **kw: encode_image(im, fmt, quality=95, **kw))
    decoded = np.asarray(decode_image(data).image, dtype=float)
    assert decoded.shape == (SIZE[1], SIZE[0], 3)
    upright = np.asarray(photo, dtype=float)
    assert np.abs(decoded - upright).mean() < 0.5 * np.abs(decoded - upright[::-1, ::-1]).mean()


def test_sixteen_bit_grey_is_scaled_not_clipped(photo, random_embedder):
    grey = np.asarray(photo.convert("L"))
    image = Image.fromarray(grey.astype(np.uint16) * 257)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    decoded = decode_image(buffer.getvalue())
    np.testing.assert_array_equal(np.asarray(decoded.image), np.asarray(Image.fromarray(grey).convert("RGB")))
    vectors = random_embedder.embed_images([decoded.image, Image.fromarray(grey).convert("RGB")])
    assert np.abs(vectors[0] - vectors[1]).max() <= 1e-5


def test_dark_sixteen_bit_grey_stays_dark(encode_image):
    """A 16-bit image whose values are all under 256 is nearly black, not an 8-bit image."""
    values = np.tile(np.arange(0, 256, 2, dtype=np.uint16), (8, 1))  # 0..254 out of 65535
    decoded = decode_image(encode_image(Image.fromarray(values), "PNG"))
    assert np.asarray(decoded.image).max() <= 1


def test_alpha_is_composited_on_white(photo, encode_image):
    alpha = alpha_ramp(SIZE)
    rgba = Image.fromarray(np.dstack([np.asarray(photo), alpha]), "RGBA")
    decoded = np.asarray(decode_image(encode_image(rgba, "PNG")).image, dtype=float)
    a = alpha[..., None] / 255.0
    expected = np.asarray(photo, dtype=float) * a + 255.0 * (1 - a)
    assert np.abs(decoded - expected).max() <= 1.0
    assert (decoded[:, 0] == 255).all(), "fully transparent pixels are white"


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_transparent_colour_key_is_composited_on_white(mode, encode_image):
    """PNG tRNS in L and RGB images marks one colour transparent, as P images mark one index."""
    array = np.zeros((8, 8, 3), dtype=np.uint8)
    array[:, 4:] = 90
    image = Image.fromarray(array).convert(mode)
    key = 0 if mode == "L" else (0, 0, 0)
    decoded = np.asarray(decode_image(encode_image(image, "PNG", transparency=key)).image)
    assert (decoded[:, :4] == 255).all() and (decoded[:, 4:] == 90).all()


def test_cmyk_jpeg_is_not_inverted(photo, encode_image):
    decoded = np.asarray(decode_image(encode_image(photo.convert("CMYK"), "JPEG", quality=95)).image, dtype=float)
    assert np.abs(decoded - np.asarray(photo, dtype=float)).mean() < 10


def test_animated_gif_uses_the_first_frame(draw, encode_image):
    frames = [draw(20 + i, (40, 60, 200), SIZE).quantize(64) for i in range(3)]
    decoded = decode_image(encode_image(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50))
    assert decoded.format == "GIF"
    np.testing.assert_array_equal(np.asarray(decoded.image), np.asarray(frames[0].convert("RGB")))
    assert not np.array_equal(np.asarray(decoded.image), np.asarray(frames[1].convert("RGB")))


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("JPEG", {}), ("PNG", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("GIF", {}), ("TIFF", {})],
)
def test_each_allowed_format_decodes_to_rgb(fmt, params, photo, encode_image):
    decoded = decode_image(encode_image(photo, fmt, **params))
    assert decoded.format == fmt
    assert decoded.image.mode == "RGB" and decoded.image.size == SIZE == (decoded.width, decoded.height)


@pytest.mark.parametrize(
    "exif",
    [b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03", b"Exif\x00\x00" + bytes(range(256)) * 3],
    ids=["cut-short", "garbage"],
)
def test_broken_exif_does_not_reject_a_good_picture(exif, photo, encode_image):
    decoded = decode_image(encode_image(photo, "JPEG", exif=exif))
    assert decoded.image.size == SIZE


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_invalid_orientation_value_is_ignored(value, photo, encode_image):
    exif = Image.Exif()
    exif[ORIENTATION] = value
    np.testing.assert_array_equal(np.asarray(decode_image(encode_image(photo, "PNG", exif=exif)).image), np.asarray(photo))
