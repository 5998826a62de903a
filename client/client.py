"""A blocking client for the latentspace service; one method per RPC, in one class.

Every call has a deadline (``timeout``, per client or per call); every failure is raised as a
:class:`~latentspace.client.errors.LatentSpaceError` subclass; every result is a frozen dataclass
from :mod:`latentspace.client.models`. This module imports neither torch nor FAISS.

    with Client("127.0.0.1:50051") as client:
        client.search("cat.jpg", k=5)
        client.analogy(12, 7, 3, k=5)                       # item 12 − item 7 + item 3
        client.create_direction("tabby-tiger", classes=("tabby", "tiger"))
        client.shift(12, direction="tabby-tiger", alphas=[0, 0.5, 1])
        client.walk(12, "photos/cat.jpg", steps=6, slerp=True, unique=True)
        client.walk_sheet(3, 7, steps=6, slerp=True).save("walk.png")
        client.thumbnails([3, 7], size=64)[3].image()       # a Pillow image

The server has the image files and draws the pictures (RenderSheet, GetThumbnails), so a client
needs neither the files nor torch: it receives PNG bytes. A sheet call takes the same arguments
as the call it draws and returns the same results with the picture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from grpc_health.v1 import health_pb2

from latentspace.client import convert
from latentspace.client.channel import DEFAULT_MAX_MESSAGE_BYTES, Channel
from latentspace.client.errors import LatentSpaceError, Unavailable
from latentspace.client.models import (
    Direction,
    ImageInput,
    IndexInfo,
    Item,
    NewImage,
    PathResult,
    Query,
    QueryInput,
    SearchResult,
    Sheet,
    TermInput,
    Thumbnail,
    as_vector,
)
from latentspace.proto.v1 import latentspace_pb2 as pb

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "DEFAULT_TILE_SIZE", "SHEET_KINDS", "Client"]

DEFAULT_TILE_SIZE = 128
SHEET_KINDS = ("search", "combine", "analogy", "shift", "walk")


class Client:
    """``with Client("127.0.0.1:50051") as client: client.search(item_id=3, k=5)``."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float = 10.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        ca: str | os.PathLike | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> None:
        """``ca``: a PEM file of the certificate authority (or the self-signed certificate) to trust;
        given, the connection uses TLS. ``token`` or ``token_file``: the bearer token sent with
        every call as ``authorization: Bearer <token>``.
        """
        self._channel = Channel(address, timeout=timeout, max_message_bytes=max_message_bytes, ca=ca, token=token,
                                token_file=token_file)
        self._stub = self._channel.stub

    @property
    def address(self) -> str:
        return self._channel.address

    @property
    def timeout(self) -> float:
        """Seconds a call may take when it is given no ``timeout`` of its own."""
        return self._channel.timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, rpc, request, timeout: float | None):
        return self._channel.call(rpc, request, timeout)

    # -- searching -----------------------------------------------------------------------------

    def search(
        self,
        image: ImageInput | None = None,
        *,
        item_id: int | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        k: int = 10,
        exclude_self: bool = True,
        labels: Iterable[str] = (),
        timeout: float | None = None,
        **refine,
    ) -> SearchResult:
        """The ``k`` nearest items to an image (bytes or a file), a stored item, or a vector.

        ``exclude_self`` leaves an item query's own item out; ``labels`` keeps only those labels.
        ``refine``: ``min_score`` / ``max_distance`` (a threshold), ``offset`` (paging, k + offset
        <= max_k), ``hide_duplicates``, ``diversity`` (MMR λ in [0, 1]), ``group_by="label"`` with
        ``group_size`` (the result's ``groups``).
        """
        request = convert.search_message(image, item_id=item_id, vector=vector, k=k, exclude_self=exclude_self,
                                         labels=labels, **refine)
        return convert.search_result(self._call(self._stub.Search, request, timeout))

    def batch_search(
        self,
        queries: Iterable[QueryInput],
        *,
        k: int = 10,
        exclude_self: bool = True,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> list[SearchResult]:
        """One result per query, in order; see :meth:`Query.of` for what a bare value means."""
        request = pb.BatchSearchRequest(queries=[convert.query_message(Query.of(q)) for q in queries],
                                        options=convert.options_message(k, not exclude_self, labels))
        return [convert.search_result(r) for r in self._call(self._stub.BatchSearch, request, timeout).results]

    def embed(self, image: ImageInput, *, timeout: float | None = None) -> np.ndarray:
        """The vector ``(d,)`` float32 the server's embedder makes for this image."""
        request = pb.EmbedRequest(image=Query(image=image).image)
        return as_vector(self._call(self._stub.Embed, request, timeout).vector.values)

    # -- direction arithmetic ------------------------------------------------------------------

    def combine(
        self,
        positive: Iterable[TermInput] = (),
        negative: Iterable[TermInput] = (),
        *,
        method: str = "add",
        k: int = 10,
        include_terms: bool = False,
        labels: Iterable[str] = (),
        timeout: float | None = None,
        **refine,
    ) -> SearchResult:
        """Items ranked by a combination of terms, best first; ``refine`` as for :meth:`search`.

        A term is a :class:`Term` or anything :meth:`Term.of` reads (an item id, image bytes or a
        file, a vector); ``Term.named("smile")`` is a stored direction. ``method`` is ``add``
        (3CosAdd), ``cosmul`` (3CosMul), ``average``, ``best_score`` or ``sum_scores`` (Qdrant's strategies).
        Items given as terms are left out unless ``include_terms``. The result's ``metric`` names
        the score: ``cosine``, ``l2`` (lower is better), ``cosmul``, ``best_score`` or ``sum_scores``.
        """
        request = convert.combine_message(positive, negative, method=method, k=k, include_terms=include_terms,
                                          labels=labels, **refine)
        return convert.search_result(self._call(self._stub.Combine, request, timeout))

    def discover(self, target: TermInput | None = None, context: Iterable[tuple[TermInput, TermInput]] = (), *,
                 timeout: float | None = None, **options) -> SearchResult:
        """Items ranked by the (positive, negative) ``context`` pairs they satisfy, then by similarity to
        ``target`` (None: context search); ``options`` as :func:`convert.discover_message`. Metric "discovery"."""
        return convert.search_result(self._call(self._stub.Discover, convert.discover_message(target, context, **options), timeout))

    def analogy(self, a: TermInput, b: TermInput, c: TermInput, **options) -> SearchResult:
        """A − B + C: what is to C as A is to B (``combine([a, c], [b], **options)``)."""
        return self.combine([a, c], [b], **options)

    def shift(
        self,
        start: QueryInput,
        *,
        direction: str | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        alphas: Iterable[float] = (0.0, 0.5, 1.0),
        k: int = 10,
        include_start: bool = False,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> PathResult:
        """Neighbours of start + α·‖start‖·unit(direction), one step per α (α = 0: the start).

        Give a stored ``direction`` by name or a raw ``vector``; only its direction counts.
        """
        request = convert.shift_message(start, direction=direction, vector=vector, alphas=alphas, k=k,
                                        include_start=include_start, labels=labels)
        return convert.path_result(self._call(self._stub.Shift, request, timeout))

    def walk(
        self,
        start: QueryInput,
        end: QueryInput,
        *,
        steps: int = 6,
        slerp: bool = False,
        unique: bool = False,
        k: int = 10,
        include_ends: bool = False,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> PathResult:
        """Neighbours of ``steps`` points from start to end (both included), linear or slerp.

        ``unique`` leaves out of each step the items shown at earlier steps; the start and end
        items are left out unless ``include_ends``.
        """
        request = convert.walk_message(start, end, steps=steps, slerp=slerp, unique=unique, k=k,
                                       include_ends=include_ends, labels=labels)
        return convert.path_result(self._call(self._stub.Walk, request, timeout))

    # -- named directions ----------------------------------------------------------------------

    def create_direction(
        self,
        name: str,
        *,
        positive: Iterable[QueryInput] | None = None,
        negative: Iterable[QueryInput] | None = None,
        labels: tuple[str, str] | None = None,
        classes: tuple[str, str] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        learned: str = "",
        timeout: float | None = None,
    ) -> Direction:
        """Compute and store a direction from exactly one source, and return it with its vector.

        ``positive`` and ``negative`` examples: mean of unit vectors minus mean of unit vectors.
        ``labels=(A, B)``: the same over every item labelled A and every item labelled B.
        ``classes=(A, B)``: the classifier's row for ImageNet class A minus B's (names as in the
        embedder's categories, case-insensitive, or indexes). ``vector``: stored as given.
        ``learned="probe"`` (or ``logistic``, ``fisher``, ``whitened``) with examples or labels fits a
        linear probe instead of the mean difference; the result's ``accuracy`` is its held-out accuracy.
        AlreadyExists if the name is taken.
        """
        request = convert.direction_message(name, positive=positive, negative=negative, labels=labels,
                                            classes=classes, vector=vector, learned=learned)
        return convert.direction(self._call(self._stub.CreateDirection, request, timeout))

    def list_directions(self, *, with_vectors: bool = False, timeout: float | None = None) -> list[Direction]:
        """The stored directions, by name."""
        response = self._call(self._stub.ListDirections, pb.ListDirectionsRequest(with_vectors=with_vectors), timeout)
        return [convert.direction(m) for m in response.directions]

    def get_direction(self, name: str, *, timeout: float | None = None) -> Direction:
        """A stored direction with its vector; NotFound if there is none of that name."""
        return convert.direction(self._call(self._stub.GetDirection, pb.GetDirectionRequest(name=name), timeout))

    def delete_direction(self, name: str, *, timeout: float | None = None) -> None:
        """Remove a stored direction; NotFound if there is none of that name."""
        self._call(self._stub.DeleteDirection, pb.DeleteDirectionRequest(name=name), timeout)

    # -- items ---------------------------------------------------------------------------------

    def get_items(self, ids: Iterable[int], *, with_vectors: bool = False, timeout: float | None = None) -> list[Item]:
        """Items in the order asked; NotFound if any id is unknown."""
        request = pb.GetItemsRequest(ids=[int(i) for i in ids], with_vectors=with_vectors)
        return [convert.item(m) for m in self._call(self._stub.GetItems, request, timeout).items]

    def iter_items(self, *, page_size: int = 1000, timeout: float | None = None) -> Iterator[Item]:
        """Every stored item in id order, fetched a page at a time."""
        after = 0
        while True:
            page = self._call(self._stub.ListItems, pb.ListItemsRequest(after_id=after, limit=page_size), timeout)
            yield from (convert.item(m) for m in page.items)
            if not page.next_after_id:
                return
            after = page.next_after_id

    def add_images(self, images: Iterable[NewImage | ImageInput], *, timeout: float | None = None) -> list[Item]:
        """Embed and store images; durable on return.

        Bare bytes are an image without path or label; a file path means ``NewImage.from_file``.
        """
        new = [
            im if isinstance(im, NewImage)
            else NewImage(bytes(im)) if isinstance(im, (bytes, bytearray, memoryview))
            else NewImage.from_file(im)
            for im in images
        ]
        request = pb.AddImagesRequest(images=[convert.new_image_message(im) for im in new])
        return [convert.item(m) for m in self._call(self._stub.AddImages, request, timeout).items]

    def remove(self, ids: Iterable[int], *, timeout: float | None = None) -> list[int]:
        """Remove items; NotFound (and nothing removed) if any id is unknown. Durable on return."""
        request = pb.RemoveItemsRequest(ids=[int(i) for i in ids])
        return list(self._call(self._stub.RemoveItems, request, timeout).removed_ids)

    # -- pictures ------------------------------------------------------------------------------
    # Every ``*_sheet`` method also takes ``tile_size`` (pixels per tile, default 128), ``title``
    # (None: the server describes the request; "": no title) and ``timeout``.

    def thumbnails(self, ids: Iterable[int], *, size: int = DEFAULT_TILE_SIZE,
                   timeout: float | None = None) -> dict[int, Thumbnail]:
        """Thumbnails by id, in the order asked; NotFound if any id is unknown.

        A picture the server cannot show is still returned, as a placeholder with ``missing_reason``.
        """
        request = pb.GetThumbnailsRequest(ids=[int(i) for i in ids], size=size)
        return convert.thumbnails(self._call(self._stub.GetThumbnails, request, timeout))

    def _render(self, timeout: float | None, tile_size: int, title: str | None, **request) -> Sheet:
        message = pb.RenderSheetRequest(tile_size=tile_size, **request)
        if title is not None:
            message.title = title
        return convert.sheet(self._call(self._stub.RenderSheet, message, timeout))

    def search_sheet(self, image=None, *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                     timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`search` (same arguments): the query tile, then the hits."""
        return self._render(timeout, tile_size, title, search=convert.search_message(image, **options))

    def combine_sheet(self, positive=(), negative=(), *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                      timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`combine` (same arguments): a tile per term, then the hits."""
        return self._render(timeout, tile_size, title, combine=convert.combine_message(positive, negative, **options))

    def analogy_sheet(self, a, b, c, **options) -> Sheet:
        """A − B + C drawn: ``combine_sheet([a, c], [b], **options)``."""
        return self.combine_sheet([a, c], [b], **options)

    def shift_sheet(self, start, *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                    timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`shift` (same arguments): one row per α."""
        return self._render(timeout, tile_size, title, shift=convert.shift_message(start, **options))

    def walk_sheet(self, start, end, *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                   timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`walk` (same arguments): one row per step, start first, end last."""
        return self._render(timeout, tile_size, title, walk=convert.walk_message(start, end, **options))

    def render_sheet(self, kind: str, *args, **options) -> Sheet:
        """``render_sheet("walk", 3, 7, steps=5)`` is ``walk_sheet(3, 7, steps=5)``; kinds: :data:`SHEET_KINDS`."""
        if kind not in SHEET_KINDS:
            raise ValueError(f"unknown sheet kind {kind!r}; choose one of {', '.join(SHEET_KINDS)}")
        return getattr(self, f"{kind}_sheet")(*args, **options)

    # -- the server ----------------------------------------------------------------------------

    def info(self, *, timeout: float | None = None) -> IndexInfo:
        return convert.index_info(self._call(self._stub.Info, pb.InfoRequest(), timeout))

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard health status: ``SERVING``, ``NOT_SERVING``, ``UNKNOWN`` or ``SERVICE_UNKNOWN``."""
        try:
            response = self._call(self._channel.health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        except LatentSpaceError as exc:
            if exc.code == "NOT_FOUND":
                return "SERVICE_UNKNOWN"
            raise
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        """Poll health until SERVING; Unavailable after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.health(timeout=max(0.1, min(1.0, deadline - time.monotonic()))) == "SERVING":
                    return
            except LatentSpaceError as exc:
                if time.monotonic() >= deadline:
                    raise Unavailable(f"server at {self.address} not SERVING after {timeout:.0f} s: {exc.message}") from None
            if time.monotonic() >= deadline:
                raise Unavailable(f"server at {self.address} not SERVING after {timeout:.0f} s")
            time.sleep(0.05)
