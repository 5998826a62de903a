"""Contact sheets: rows of a query (or several term tiles) followed by its neighbours, captioned.

A single search is one row. A shift or a walk is one row per step (a filmstrip) with the step's
caption ("α = 0.5", "step 3/8") in a column at the left. The layout is fixed by
:class:`SheetLayout`, so where every tile lands can be computed (see :class:`SheetGeometry`)::

    left0  = pad + (step_width + pad if any row has a step caption else 0)
    top0   = pad + (title_height if there is a title else 0)
    row r          top  = top0 + r * (tile + caption_lines * line_height + pad)
    query tile j   left = left0 + j * (tile + pad)
    neighbour k    left = left0 + Q * (tile + pad) + (separator if Q else 0) + k * (tile + pad)

where ``Q`` is the largest number of query tiles in any row, so neighbour columns line up from
row to row. Each tile is ``tile × tile``; its ``caption_lines`` lines of text lie under it. The
sheet is as wide as its rightmost tile plus ``pad``, as tall as its last row plus ``pad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from latentspace.indexer.item_db import Item
from latentspace.render.text import draw_centred_lines, fit_text, font, wrap_text
from latentspace.render.thumbnails import THUMB_SIZE, ThumbnailCache, fit_into, placeholder

__all__ = [
    "DEFAULT_LAYOUT",
    "SheetGeometry",
    "SheetLayout",
    "SheetRow",
    "Tile",
    "hit_captions",
    "render_search_sheet",
    "render_sheet",
    "tiles_for_hits",
]

BACKGROUND = (255, 255, 255)
CAPTION_COLOURS = ((25, 25, 25), (95, 95, 95), (95, 95, 95))
"""First caption line (the label) darker than the rest (score, id)."""
SEPARATOR_COLOUR = (190, 190, 190)
STEP_COLOUR = (25, 25, 25)

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)``, right and bottom exclusive, as PIL's ``crop`` takes it."""


@dataclass(frozen=True)
class Tile:
    """A picture with caption lines under it; a picture of another size is letterboxed to the tile."""

    image: Image.Image
    captions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SheetRow:
    """One row: ``query`` tiles (none, one, or the terms of an expression), then ``neighbours``."""

    query: Sequence[Tile] = ()
    neighbours: Sequence[Tile] = ()
    step: str | None = None
    """Caption of the row in a filmstrip, drawn at its left ("α = 0.5")."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "query", tuple(self.query))
        object.__setattr__(self, "neighbours", tuple(self.neighbours))


@dataclass(frozen=True)
class SheetLayout:
    """Sizes in pixels; see the module docstring for the formulas they enter."""

    tile: int = THUMB_SIZE
    pad: int = 8
    caption_lines: int = 2
    line_height: int = 16
    font_size: int = 12
    separator: int = 16
    """Extra gap between the query tiles and the neighbours; a thin line is drawn in it."""
    step_width: int = 88
    title_height: int = 28
    title_font_size: int = 15

    @property
    def cell_height(self) -> int:
        """A tile and its captions."""
        return self.tile + self.caption_lines * self.line_height

    def geometry(self, rows: Sequence[SheetRow], *, title: str | None = None) -> SheetGeometry:
        return SheetGeometry(
            layout=self,
            rows=len(rows),
            query_columns=max((len(r.query) for r in rows), default=0),
            neighbour_columns=max((len(r.neighbours) for r in rows), default=0),
            has_steps=any(r.step is not None for r in rows),
            has_title=title is not None,
        )


DEFAULT_LAYOUT = SheetLayout()


@dataclass(frozen=True)
class SheetGeometry:
    """Where everything of one sheet lies: the layout applied to a given set of rows."""

    layout: SheetLayout
    rows: int
    query_columns: int
    neighbour_columns: int
    has_steps: bool
    has_title: bool

    @property
    def left0(self) -> int:
        lay = self.layout
        return lay.pad + (lay.step_width + lay.pad if self.has_steps else 0)

    @property
    def top0(self) -> int:
        return self.layout.pad + (self.layout.title_height if self.has_title else 0)

    @property
    def neighbours_left(self) -> int:
        lay = self.layout
        return self.left0 + self.query_columns * (lay.tile + lay.pad) + (lay.separator if self.query_columns else 0)

    def row_top(self, row: int) -> int:
        return self.top0 + row * (self.layout.cell_height + self.layout.pad)

    def query_box(self, row: int, column: int) -> Box:
        left = self.left0 + column * (self.layout.tile + self.layout.pad)
        top = self.row_top(row)
        return (left, top, left + self.layout.tile, top + self.layout.tile)

    def neighbour_box(self, row: int, column: int) -> Box:
        left = self.neighbours_left + column * (self.layout.tile + self.layout.pad)
        top = self.row_top(row)
        return (left, top, left + self.layout.tile, top + self.layout.tile)

    def caption_box(self, tile_box: Box, line: int) -> Box:
        """The band of caption line ``line`` under a tile."""
        left, _, right, bottom = tile_box
        top = bottom + line * self.layout.line_height
        return (left, top, right, top + self.layout.line_height)

    def step_box(self, row: int) -> Box:
        top = self.row_top(row)
        return (self.layout.pad, top, self.layout.pad + self.layout.step_width, top + self.layout.tile)

    @property
    def size(self) -> tuple[int, int]:
        lay = self.layout
        if self.neighbour_columns:
            right = self.neighbours_left + self.neighbour_columns * (lay.tile + lay.pad) - lay.pad
        elif self.query_columns:
            right = self.left0 + self.query_columns * (lay.tile + lay.pad) - lay.pad
        else:
            right = self.left0 + lay.tile  # an empty sheet still has room for one tile
        bottom = self.row_top(max(self.rows, 1)) - lay.pad
        return (right + lay.pad, bottom + lay.pad)


def _draw_tile(sheet: Image.Image, draw: ImageDraw.ImageDraw, geometry: SheetGeometry, box: Box, tile: Tile) -> None:
    lay = geometry.layout
    image = tile.image if tile.image.size == (lay.tile, lay.tile) else fit_into(tile.image, lay.tile)
    sheet.paste(image.convert("RGB"), box[:2])
    typeface = font(lay.font_size)
    for line, text in enumerate(tile.captions[: lay.caption_lines]):
        left, top, right, _ = geometry.caption_box(box, line)
        colour = CAPTION_COLOURS[min(line, len(CAPTION_COLOURS) - 1)]
        draw.text((left + 1, top + 2), fit_text(text, typeface, right - left - 2), font=typeface, fill=colour)


def render_sheet(rows: Sequence[SheetRow], *, title: str | None = None, layout: SheetLayout = DEFAULT_LAYOUT) -> Image.Image:
    """Draw ``rows`` as one RGB picture laid out as the module docstring says."""
    geometry = layout.geometry(rows, title=title)
    sheet = Image.new("RGB", geometry.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title is not None:
        typeface = font(layout.title_font_size)
        draw.text((layout.pad, layout.pad + 4), fit_text(title, typeface, geometry.size[0] - 2 * layout.pad),
                  font=typeface, fill=STEP_COLOUR)
    step_font = font(layout.font_size + 1)
    for r, row in enumerate(rows):
        for j, tile in enumerate(row.query):
            _draw_tile(sheet, draw, geometry, geometry.query_box(r, j), tile)
        for k, tile in enumerate(row.neighbours):
            _draw_tile(sheet, draw, geometry, geometry.neighbour_box(r, k), tile)
        if row.query and row.neighbours:
            x = geometry.neighbours_left - layout.pad - layout.separator // 2
            top = geometry.row_top(r)
            draw.line([(x, top), (x, top + layout.tile - 1)], fill=SEPARATOR_COLOUR, width=2)
        if row.step is not None:
            box = geometry.step_box(r)
            lines = wrap_text(row.step, step_font, layout.step_width, max_lines=4)
            draw_centred_lines(draw, box, lines, step_font, fill=STEP_COLOUR, line_height=layout.line_height)
    return sheet


def render_search_sheet(
    query_tile: Tile | Sequence[Tile],
    hits: Sequence[Tile],
    *,
    title: str | None = None,
    layout: SheetLayout = DEFAULT_LAYOUT,
) -> Image.Image:
    """One search as one row: the query tile (or the term tiles of an expression), then the hits in order."""
    query = (query_tile,) if isinstance(query_tile, Tile) else tuple(query_tile)
    return render_sheet([SheetRow(query=query, neighbours=hits)], title=title, layout=layout)


def hit_captions(item: Item, score: float) -> tuple[str, str]:
    """The two caption lines of a hit: its label, then its score and id."""
    return (item.label or "(no label)", f"{score:.3f} · #{item.id}")


def tiles_for_hits(store, cache: ThumbnailCache, ids: np.ndarray, scores: np.ndarray) -> list[Tile]:
    """Tiles for one row of search results ``(ids (k,), scores (k,))``; ids of ``-1`` (no result) are skipped.

    ``store`` is an open :class:`~latentspace.indexer.store.IndexStore`. An id the store no longer
    has (deleted meanwhile) gets a placeholder tile.
    """
    wanted = [int(i) for i in np.asarray(ids).ravel() if int(i) >= 0]
    items = store.items(wanted)
    tiles = []
    for item_id, score in zip(np.asarray(ids).ravel(), np.asarray(scores).ravel()):
        item_id = int(item_id)
        if item_id < 0:
            continue
        item = items.get(item_id)
        if item is None:
            tiles.append(Tile(placeholder("no longer in the index", size=cache.size), ("(deleted)", f"{float(score):.3f} · #{item_id}")))
            continue
        tiles.append(Tile(cache.tile(item), hit_captions(item, float(score))))
    return tiles
