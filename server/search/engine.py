"""The search service's core: queries to vectors, vectors to hits, images to stored items.

``SearchEngine`` joins an open :class:`IndexStore`, the :class:`Embedder` that built it and an
:class:`EmbedBatcher`. It validates what requests carry, raises the exceptions of
:mod:`latentspace.server.errors` and never imports gRPC, so every rule here can be tested
without a server. Image queries of concurrent requests share forward passes, and their
unfiltered searches share index searches (see :mod:`latentspace.server.search.batcher`); adds and
removes run alongside (the store has a readers–writer lock) and are committed to SQLite before
they return.

Its public methods are also the API of the other engines (arithmetic, pictures): they run inside
:meth:`SearchEngine.operation`, resolve what a request names with :meth:`~SearchEngine.resolve`,
check options with :meth:`~SearchEngine.scope` and build hits with :meth:`~SearchEngine.results`.
"""

from __future__ import annotations

import hashlib
import platform
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from latentspace.indexer.atomic import atomic_write_bytes
from latentspace.indexer.embedders import Embedder
from latentspace.indexer.images import ImageRejected, decode_image
from latentspace.indexer.item_db import Item, NewItem
from latentspace.indexer.manifest import SearchSettings
from latentspace.indexer.store import IndexStore
from latentspace.server.config import ServerConfig
from latentspace.server.errors import (
    EmptyIndex,
    InvalidQuery,
    ShuttingDown,
    TooLarge,
    is_disk_full,
    no_embedder,
    no_such_items,
    storage_full,
)
from latentspace.server.search.batcher import EmbedBatcher, SearchBatcher, SearchJob
from latentspace.server.search.deadline import NO_DEADLINE, Deadline
from latentspace.server.search.events import NO_EVENTS, ServingEvents
from latentspace.server.search.queries import (
    Hit,
    HitGroup,
    ImageToAdd,
    ItemQuery,
    Named,
    Query,
    SearchOptions,
    SearchResult,
    VectorQuery,
)
from latentspace.server.search.exact_top import RankChunk, TopRows, chunk_rows, exact_tops
from latentspace.server.search.ranged import threshold_candidates
from latentspace.server.search.refined import Pool, Refinement, check_refinement, refine, refine_pool
from latentspace.server.search.resolve import Resolver
from latentspace.server.search.similarity import rank_similar
from latentspace.server.search.validation import check_ids, check_k, check_label, check_labels, check_path

__all__ = ["EngineInfo", "IMAGES_DIR", "Scope", "SearchEngine"]

IMAGES_DIR = "images"
"""Copies of added images, under the index directory, named ``<sha256><extension>``."""

_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif", "TIFF": ".tif"}
_VECTOR_WIRE_OVERHEAD = 64  # bytes of protobuf framing per item, a generous bound


@dataclass(frozen=True)
class EngineInfo:
    item_count: int
    dimension: int
    model: str
    layer: str
    weights_choice: str
    weights_description: str
    weights_sha256: str
    pretrained: bool
    metric: str
    faiss_factory: str
    uses_faiss: bool
    device: str
    versions: dict[str, str]
    config: ServerConfig
    search: SearchSettings
    """nprobe, efSearch and the candidate count an approximate index is searched with."""


def _versions() -> dict[str, str]:
    import faiss

    out = {"python": platform.python_version(), "torch": torch.__version__, "faiss": faiss.__version__,
           "numpy": np.__version__}
    for key, dist in (("latentspace", "latentspace"), ("grpc", "grpcio"), ("torchvision", "torchvision"), ("protobuf", "protobuf")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclass(frozen=True)
class Scope:
    """:class:`SearchOptions` once checked: k, the ids the label filter allows (None: every id), and
    the refinements asked for (None: plain top-k)."""

    k: int
    allowed: np.ndarray | None = None
    refinement: Refinement | None = None

    @property
    def ranked(self) -> int:
        """Hits to rank before refining: k, or k + offset."""
        return self.k if self.refinement is None else self.refinement.ranked

    @property
    def nothing_allowed(self) -> bool:
        return self.allowed is not None and len(self.allowed) == 0


def _cannot_embed(batch: torch.Tensor) -> np.ndarray:
    raise no_embedder("images")  # never reached: embed_images refuses first


def _vectors_of(top: TopRows) -> np.ndarray:
    """The kept rows' vectors, or an empty column per row when the refinement reads none."""
    return top.vectors if top.vectors is not None else np.zeros((len(top.ids), 0), np.float32)


def _query_label(query: Query, index: int, count: int) -> str:
    """How errors name query ``index`` of a batch: ``query 1``, ``query 1: vector``; nothing for one query."""
    label = f"query {index}" if count > 1 else ""
    if isinstance(query, VectorQuery):
        return f"{label}: vector" if label else ""
    return label



class SearchEngine:
    """Searches, embeds, adds and removes over one index; see the module docstring."""

    def __init__(self, store: IndexStore, embedder: Embedder | None, config: ServerConfig, *,
                 events: ServingEvents = NO_EVENTS) -> None:
        """``events`` hears of forward passes, index searches and queue depths (the metrics).

        ``embedder`` None serves a vector-only index (``import-vectors --model none``): vector and
        item queries work, anything that needs an image embedded is FAILED_PRECONDITION."""
        if embedder is not None and store.dim != embedder.dim:
            raise ValueError(f"the index holds {store.dim}-d vectors but the embedder makes {embedder.dim}-d ones")
        self.store = store
        self.embedder = embedder
        self.config = config
        self.batcher = EmbedBatcher(embedder.embed_batch if embedder is not None else _cannot_embed,
                                    max_batch=config.max_embed_batch,
                                    window_s=config.batch_window_ms / 1000.0, events=events)
        self.searcher = SearchBatcher(store.search, max_batch=max(config.max_batch_queries, 64),
                                      window_s=config.batch_window_ms / 1000.0, events=events)
        self.events = events
        self.resolver = Resolver(store, self.embed_images)
        self._versions = _versions()
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self._storing = threading.Lock()
        """Held while an add copies its images and commits, so a failed add can remove its copies."""

    # -- lifecycle -----------------------------------------------------------------------------

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One request's work: refused once :meth:`close` began, and waited for by it."""
        with self._cond:
            if self._closed:
                raise ShuttingDown("the server is shutting down and takes no new requests")
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def close(self, *, timeout: float | None = None) -> None:
        """Refuse new work, wait up to ``timeout`` for work in progress, then save and close the store."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.wait_for(lambda: self._active == 0, timeout=timeout)
        self.batcher.close()
        self.searcher.close()
        self.store.close()

    # -- the building blocks of every engine ---------------------------------------------------

    def embed_images(self, blobs: Sequence[tuple[str, bytes]], *, deadline: Deadline = NO_DEADLINE,
                     what: str = "") -> tuple[np.ndarray, list]:
        """Vectors ``(n, d)`` of encoded images, and the decoded images, in one shared forward pass.

        Decoding and preparing run in the calling thread; a rejection names the image by the
        prefix given with it (``blobs[i][0]``); ``deadline`` is checked before each decode. An index
        without an embedder refuses, naming ``what`` asked for the images.
        """
        if self.embedder is None:
            raise no_embedder(what or "an image query")
        decoded: list = []
        embedder = self.embedder

        def prepare() -> list[torch.Tensor]:
            tensors = []
            for number, (where, data) in enumerate(blobs, 1):
                deadline.check(f"before decoding image {number} of {len(blobs)}")
                try:
                    image = decode_image(data, min_side=embedder.preprocessing.min_side)  # as the indexer
                except ImageRejected as exc:
                    raise InvalidQuery(f"{where}image rejected ({exc.reason.value}): {exc}") from None
                tensors.append(embedder.prepare(image.image))
                decoded.append(image)
            return tensors

        return self.batcher.embed(prepare), decoded

    def resolve(self, entries: Sequence[Named], *, nonzero: bool = False, directions: bool = True,
                deadline: Deadline = NO_DEADLINE) -> np.ndarray:
        """The vectors ``(n, d)`` of what a request names; see :meth:`Resolver.vectors`."""
        return self.resolver.vectors(entries, nonzero=nonzero, directions=directions, deadline=deadline)

    def require_items(self) -> None:
        """EmptyIndex unless something is stored: nothing to rank otherwise."""
        if len(self.store) == 0:
            raise EmptyIndex("the index holds no items yet; add images before searching")

    def scope(self, options: SearchOptions, *, score_metric: str | None = None) -> Scope:
        """k checked against ``max_k``, the label filter turned into allowed ids, and the
        refinements checked for scores that read as ``score_metric`` (default: the index's)."""
        k = check_k(options.k, self.config.max_k)
        labels = check_labels(options.labels)
        refinement = None
        if options.refined:
            refinement = check_refinement(options, k=k, score_metric=score_metric or self.store.metric,
                                          max_k=self.config.max_k)
        return Scope(k, self.store.ids_with_labels(labels) if labels else None, refinement)

    @property
    def exact(self) -> bool:
        """True when every stored row is scored: a Flat index, or one FAISS cannot search yet."""
        return not self.store.uses_faiss or self.store.manifest.faiss_factory.replace(" ", "") == "Flat"

    def exact_tops(self, ranks: Sequence[RankChunk], counts: Sequence[int], allowed: np.ndarray | None, *,
                   lower_is_better: bool | Sequence[bool] = False, keep_vectors: bool = False) -> list[TopRows]:
        """Each ranking's best ``counts[i]`` rows over every stored row the label filter allows,
        in one chunked pass over the vector files: memory for a chunk and the rows kept, not n·d."""
        rows = chunk_rows(self.store.dim, budget=self.config.scan_chunk_bytes)
        chunks = self.store.iter_vector_chunks(rows, allowed_ids=allowed)
        return exact_tops(chunks, ranks, counts, dim=self.store.dim, lower_is_better=lower_is_better,
                          keep_vectors=keep_vectors)

    def exact_result(self, scope: Scope, rank: RankChunk, *, metric: str, candidates: int) -> SearchResult:
        """One ranking over every row the label filter allows, in chunks: its top k, or the pool
        its refinement needs (see :func:`refine_pool`) refined. ``metric`` names the scores; "l2"
        reads lower as better. ``candidates`` is what an approximate index would gather."""
        lower = metric == "l2"
        if scope.refinement is None:
            top = self.exact_tops([rank], [scope.k], scope.allowed, lower_is_better=lower)[0]
            return self.results([(top.scores, top.ids)], metric)[0]
        pool = refine_pool(scope.refinement, candidates=candidates)
        top = self.exact_tops([rank], [self.pool_rows(pool)], scope.allowed, lower_is_better=lower,
                              keep_vectors=pool.vectors)[0]
        return self.refined_result(scope, top.scores, top.ids, _vectors_of(top), metric=metric)

    def pool_rows(self, pool: Pool) -> int:
        """The rows a refinement's pool asks for, as a count (every stored row when it says None)."""
        return max(1, len(self.store)) if pool.rows is None else pool.rows

    def refined_result(self, scope: Scope, scores: np.ndarray, ids: np.ndarray, vectors: np.ndarray, *,
                       metric: str) -> SearchResult:
        """Candidates ranked best first on exact scores, refined as ``scope`` asks (hits or groups).

        ``metric`` names the scores (the index's, or a combination's); "l2" reads lower as better.
        """
        scores, ids = np.asarray(scores), np.asarray(ids, dtype=np.int64)
        items = self.store.items(sorted(set(ids.tolist())))
        live = np.array([i in items for i in ids.tolist()], dtype=bool)  # removed by a concurrent request
        scores, ids, vectors = scores[live], ids[live], np.asarray(vectors)[live]
        labels = [items[i].label for i in ids.tolist()]
        shown = refine(scope.refinement, scores, vectors, labels, lower_is_better=metric == "l2",
                       metric=self.store.metric)

        def hits(positions: np.ndarray) -> tuple[Hit, ...]:
            return tuple(Hit(int(ids[p]), float(scores[p]), items[int(ids[p])].path, items[int(ids[p])].label)
                         for p in positions)

        if scope.refinement.group_size is not None:
            return SearchResult((), metric, tuple(HitGroup(label, hits(p)) for label, p in shown))
        return SearchResult(hits(shown), metric)

    def _refined_search(self, vectors: np.ndarray, scope: Scope, exclude: list[tuple[int, ...]]) -> list[SearchResult]:
        """Each query's candidates scored exactly, then refined: thresholds, duplicates and MMR need
        more than the top k. Candidates: with a threshold, what FAISS's range search finds (see
        :mod:`.ranged`; on an approximate index, with FAISS's neighbours); else every row on a Flat
        index, in chunks, or FAISS's neighbours."""
        metric = self.store.metric
        ranks = [rank_similar(vector, metric, skip) for vector, skip in zip(vectors, exclude)]
        candidates = self.config.arithmetic.candidates(scope.ranked)
        withins = [self._within_threshold(vector, scope, len(skip)) for vector, skip in zip(vectors, exclude)]
        out: list[SearchResult | None] = [None] * len(vectors)
        scan = [i for i, within in enumerate(withins) if self.exact and within is None]
        if scan:
            pool = refine_pool(scope.refinement, candidates=candidates)
            tops = self.exact_tops([ranks[i] for i in scan], [self.pool_rows(pool)] * len(scan), scope.allowed,
                                   lower_is_better=metric == "l2", keep_vectors=pool.vectors)
            for i, top in zip(scan, tops):
                out[i] = self.refined_result(scope, top.scores, top.ids, _vectors_of(top), metric=metric)
        for i, (vector, skip, rank, within) in enumerate(zip(vectors, exclude, ranks, withins)):
            if out[i] is not None:
                continue
            if self.exact:
                found = within
            else:
                _, nearest = self.store.search(vector[None, :], candidates + len(skip), allowed_ids=scope.allowed)
                found = nearest[nearest >= 0] if within is None else np.concatenate([nearest[nearest >= 0], within])
            ids, rows = self._live_rows(np.unique(np.asarray(found, dtype=np.int64)).tolist())
            scores, ranked = rank(rows, ids, max(1, len(ids)))
            out[i] = self.refined_result(scope, scores, ranked, rows[np.searchsorted(ids, ranked)], metric=metric)
        return out

    def _within_threshold(self, vector: np.ndarray, scope: Scope, skipped: int) -> np.ndarray | None:
        """Ids within the request's threshold by FAISS's range search, or None (no threshold, or
        see :func:`~latentspace.server.search.ranged.threshold_candidates`)."""
        threshold = scope.refinement.threshold
        if threshold is None:
            return None
        cap = max(self.config.max_k, self.config.arithmetic.candidates(scope.ranked)) + skipped
        return threshold_candidates(self.store, vector, threshold, allowed=scope.allowed, cap=cap, exact=self.exact)

    def _live_rows(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, vectors)`` of those ids still stored (a concurrent remove may take some)."""
        while True:
            try:
                return np.asarray(ids, dtype=np.int64), self.store.vectors(ids)
            except KeyError as exc:
                ids.remove(int(exc.args[0]))

    def results(self, rows: Iterable[tuple[np.ndarray, np.ndarray]], metric: str | None = None) -> list[SearchResult]:
        """One :class:`SearchResult` per ``(scores, ids)`` row, best first, with one item lookup.

        Ids of ``-1`` (FAISS's padding) are skipped, and so is an id removed by a concurrent
        request between the ranking and this lookup. ``metric`` defaults to the index's.
        """
        rows = [(np.asarray(scores).tolist(), np.asarray(ids).tolist()) for scores, ids in rows]
        items = self.store.items(sorted({i for _, ids in rows for i in ids if i >= 0}))
        metric = self.store.metric if metric is None else metric
        return [SearchResult(tuple(Hit(i, s, items[i].path, items[i].label)
                                   for s, i in zip(scores, ids) if i >= 0 and i in items), metric)
                for scores, ids in rows]

    def stored_items(self, ids: Sequence[int], *, then: str = "") -> dict[int, Item]:
        """The items of ``ids`` (already checked), by id; NotFound naming every unknown one."""
        found = self.store.items(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise no_such_items(missing, then=then)
        return found

    # -- the RPCs ------------------------------------------------------------------------------

    def search(self, query: Query, options: SearchOptions, *, deadline: Deadline = NO_DEADLINE) -> SearchResult:
        return self.batch_search([query], options, deadline=deadline)[0]

    def batch_search(self, queries: Sequence[Query], options: SearchOptions, *,
                     deadline: Deadline = NO_DEADLINE) -> list[SearchResult]:
        """Top-k hits for each query with one ``store.search`` call; see :class:`SearchOptions`.

        ``deadline`` is checked before each image is decoded and before the index search. The
        whole query is a member of the embed batcher's pipeline (see
        :mod:`~latentspace.server.search.batcher`): after its forward pass, the next pass may wait
        for it to come back rather than leave it to a pass of its own.
        """
        with self.operation(), self.batcher.member():
            scope = self.scope(options)
            if not queries:
                raise InvalidQuery("no queries given")
            if len(queries) > self.config.max_batch_queries:
                raise TooLarge(f"{len(queries)} queries in one batch; the limit is {self.config.max_batch_queries}")
            self.require_items()
            n = len(queries)
            entries = [Named(q, _query_label(q, i, n)) for i, q in enumerate(queries)]
            vectors = self.resolve(entries, directions=False, deadline=deadline)
            deadline.check("before the index search")
            exclude = [
                (int(q.item_id),) if isinstance(q, ItemQuery) and not options.include_self else () for q in queries
            ]
            if scope.nothing_allowed:
                return [SearchResult((), self.store.metric) for _ in queries]
            if scope.refinement is not None:
                return self._refined_search(vectors, scope, exclude)
            if scope.allowed is None:  # the common case: share one index search with concurrent requests
                scores, ids = self.searcher.search(SearchJob(vectors, scope.k, exclude))
                return self.results(zip(scores, ids))
            start = time.perf_counter()
            scores, ids = self.store.search(vectors, scope.k, allowed_ids=scope.allowed,
                                            exclude_ids=exclude if any(exclude) else None)
            self.events.index_search(len(vectors), time.perf_counter() - start)
            return self.results(zip(scores, ids))

    def embed(self, data: bytes, *, deadline: Deadline = NO_DEADLINE) -> np.ndarray:
        """The vector ``(d,)`` float32 the index would store for this image."""
        with self.operation():
            vectors, _ = self.embed_images([("", data)], deadline=deadline, what="Embed")
            return vectors[0]

    def get_items(self, ids: Sequence[int], *, with_vectors: bool = False) -> tuple[list[Item], np.ndarray | None]:
        """Items in request order, and their vectors ``(n, d)`` when asked; every id must exist."""
        with self.operation():
            ids = check_ids(ids, self.config.max_ids)
            if with_vectors:
                size = len(ids) * (self.store.dim * 4 + _VECTOR_WIRE_OVERHEAD)
                if size > self.config.max_message_bytes:
                    fit = self.config.max_message_bytes // (self.store.dim * 4 + _VECTOR_WIRE_OVERHEAD)
                    raise TooLarge(f"{len(ids)} vectors of {self.store.dim} values exceed the message limit of "
                                   f"{self.config.max_message_bytes} bytes; ask for at most {fit} at a time")
            found = self.stored_items(ids)
            vectors = None
            if with_vectors:
                try:
                    vectors = self.store.vectors(ids)
                except KeyError as exc:  # removed since the lookup above
                    raise no_such_items([exc.args[0]]) from None
            return [found[i] for i in ids], vectors

    def list_items(self, *, after_id: int = 0, limit: int = 1000) -> tuple[list[Item], int]:
        """Up to ``limit`` items with ids above ``after_id``, in id order, and the next ``after_id`` (0: done)."""
        with self.operation():
            if not 1 <= limit <= self.config.max_ids:
                raise InvalidQuery(f"limit must be between 1 and {self.config.max_ids}, got {limit}")
            page: list[Item] = []
            more = False
            for item in self.store.iter_items():
                if item.id <= after_id:
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(item)
            return page, (page[-1].id if more else 0)

    def add_images(self, images: Sequence[ImageToAdd], *, deadline: Deadline = NO_DEADLINE) -> list[Item]:
        """Embed, copy and commit images in one transaction; nothing is stored if any is rejected.

        ``deadline`` is checked before each image is decoded and before anything is written; a
        full disk (:class:`StorageFull`) leaves neither items nor copies behind.
        """
        with self.operation():
            if not images:
                raise InvalidQuery("no images given")
            if len(images) > self.config.max_add_images:
                raise TooLarge(f"{len(images)} images in one request; the limit is {self.config.max_add_images}, "
                               f"send them in several requests")
            n = len(images)
            for i, image in enumerate(images):
                check_path(image.path, what=f"image {i}: path" if n > 1 else "path")
                check_label(image.label, what=f"image {i}: label" if n > 1 else "label")
            vectors, decoded = self.embed_images([(f"image {i}: " if n > 1 else "", im.data)
                                                  for i, im in enumerate(images)], deadline=deadline,
                                                 what="AddImages")
            deadline.check("after the forward pass, before storing")
            ids = self._store_images(images, decoded, vectors)
            found = self.store.items(ids)
            return [found[i] for i in ids if i in found]

    def _store_images(self, images: Sequence[ImageToAdd], decoded: list, vectors: np.ndarray) -> list[int]:
        """Copy the images under ``IMAGES_DIR`` (server-chosen names), then commit their items.

        If a copy or the commit fails, the copies this call created are removed again: copies are
        content-addressed, so one that already existed may belong to a committed item and stays.
        """
        created: list[Path] = []
        with self._storing:
            try:
                (self.store.directory / IMAGES_DIR).mkdir(exist_ok=True)
                new = []
                for image, picture, vector in zip(images, decoded, vectors):
                    sha = hashlib.sha256(image.data).hexdigest()
                    stored = f"{IMAGES_DIR}/{sha}{_EXTENSIONS.get(picture.format, '.img')}"
                    target = self.store.directory / stored
                    if not target.is_file() or target.stat().st_size != len(image.data):
                        existed = target.exists()
                        atomic_write_bytes(target, image.data)  # content-addressed: the same bytes, the same name
                        if not existed:
                            created.append(target)
                    new.append(NewItem(path=image.path or stored, label=image.label, sha256=sha,
                                       width=picture.width, height=picture.height, vector=vector,
                                       file_size=len(image.data), stored_file=stored))
                return self.store.add(new)
            except BaseException as exc:
                for path in created:
                    path.unlink(missing_ok=True)
                if is_disk_full(exc):
                    raise storage_full(exc, "nothing of this request was stored") from exc
                raise

    def remove(self, ids: Sequence[int]) -> list[int]:
        """Remove items in one transaction; every id must exist. Returns the ids removed."""
        with self.operation():
            ids = check_ids(ids, self.config.max_ids)
            self.stored_items(ids, then="; nothing was removed")
            return self.store.remove(ids)

    def info(self) -> EngineInfo:
        with self.operation():
            e = self.store.manifest.embedder
            return EngineInfo(
                item_count=len(self.store), dimension=self.store.dim, model=e.model, layer=e.layer,
                weights_choice=e.weights, weights_description=e.weights_description,
                weights_sha256=e.weights_sha256, pretrained=e.pretrained, metric=self.store.metric,
                faiss_factory=self.store.manifest.faiss_factory, uses_faiss=self.store.uses_faiss,
                device=self.embedder.device.type if self.embedder is not None else "none", versions=dict(self._versions), config=self.config,
                search=self.store.search_settings,
            )

