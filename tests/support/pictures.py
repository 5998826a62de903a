"""Pixel comparisons and the contact-sheet layout, shared by the picture tests.

Expected tiles come from the server's own GetThumbnails or from ``latentspace.render`` run here on
the corpus files; expected caption bands are drawn here with the bundled font, so a sheet that put
the wrong picture or the wrong text in a cell differs from them.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["caption_band", "captions_of", "decode", "geometry", "is_blank", "mean_abs_diff", "pixels", "tile_matches"]


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-size pictures, 0..255."""
    assert a.size == b.size, (a.size, b.size)
    return float(np.abs(np.asarray(a.convert("RGB"), dtype=np.int16) - np.asarray(b.convert("RGB"), dtype=np.int16)).mean())


def is_blank(image: Image.Image, colour: tuple[int, int, int]) -> bool:
    """True when every pixel is ``colour``."""
    return bool((np.asarray(image.convert("RGB")) == np.asarray(colour, dtype=np.uint8)).all())


def decode(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        image.load()
        return image.convert("RGB")


def geometry(*, rows: int, query_columns: int, k: int, steps: bool = False, title: bool = True, tile: int = 128):
    """The layout's geometry of a sheet with these counts (render's documented formulas)."""
    from latentspace.render.sheets import SheetGeometry, SheetLayout

    return SheetGeometry(SheetLayout(tile=tile), rows, query_columns, k, steps, title)


def caption_band(lines: tuple[str, ...], *, tile: int = 128) -> Image.Image:
    """The caption lines under a tile, drawn independently: the bundled font, the documented offsets
    and colours. Compared as one band, since a descender of one line reaches into the next."""
    from latentspace.render.sheets import BACKGROUND, CAPTION_COLOURS, DEFAULT_LAYOUT
    from latentspace.render.text import fit_text, font

    height = DEFAULT_LAYOUT.line_height
    band = Image.new("RGB", (tile, DEFAULT_LAYOUT.caption_lines * height), BACKGROUND)
    typeface = font(DEFAULT_LAYOUT.font_size)
    for line, text in enumerate(lines):
        ImageDraw.Draw(band).text((1, 2 + line * height), fit_text(text, typeface, tile - 2), font=typeface,
                                  fill=CAPTION_COLOURS[line])
    return band


def captions_of(image: Image.Image, geo, box) -> Image.Image:
    """The band of every caption line under the tile at ``box``."""
    top = geo.caption_box(box, 0)
    bottom = geo.caption_box(box, geo.layout.caption_lines - 1)
    return image.crop((top[0], top[1], top[2], bottom[3]))


def tile_matches(tile: Image.Image, expected_id: int, thumbs: dict[int, Image.Image]) -> None:
    """``tile`` is the thumbnail of ``expected_id`` and clearly not that of any other item."""
    diffs = {i: mean_abs_diff(tile, thumb) for i, thumb in thumbs.items()}
    others = [d for i, d in diffs.items() if i != expected_id]
    assert diffs[expected_id] < 1.0, (expected_id, diffs)
    assert min(others) > 5.0, (expected_id, sorted(diffs.items(), key=lambda kv: kv[1])[:3])


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)
