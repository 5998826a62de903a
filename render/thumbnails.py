"""Fixed-size thumbnails, and their cache inside an index directory.

A thumbnail is ``size × size`` RGB: the upright picture scaled so its longer side is ``size``,
centred on a light grey letterbox, so every tile of a sheet has the same shape whatever the
photo's. Pictures are decoded with :func:`latentspace.indexer.images.decode_image`, exactly as
the indexer decodes them (EXIF orientation, alpha, 16-bit and palette modes).

The cache is ``DIR/thumbnails/<sha256>.png``, keyed by the content hash the index stores for
each item, so a sheet is drawn from small PNGs instead of re-decoding full-size photos. Files
appear by atomic rename and are never fsynced: a cache file that cannot be read is redrawn.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import uuid
from pathlib import Path

from PIL import Image, ImageDraw

from latentspace.indexer.images import ImageRejected, decode_image
from latentspace.indexer.item_db import Item
from latentspace.indexer.sources.items import read_key
from latentspace.render.text import draw_centred_lines, font, wrap_text

__all__ = [
    "LETTERBOX",
    "THUMB_SIZE",
    "ThumbnailCache",
    "ThumbnailUnavailable",
    "fill_square",
    "fit_into",
    "item_image_path",
    "read_item_picture",
    "make_thumbnail",
    "picture_box",
    "placeholder",
]

THUMB_SIZE = 128
"""Side of a thumbnail in pixels, and of a tile on a contact sheet."""
LETTERBOX = (236, 236, 236)
"""The bars around a picture that is not square."""
PLACEHOLDER = (150, 150, 150)
PLACEHOLDER_TEXT = (255, 255, 255)
CACHE_FOLDER = "thumbnails"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ThumbnailUnavailable(Exception):
    """An item's picture cannot be shown; ``reason`` is short enough to print on its tile."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fit_into(image: Image.Image, size: int = THUMB_SIZE, *, background: tuple[int, int, int] = LETTERBOX) -> Image.Image:
    """``image`` scaled (up or down, aspect kept) so its longer side is ``size``, centred on ``background``."""
    image = image.convert("RGB")
    left, top, right, bottom = picture_box(*image.size, size)
    new = (right - left, bottom - top)
    resized = image if new == image.size else image.resize(new, Image.Resampling.LANCZOS, reducing_gap=3.0)
    canvas = Image.new("RGB", (size, size), background)
    canvas.paste(resized, (left, top))
    return canvas


def picture_box(width: int, height: int, size: int = THUMB_SIZE) -> tuple[int, int, int, int]:
    """Where :func:`fit_into` puts a ``width × height`` picture inside its ``size × size`` thumbnail."""
    scale = size / max(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    left, top = (size - new[0]) // 2, (size - new[1]) // 2
    return (left, top, left + new[0], top + new[1])


def fill_square(thumbnail: Image.Image, width: int, height: int, size: int) -> Image.Image:
    """A ``size × size`` tile filled edge to edge: the centre square of the picture inside a letterboxed thumbnail.

    ``width × height`` is the original picture's size (items store it), which says where the letterbox bars are.
    """
    left, top, right, bottom = picture_box(width, height, thumbnail.width)
    side = min(right - left, bottom - top)
    x, y = left + (right - left - side) // 2, top + (bottom - top - side) // 2
    return thumbnail.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)


def make_thumbnail(source: bytes | Path | Image.Image, *, size: int = THUMB_SIZE) -> Image.Image:
    """A ``size × size`` thumbnail of image bytes, an image file or an (upright) PIL image.

    Bytes and files are decoded as the indexer decodes them; a picture it would reject raises
    :class:`~latentspace.indexer.images.ImageRejected`.
    """
    if isinstance(source, Image.Image):
        return fit_into(source, size)
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    return fit_into(decode_image(data).image, size)


def placeholder(reason: str, *, size: int = THUMB_SIZE) -> Image.Image:
    """A grey tile saying why there is no picture (e.g. "file missing")."""
    tile = Image.new("RGB", (size, size), PLACEHOLDER)
    typeface = font(max(9, size // 11))
    line_height = typeface.size + 3
    lines = wrap_text(reason, typeface, size - 10, max_lines=max(1, (size - 10) // line_height))
    draw_centred_lines(ImageDraw.Draw(tile), (0, 0, size, size), lines, typeface, fill=PLACEHOLDER_TEXT, line_height=line_height)
    return tile


def item_image_path(index_dir: Path, item: Item) -> Path:
    """Where an item's picture is: its copy inside the index (server uploads) or its corpus path."""
    return Path(index_dir) / item.stored_file if item.stored_file else Path(item.path)


def read_item_picture(index_dir: Path, item: Item) -> bytes:
    """The bytes of an item's picture, also for items inside a tar shard or a Parquet file; raises OSError."""
    if item.stored_file:
        return item_image_path(index_dir, item).read_bytes()
    return read_key(item.path)


class ThumbnailCache:
    """Thumbnails of an index's items, kept as ``DIR/thumbnails/<sha256>.png``.

    ``size`` other than :data:`THUMB_SIZE` uses ``DIR/thumbnails/<size>px/``. With ``write=False``
    (or when the folder cannot be written) thumbnails are made but not kept. Safe to share
    between threads and processes: each file appears whole by rename.
    """

    def __init__(self, index_dir: Path, *, size: int = THUMB_SIZE, write: bool = True) -> None:
        self.index_dir = Path(index_dir)
        self.size = size
        self.write = write
        self.directory = self.index_dir / CACHE_FOLDER
        if size != THUMB_SIZE:
            self.directory = self.directory / f"{size}px"
        self.made = 0
        """Thumbnails drawn from the original picture (cache misses) by this object."""

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.directory / f"{sha256}.png"

    def _read_cached(self, path: Path) -> Image.Image | None:
        try:
            with Image.open(path) as cached:
                cached.load()
                image = cached.convert("RGB")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, SyntaxError):  # a torn or foreign file: draw it again
            return None
        return image if image.size == (self.size, self.size) else None

    def _store(self, path: Path, image: Image.Image) -> None:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=False)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(buffer.getvalue())
            os.replace(tmp, path)
        except OSError:
            # A read-only index or a full disk only costs the cache; the picture is still drawn.
            tmp.unlink(missing_ok=True)

    def thumbnail(self, item: Item) -> Image.Image:
        """The item's thumbnail, from the cache or drawn from its file; raises :class:`ThumbnailUnavailable`."""
        path = self.path_for(item.sha256)
        cached = self._read_cached(path)
        if cached is not None:
            return cached
        try:
            data = read_item_picture(self.index_dir, item)
        except FileNotFoundError:
            raise ThumbnailUnavailable("file missing") from None
        except OSError as exc:
            raise ThumbnailUnavailable(f"unreadable: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise ThumbnailUnavailable("file changed since it was indexed")
        try:
            image = fit_into(decode_image(data).image, self.size)
        except ImageRejected as exc:
            raise ThumbnailUnavailable(str(exc)) from None
        self.made += 1
        if self.write:
            self._store(path, image)
        return image

    def tile(self, item: Item) -> Image.Image:
        """The thumbnail, or a grey placeholder that says why there is none."""
        try:
            return self.thumbnail(item)
        except ThumbnailUnavailable as exc:
            return placeholder(exc.reason, size=self.size)
