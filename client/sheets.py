"""Pictures on the client: item thumbnails and contact sheets, drawn by the server.

The server has the image files and draws the pictures (RenderSheet, GetThumbnails), so a client
needs neither the files nor torch: it receives PNG bytes. A sheet call takes the same arguments
as the call it draws and returns the same results with the picture::

    with Client("127.0.0.1:50051") as client:
        sheet = client.search_sheet(item_id=3, k=8)             # sheet.result is client.search(...)
        sheet.save("neighbours.png")
        client.walk_sheet(3, 7, steps=6, slerp=True).save("walk.png")
        client.render_sheet("analogy", 12, 7, 3, k=5, tile_size=96).save("analogy.png")
        client.thumbnails([3, 7], size=64)[3].image()           # a Pillow image
"""

from __future__ import annotations

from collections.abc import Iterable

from latentspace.client.arithmetic import path_result, search_result
from latentspace.client.messages import combine_message, search_message, shift_message, walk_message
from latentspace.client.sheet_models import Sheet, Thumbnail
from latentspace.proto.v1 import latentspace_pb2 as pb

__all__ = ["DEFAULT_TILE_SIZE", "SHEET_KINDS", "SheetCalls"]

DEFAULT_TILE_SIZE = 128
SHEET_KINDS = ("search", "combine", "analogy", "shift", "walk")


def _sheet(message: pb.RenderSheetResponse) -> Sheet:
    kind = message.WhichOneof("result")
    result = path_result(message.path) if kind == "path" else search_result(message.search)
    return Sheet(message.png, message.width, message.height, result)


class SheetCalls:
    """The picture calls of :class:`~latentspace.client.Client`.

    Every ``*_sheet`` method also takes ``tile_size`` (pixels per tile, default 128), ``title``
    (None: the server describes the request; "": no title) and ``timeout``.
    """

    def thumbnails(self, ids: Iterable[int], *, size: int = DEFAULT_TILE_SIZE,
                   timeout: float | None = None) -> dict[int, Thumbnail]:
        """Thumbnails by id, in the order asked; NotFound if any id is unknown.

        A picture the server cannot show is still returned, as a placeholder with ``missing_reason``.
        """
        request = pb.GetThumbnailsRequest(ids=[int(i) for i in ids], size=size)
        response = self._call(self._stub.GetThumbnails, request, timeout)
        return {t.id: Thumbnail(t.id, t.png, t.missing_reason or None) for t in response.thumbnails}

    def _render(self, timeout: float | None, tile_size: int, title: str | None, **request) -> Sheet:
        message = pb.RenderSheetRequest(tile_size=tile_size, **request)
        if title is not None:
            message.title = title
        return _sheet(self._call(self._stub.RenderSheet, message, timeout))

    def search_sheet(self, image=None, *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                     timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`search` (same arguments): the query tile, then the hits."""
        return self._render(timeout, tile_size, title, search=search_message(image, **options))

    def combine_sheet(self, positive=(), negative=(), *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                      timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`combine` (same arguments): a tile per term, then the hits."""
        return self._render(timeout, tile_size, title, combine=combine_message(positive, negative, **options))

    def analogy_sheet(self, a, b, c, **options) -> Sheet:
        """A − B + C drawn: ``combine_sheet([a, c], [b], **options)``."""
        return self.combine_sheet([a, c], [b], **options)

    def shift_sheet(self, start, *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                    timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`shift` (same arguments): one row per α."""
        return self._render(timeout, tile_size, title, shift=shift_message(start, **options))

    def walk_sheet(self, start, end, *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                   timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`walk` (same arguments): one row per step, start first, end last."""
        return self._render(timeout, tile_size, title, walk=walk_message(start, end, **options))

    def render_sheet(self, kind: str, *args, **options) -> Sheet:
        """``render_sheet("walk", 3, 7, steps=5)`` is ``walk_sheet(3, 7, steps=5)``; kinds: :data:`SHEET_KINDS`."""
        if kind not in SHEET_KINDS:
            raise ValueError(f"unknown sheet kind {kind!r}; choose one of {', '.join(SHEET_KINDS)}")
        return getattr(self, f"{kind}_sheet")(*args, **options)
