"""The service's methods, written once for the blocking and the asyncio client.

Each method builds its request with :mod:`latentspace.client.convert` and hands it, with the
reader of its response, to ``self._run(rpc, request, read, timeout)``. :class:`~latentspace.client.Client`
runs the call and returns the result; :class:`~latentspace.client.AsyncClient` returns an awaitable
of it. So both offer exactly the same methods, arguments, results and exceptions, and no
conversion exists twice. The annotated return types are those of the blocking client; the asyncio
client's methods return awaitables of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from latentspace.client import convert
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
    Visualization,
    VisualizeProgress,
)
from latentspace.proto.v1 import latentspace_pb2 as pb

__all__ = ["DEFAULT_TILE_SIZE", "SHEET_KINDS", "ServiceMethods", "new_images"]

DEFAULT_TILE_SIZE = 128
SHEET_KINDS = ("search", "combine", "analogy", "discover", "shift", "walk")


def new_images(images: Iterable[NewImage | ImageInput]) -> list[NewImage]:
    """Bare bytes are an image without path or label; a file path means ``NewImage.from_file``."""
    return [
        im if isinstance(im, NewImage)
        else NewImage(bytes(im)) if isinstance(im, (bytes, bytearray, memoryview))
        else NewImage.from_file(im)
        for im in images
    ]


class ServiceMethods:
    """One method per RPC of the service; subclasses define :meth:`_run` (see the module docstring)."""

    def _run(self, rpc: str, request: Any, read: Callable[[Any], Any], timeout: float | None) -> Any:
        raise NotImplementedError

    def _stream(self, rpc: str, request: Any, reader: convert.VisualizeReader, timeout: float | None) -> Any:
        """A server-streaming call: every message to ``reader.feed``, then ``reader.result()``."""
        raise NotImplementedError

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
        return self._run("Search", request, convert.search_result, timeout)

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
        return self._run("BatchSearch", request, convert.search_results, timeout)

    def embed(self, image: ImageInput, *, timeout: float | None = None) -> np.ndarray:
        """The vector ``(d,)`` float32 the server's embedder makes for this image."""
        request = pb.EmbedRequest(image=Query(image=image).image)
        return self._run("Embed", request, convert.embedded_vector, timeout)

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
        return self._run("Combine", request, convert.search_result, timeout)

    def discover(self, target: TermInput | None = None, context: Iterable[tuple[TermInput, TermInput]] = (), *,
                 timeout: float | None = None, **options) -> SearchResult:
        """Items ranked by the (positive, negative) ``context`` pairs they satisfy, then by similarity to
        ``target`` (None: context search); ``options`` as :func:`convert.discover_message`. Metric "discovery"."""
        return self._run("Discover", convert.discover_message(target, context, **options), convert.search_result,
                         timeout)

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
        return self._run("Shift", request, convert.path_result, timeout)

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
        return self._run("Walk", request, convert.path_result, timeout)

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
        return self._run("CreateDirection", request, convert.direction, timeout)

    def list_directions(self, *, with_vectors: bool = False, timeout: float | None = None) -> list[Direction]:
        """The stored directions, by name."""
        return self._run("ListDirections", pb.ListDirectionsRequest(with_vectors=with_vectors), convert.directions,
                         timeout)

    def get_direction(self, name: str, *, timeout: float | None = None) -> Direction:
        """A stored direction with its vector; NotFound if there is none of that name."""
        return self._run("GetDirection", pb.GetDirectionRequest(name=name), convert.direction, timeout)

    def delete_direction(self, name: str, *, timeout: float | None = None) -> None:
        """Remove a stored direction; NotFound if there is none of that name."""
        return self._run("DeleteDirection", pb.DeleteDirectionRequest(name=name), convert.nothing, timeout)

    # -- items ---------------------------------------------------------------------------------

    def get_items(self, ids: Iterable[int], *, with_vectors: bool = False, timeout: float | None = None) -> list[Item]:
        """Items in the order asked; NotFound if any id is unknown."""
        request = pb.GetItemsRequest(ids=[int(i) for i in ids], with_vectors=with_vectors)
        return self._run("GetItems", request, convert.items, timeout)

    def add_images(self, images: Iterable[NewImage | ImageInput], *, timeout: float | None = None) -> list[Item]:
        """Embed and store images; durable on return.

        Bare bytes are an image without path or label; a file path means ``NewImage.from_file``.
        """
        request = pb.AddImagesRequest(images=[convert.new_image_message(im) for im in new_images(images)])
        return self._run("AddImages", request, convert.items, timeout)

    def remove(self, ids: Iterable[int], *, timeout: float | None = None) -> list[int]:
        """Remove items; NotFound (and nothing removed) if any id is unknown. Durable on return."""
        request = pb.RemoveItemsRequest(ids=[int(i) for i in ids])
        return self._run("RemoveItems", request, convert.removed_ids, timeout)

    # -- pictures ------------------------------------------------------------------------------
    # Every ``*_sheet`` method also takes ``tile_size`` (pixels per tile, default 128), ``title``
    # (None: the server describes the request; "": no title) and ``timeout``.

    def thumbnails(self, ids: Iterable[int], *, size: int = DEFAULT_TILE_SIZE,
                   timeout: float | None = None) -> dict[int, Thumbnail]:
        """Thumbnails by id, in the order asked; NotFound if any id is unknown.

        A picture the server cannot show is still returned, as a placeholder with ``missing_reason``.
        """
        request = pb.GetThumbnailsRequest(ids=[int(i) for i in ids], size=size)
        return self._run("GetThumbnails", request, convert.thumbnails, timeout)

    def _render(self, timeout: float | None, tile_size: int, title: str | None, **request) -> Sheet:
        message = pb.RenderSheetRequest(tile_size=tile_size, **request)
        if title is not None:
            message.title = title
        return self._run("RenderSheet", message, convert.sheet, timeout)

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

    def discover_sheet(self, target=None, context=(), *, tile_size: int = DEFAULT_TILE_SIZE, title: str | None = None,
                       timeout: float | None = None, **options) -> Sheet:
        """The sheet of :meth:`discover` (same arguments): the target and each pair's two points, then the hits."""
        return self._render(timeout, tile_size, title, discover=convert.discover_message(target, context, **options))

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

    # -- feature visualization -----------------------------------------------------------------

    def visualize(
        self,
        class_name: str | int | None = None,
        *,
        layer: str | None = None,
        unit: int | None = None,
        neuron: bool = False,
        direction: str | None = None,
        item_id: int | None = None,
        seed: int = 0,
        steps: int | None = None,
        size: int | None = None,
        count: int | None = None,
        diversity: float = 0.0,
        progress: Callable[[VisualizeProgress], None] | None = None,
        timeout: float | None = None,
    ) -> Visualization:
        """An image the server's network (its index's embedder) responds to most, optimised on the server.

        Exactly one objective: an ImageNet ``class_name`` (name or index), ``layer`` with ``unit``
        (a channel; ``neuron=True``: its centre position only), a stored ``direction``, or a stored
        ``item_id``'s vector. ``steps``, ``size``, ``count``: None is the server's default (256
        steps, 224 pixels, one image). ``progress`` is called with each step's
        :class:`VisualizeProgress` (on the event loop, for the asyncio client); an exception it
        raises cancels the call, which stops the work on the server, and propagates. ``timeout``
        covers the whole optimisation: a visualization takes seconds to minutes, so give one
        longer than the client's default. A cached answer comes at once, without progress.
        ResourceExhausted when the server already runs as many as it allows.
        """
        request = convert.visualize_message(class_name, layer=layer, unit=unit, neuron=neuron, direction=direction,
                                            item_id=item_id, seed=seed, steps=steps, size=size, count=count,
                                            diversity=diversity)
        return self._stream("Visualize", request, convert.VisualizeReader(progress), timeout)

    def info(self, *, timeout: float | None = None) -> IndexInfo:
        return self._run("Info", pb.InfoRequest(), convert.index_info, timeout)
