"""Caption text: one bundled font, and lines cut to fit a width.

The font is DejaVu Sans from matplotlib's package data, never a system font, so a caption is
drawn with the same glyphs on every machine (and covers α, −, → and accented labels). The file
is found without importing matplotlib, which is slow to import and needs none of its code here.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from PIL import ImageDraw, ImageFont

__all__ = ["FontMissing", "fit_text", "font", "font_path", "wrap_text"]

ELLIPSIS = "…"


class FontMissing(RuntimeError):
    """The bundled font file is not installed."""


def font_path() -> Path:
    """``DejaVuSans.ttf`` inside the installed matplotlib package."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise FontMissing("captions use DejaVu Sans from the matplotlib package, which is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not path.is_file():
        raise FontMissing(f"matplotlib is installed but its DejaVu Sans font is missing ({path})")
    return path


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` pixels (loaded once per size)."""
    return ImageFont.truetype(str(font_path()), size)


def text_width(text: str, typeface: ImageFont.FreeTypeFont) -> float:
    return typeface.getlength(text)


def fit_text(text: str, typeface: ImageFont.FreeTypeFont, width: int) -> str:
    """``text``, or its longest prefix plus "…" that is at most ``width`` pixels wide."""
    if text_width(text, typeface) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        mid = (low + high + 1) // 2
        if text_width(text[:mid] + ELLIPSIS, typeface) <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low].rstrip() + ELLIPSIS if low else ELLIPSIS


def wrap_text(text: str, typeface: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap into at most ``max_lines`` lines of at most ``width`` pixels; the last is cut with "…".

    A newline always starts a new line, so "step 3/6\nt = 0.4" never breaks inside "t = 0.4".
    """
    lines: list[str] = []
    for paragraph in (p for p in text.split("\n") if p.strip()):
        if len(lines) == max_lines:  # text is left over: show that the last line was cut
            if not lines[-1].endswith(ELLIPSIS):
                lines[-1] = fit_text(lines[-1] + ELLIPSIS, typeface, width)
            break
        lines += _wrap_words(paragraph, typeface, width, max_lines - len(lines))
    return lines


def _wrap_words(text: str, typeface: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    lines: list[str] = []
    words = text.split()
    while words and len(lines) < max_lines:
        line = words.pop(0)
        while words and text_width(line + " " + words[0], typeface) <= width:
            line += " " + words.pop(0)
        if len(lines) == max_lines - 1 and words:
            line = line + " " + " ".join(words)
            words = []
        lines.append(fit_text(line, typeface, width))
    return lines


def draw_centred_lines(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    lines: list[str],
    typeface: ImageFont.FreeTypeFont,
    *,
    fill: tuple[int, int, int],
    line_height: int,
) -> None:
    """Lines centred horizontally and vertically inside ``box = (left, top, right, bottom)``."""
    left, top, right, bottom = box
    y = top + (bottom - top - line_height * len(lines)) // 2
    for line in lines:
        x = left + (right - left - text_width(line, typeface)) / 2
        draw.text((x, y), line, font=typeface, fill=fill)
        y += line_height
