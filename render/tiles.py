"""Tiles that are not thumbnails of an item: a neutral tile naming a point, and PNG encoding.

A contact sheet shows a vector or a stored direction, which have no picture, as a light tile with
its name in the middle; answers carry pictures as PNG bytes.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from latentspace.render.text import draw_centred_lines, font, wrap_text

__all__ = ["NEUTRAL", "neutral_tile", "png_bytes"]

NEUTRAL = (248, 248, 248)
NEUTRAL_EDGE = (200, 200, 200)
NEUTRAL_TEXT = (95, 95, 95)


def neutral_tile(text: str, size: int) -> Image.Image:
    """A light tile with ``text`` in its middle, for a point or direction that has no picture."""
    tile = Image.new("RGB", (size, size), NEUTRAL)
    draw = ImageDraw.Draw(tile)
    draw.rectangle([0, 0, size - 1, size - 1], outline=NEUTRAL_EDGE)
    typeface = font(max(9, size // 10))
    line_height = typeface.size + 3
    lines = wrap_text(text, typeface, size - 10, max_lines=max(1, (size - 10) // line_height))
    draw_centred_lines(draw, (0, 0, size, size), lines, typeface, fill=NEUTRAL_TEXT, line_height=line_height)
    return tile


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
