"""Pictures of a served index: item thumbnails, and contact sheets of searches, combinations, discoveries and paths.

:class:`PictureEngine` sits beside the :class:`SearchEngine` and the :class:`ArithmeticEngine`.
A sheet request carries the request it shows; that request is answered by the engine that answers
it alone (same checks, same errors, same hits), and the answer is drawn with
:mod:`latentspace.render`:

* search: one row, the query tile then the hits. An image query shows the image, an item query
  the item's thumbnail, a vector a neutral tile captioned ``vector``;
* combine: one row, a tile per term captioned ``+ item 17`` / ``− item 9`` / ``+ dir: shuttle``;
* discover: one row, the target tile (if any) then a tile per context point captioned
  ``+ pair 1`` / ``− pair 1``;
* shift: one row per α (``α = 0.5``), the start and the direction tiles on the first row;
* walk: one row per point (``step 3/6``, ``t = 0.4``), the start on the first row, the end on the last.

Thumbnails come from the index's :class:`~latentspace.render.thumbnails.ThumbnailCache`
(``DIR/thumbnails``); a picture that cannot be shown is a placeholder tile saying why. Sizes are
checked against :class:`~latentspace.server.config.PictureLimits` before any search or drawing.
This module only decides what goes where and what the captions say; every pixel is drawn by
:mod:`latentspace.render`. Like the other engines it raises the exceptions of
:mod:`latentspace.server.errors` and never imports gRPC.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from latentspace.indexer.images import ImageRejected
from latentspace.indexer.item_db import Item
from latentspace.render.sheets import SheetGeometry, SheetLayout, SheetRow, Tile, render_sheet, tiles_for_hits
from latentspace.render.thumbnails import THUMB_SIZE, ThumbnailCache, ThumbnailUnavailable, make_thumbnail, placeholder
from latentspace.render.tiles import neutral_tile, png_bytes
from latentspace.server.arithmetic.engine import ArithmeticEngine
from latentspace.server.arithmetic.requests import CombineRequest, DiscoverRequest, PathResult, ShiftRequest, WalkRequest
from latentspace.server.config import MIN_TILE_SIZE, PictureLimits
from latentspace.server.errors import InvalidQuery, TooLarge
from latentspace.server.search.deadline import NO_DEADLINE, Deadline
from latentspace.server.search.engine import SearchEngine
from latentspace.server.search.queries import (
    DirectionRef,
    ImageQuery,
    ItemQuery,
    Query,
    SearchOptions,
    SearchResult,
    Source,
)
from latentspace.server.search.validation import check_ids

__all__ = ["ItemThumbnail", "PictureEngine", "SearchRequest", "Sheet", "SheetRequest"]

_WIRE_OVERHEAD = 64  # bytes of protobuf framing per picture, a generous bound
_METHOD_NAMES = {"add": "3CosAdd", "cosmul": "3CosMul", "average": "average vector", "best_score": "best score"}


@dataclass(frozen=True)
class SearchRequest:
    """A plain search, as a sheet carries it."""

    query: Query
    options: SearchOptions = SearchOptions()


SheetRequest = SearchRequest | CombineRequest | DiscoverRequest | ShiftRequest | WalkRequest


@dataclass(frozen=True)
class ItemThumbnail:
    id: int
    png: bytes
    """``size × size`` RGB PNG: the item's picture, or a placeholder when ``missing_reason`` is set."""
    missing_reason: str | None = None


@dataclass(frozen=True)
class Sheet:
    png: bytes
    width: int
    height: int
    result: SearchResult | PathResult
    """What the sheet shows: hits (search, combine, discover) or one row per step (shift, walk)."""


def _name(source: Source) -> str:
    """How a tile or a title names a point: ``item 17``, ``image``, ``vector``, ``dir: shuttle``."""
    if isinstance(source, ItemQuery):
        return f"item {source.item_id}"
    if isinstance(source, ImageQuery):
        return "image"
    if isinstance(source, DirectionRef):
        return f"dir: {source.name}"
    return "vector"


def _weighted(weight: float, name: str) -> str:
    """``+ item 17``, ``− item 9``, ``+ 0.5 × dir: smile``."""
    sign = "+" if weight > 0 else "−"
    magnitude = abs(weight)
    return f"{sign} {name}" if magnitude == 1 else f"{sign} {magnitude:g} × {name}"


def _discover_tiles(request: DiscoverRequest) -> list[tuple[str, Source]]:
    """(caption, point) of a discover sheet's query tiles: the target, then each pair's two points."""
    shown = [] if request.target is None else [("target", request.target.source)]
    for i, (positive, negative) in enumerate(request.pairs, 1):
        shown += [(f"+ pair {i}", positive.source), (f"− pair {i}", negative.source)]
    return shown


class PictureEngine:
    """GetThumbnails and RenderSheet over one engine's index; see the module docstring."""

    def __init__(self, engine: SearchEngine, arithmetic: ArithmeticEngine, limits: PictureLimits | None = None) -> None:
        self.engine = engine
        self.arithmetic = arithmetic
        self.limits = limits if limits is not None else engine.config.pictures
        self._caches: dict[int, ThumbnailCache] = {}
        self._lock = threading.Lock()

    def cache(self, size: int = THUMB_SIZE) -> ThumbnailCache:
        """The index's thumbnail cache for tiles of ``size`` pixels (one object per size, shared by calls)."""
        with self._lock:
            if size not in self._caches:
                self._caches[size] = ThumbnailCache(self.engine.store.directory, size=size)
            return self._caches[size]

    # -- checks --------------------------------------------------------------------------------

    def _size(self, size: int, what: str) -> int:
        if size == 0:
            return THUMB_SIZE
        if not MIN_TILE_SIZE <= size <= self.limits.max_tile_size:
            raise InvalidQuery(f"{what} must be {MIN_TILE_SIZE}..{self.limits.max_tile_size} pixels "
                               f"(or 0 for {THUMB_SIZE}), got {size}")
        return int(size)

    def _fits_message(self, nbytes: int, advice: str) -> None:
        limit = self.engine.config.max_message_bytes
        if nbytes > limit:
            raise TooLarge(f"the picture takes {nbytes} bytes, over the message limit of {limit}; {advice}")

    # -- the RPCs ------------------------------------------------------------------------------

    def thumbnails(self, ids: Sequence[int], size: int = 0, *, deadline: Deadline = NO_DEADLINE) -> list[ItemThumbnail]:
        """PNG thumbnails of stored items, in request order; every id must exist."""
        with self.engine.operation():
            size = self._size(size, "size")
            ids = check_ids(ids, self.limits.max_thumbnails)
            pixels, limit = len(ids) * size * size, self.limits.max_picture_pixels
            if pixels > limit:
                raise TooLarge(f"{len(ids)} thumbnails of {size}×{size} are {pixels} pixels, over the limit of {limit}; "
                               f"ask for at most {max(1, limit // (size * size))} at a time")
            found = self.engine.stored_items(ids)
            cache = self.cache(size)
            out = []
            for number, item_id in enumerate(ids, 1):
                deadline.check(f"before thumbnail {number} of {len(ids)}")
                try:
                    out.append(ItemThumbnail(item_id, png_bytes(cache.thumbnail(found[item_id]))))
                except ThumbnailUnavailable as exc:
                    out.append(ItemThumbnail(item_id, png_bytes(placeholder(exc.reason, size=size)), exc.reason))
            self._fits_message(sum(len(t.png) + _WIRE_OVERHEAD for t in out), "ask for fewer or smaller thumbnails")
            return out

    def render(self, request: SheetRequest, *, tile_size: int = 0, title: str | None = None,
               deadline: Deadline = NO_DEADLINE) -> Sheet:
        """Answer ``request`` and draw its contact sheet; ``title`` None describes the request, "" draws none."""
        with self.engine.operation():
            layout = SheetLayout(tile=self._size(tile_size, "tile_size"))
            self._check_pixels(request, layout, has_title=title != "")
            result = self._answer(request, deadline)
            deadline.check("before drawing the sheet")
            rows = self._rows(request, result, self.cache(layout.tile))
            if title is None:
                title = self._title(request)
            picture = render_sheet(rows, title=title or None, layout=layout)
            png = png_bytes(picture)
            self._fits_message(len(png) + _WIRE_OVERHEAD, "lower k, the number of steps or tile_size")
            return Sheet(png, picture.width, picture.height, result)

    # -- sheets --------------------------------------------------------------------------------

    def _check_pixels(self, request: SheetRequest, layout: SheetLayout, *, has_title: bool) -> None:
        """Refuse a sheet that would be too large, before searching; odd counts are left to the engines."""
        k, steps = request.options.k, self.arithmetic.limits.max_steps
        if isinstance(request, ShiftRequest):
            rows, query_columns = len(request.alphas), 2
        elif isinstance(request, WalkRequest):
            rows, query_columns = request.steps, 1
        elif isinstance(request, CombineRequest):
            rows, query_columns = 1, len(request.terms)
        elif isinstance(request, DiscoverRequest):
            rows, query_columns = 1, len(_discover_tiles(request))
        else:
            rows, query_columns = 1, 1
        if not (1 <= k <= self.engine.config.max_k and 1 <= rows <= steps
                and query_columns <= self.arithmetic.limits.max_terms):
            return
        geometry = SheetGeometry(layout, rows, query_columns, k, isinstance(request, (ShiftRequest, WalkRequest)),
                                 has_title)
        width, height = geometry.size
        limit = self.limits.max_picture_pixels
        if width * height > limit:
            raise TooLarge(f"the sheet would be {width}×{height} = {width * height} pixels, over the limit of {limit}; "
                           f"lower k, the number of steps or tile_size")

    def _answer(self, request: SheetRequest, deadline: Deadline) -> SearchResult | PathResult:
        if isinstance(request, SearchRequest):
            return self.engine.search(request.query, request.options, deadline=deadline)
        if isinstance(request, CombineRequest):
            return self.arithmetic.combine(request, deadline=deadline)
        if isinstance(request, ShiftRequest):
            return self.arithmetic.shift(request, deadline=deadline)
        if isinstance(request, WalkRequest):
            return self.arithmetic.walk(request, deadline=deadline)
        if isinstance(request, DiscoverRequest):
            return self.arithmetic.discover(request, deadline=deadline)
        raise InvalidQuery("the sheet names no request: set one of search, combine, discover, shift or walk")

    def _items(self, sources: Sequence[Source]) -> dict[int, Item]:
        ids = [int(s.item_id) for s in sources if isinstance(s, ItemQuery)]
        return self.engine.store.items(ids) if ids else {}

    def _picture(self, source: Source, items: dict[int, Item], cache: ThumbnailCache) -> Image.Image:
        """The tile of one point: its item's thumbnail, the image itself, or a neutral tile."""
        if isinstance(source, ItemQuery):
            item = items.get(int(source.item_id))
            return cache.tile(item) if item is not None else placeholder("no longer in the index", size=cache.size)
        if isinstance(source, ImageQuery):
            try:
                return make_thumbnail(source.data, size=cache.size)
            except ImageRejected as exc:  # the engine embedded it, so this should not happen
                return placeholder(str(exc), size=cache.size)
        return neutral_tile(_name(source), cache.size)

    def _detail(self, source: Source, items: dict[int, Item]) -> str:
        """The second caption line of a query tile: ``label · #17`` for items, else its kind."""
        if isinstance(source, ItemQuery):
            item = items.get(int(source.item_id))
            return f"{item.label or Path(item.path).name} · #{item.id}" if item is not None else f"#{source.item_id}"
        return _name(source)

    def _title_name(self, source: Source, items: dict[int, Item]) -> str:
        if isinstance(source, ItemQuery) and int(source.item_id) in items:
            return f"item {source.item_id} ({Path(items[int(source.item_id)].path).name})"
        return {"image": "an image", "vector": "a vector"}.get(_name(source), _name(source))

    @staticmethod
    def _hit_tiles(store, cache: ThumbnailCache, result: SearchResult) -> list[Tile]:
        ids = np.asarray([h.id for h in result.hits], dtype=np.int64)
        scores = np.asarray([h.score for h in result.hits], dtype=np.float64)
        return tiles_for_hits(store, cache, ids, scores)

    def _rows(self, request: SheetRequest, result: SearchResult | PathResult, cache: ThumbnailCache) -> list[SheetRow]:
        store = self.engine.store
        if isinstance(request, (SearchRequest, CombineRequest, DiscoverRequest)):
            assert isinstance(result, SearchResult)
            hits = self._hit_tiles(store, cache, result)
            if isinstance(request, SearchRequest):
                items = self._items([request.query])
                query = [Tile(self._picture(request.query, items, cache), ("query", self._detail(request.query, items)))]
            elif isinstance(request, DiscoverRequest):
                shown = _discover_tiles(request)
                items = self._items([source for _, source in shown])
                query = [Tile(self._picture(source, items, cache), (caption, self._detail(source, items)))
                         for caption, source in shown]
            else:
                items = self._items([t.source for t in request.terms])
                query = [Tile(self._picture(t.source, items, cache),
                              (_weighted(t.weight, _name(t.source)),
                               items[t.source.item_id].label if isinstance(t.source, ItemQuery)
                               and t.source.item_id in items else ""))
                         for t in request.terms]
            return [SheetRow(query=query, neighbours=hits)]
        assert isinstance(result, PathResult)
        rows = []
        if isinstance(request, ShiftRequest):
            items = self._items([request.start])
            first = [Tile(self._picture(request.start, items, cache), ("start", self._detail(request.start, items))),
                     Tile(self._picture(request.direction, items, cache), ("direction", _name(request.direction)))]
            for i, (alpha, row) in enumerate(zip(result.positions, result.rows)):
                rows.append(SheetRow(query=first if i == 0 else (), neighbours=self._hit_tiles(store, cache, row),
                                     step=f"α = {alpha:g}"))
            return rows
        items = self._items([request.start, request.end])
        start = Tile(self._picture(request.start, items, cache), ("start", self._detail(request.start, items)))
        end = Tile(self._picture(request.end, items, cache), ("end", self._detail(request.end, items)))
        n = len(result.rows)
        for i, (t, row) in enumerate(zip(result.positions, result.rows)):
            query = [start] if i == 0 else [end] if i == n - 1 else []
            rows.append(SheetRow(query=query, neighbours=self._hit_tiles(store, cache, row),
                                 step=f"step {i + 1}/{n}\nt = {t:.3g}"))
        return rows

    def _title(self, request: SheetRequest) -> str:
        if isinstance(request, SearchRequest):
            return f"nearest neighbours of {self._title_name(request.query, self._items([request.query]))}"
        if isinstance(request, CombineRequest):
            parts = [_weighted(t.weight, _name(t.source)) for t in request.terms]
            expression = " ".join(parts)
            expression = expression[2:] if expression.startswith("+ ") else expression
            return f"{expression} ({_METHOD_NAMES.get(request.method, request.method)})"
        if isinstance(request, DiscoverRequest):
            pairs = f"{len(request.pairs)} context pair{'s' if len(request.pairs) != 1 else ''}"
            if request.target is None:
                return f"context search, {pairs}"
            items = self._items([request.target.source])
            return f"discover near {self._title_name(request.target.source, items)}, {pairs}"
        if isinstance(request, ShiftRequest):
            items = self._items([request.start])
            return f"shift {self._title_name(request.start, items)} along {_name(request.direction)}"
        items = self._items([request.start, request.end])
        how = request.mode + (", each item once" if request.unique else "")
        return (f"walk {self._title_name(request.start, items)} → {self._title_name(request.end, items)}, "
                f"{request.steps} steps ({how})")
