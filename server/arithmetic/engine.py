"""Direction arithmetic over a served index: combinations, shifts and walks, scored exactly.

:class:`ArithmeticEngine` sits beside the :class:`SearchEngine` it is given and shares its store,
embedder, batcher, resolver and lifecycle. It checks a request where it enters
(:mod:`~latentspace.server.arithmetic.requests`), resolves its terms to vectors, gathers the rows
to score and hands them to the pure core (:class:`~latentspace.server.arithmetic.scoring.Combination`,
:mod:`~latentspace.server.arithmetic.trajectories`):

* a Flat index (or one whose FAISS index is not trained yet): every stored row, read from the
  vector files in chunks with only the best rows kept (:mod:`~latentspace.server.search.exact_top`),
  so a request never holds n·d floats; a ``sum_scores`` with no neighbour query is scored so too;
* an approximate index (IVF…, HNSW…): the union of the FAISS neighbours of the combination's
  candidate queries (or of each point of a path), ``max(candidate_factor·k, min_candidates)``
  per query, re-scored exactly on the stored vectors.

So scores are always exact; an approximate index can only miss items, never misorder them.
Like the search engine it raises the exceptions of :mod:`latentspace.server.errors` and never
imports gRPC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from latentspace.server.arithmetic.directions import DirectionBook
from latentspace.server.arithmetic.requests import (
    CombineRequest,
    DiscoverRequest,
    PathResult,
    ShiftRequest,
    WalkRequest,
    check_combine,
    check_shift,
    check_walk,
)
from latentspace.server.arithmetic.scoring import Combination, Term
from latentspace.server.arithmetic.trajectories import interpolate, shift_points, walk_rows
from latentspace.server.config import ArithmeticLimits
from latentspace.server.search.deadline import NO_DEADLINE, Deadline
from latentspace.server.search.discovery import DEFAULT_MAX_PAIRS, check_context, discovery_candidates, rank_discovery
from latentspace.server.search.engine import Scope, SearchEngine
from latentspace.server.search.exact_top import RankChunk
from latentspace.server.search.queries import ItemQuery, Named, SearchResult, Source, describe

__all__ = ["ArithmeticEngine", "score_name"]

Rows = tuple[np.ndarray, np.ndarray]
"""``(ids (n,), vectors (n, d))`` of stored items to score."""


def score_name(method: str, metric: str) -> str:
    """What a Combine score is: ``cosine``, ``l2`` (squared distance, ascending), ``cosmul``, ``best_score``
    or ``sum_scores``."""
    if method == "average":
        return metric
    return "cosine" if method == "add" else method


def _item_ids(sources: Iterable[Source]) -> set[int]:
    return {int(s.item_id) for s in sources if isinstance(s, ItemQuery)}


def _nearest(point: np.ndarray, label: str, metric: str, exclude: set[int]) -> RankChunk:
    """Rows ranked by closeness to one point under the index metric (``average`` of one term)."""
    combination = Combination.of("average", [Term(point, 1.0, name=label)], metric=metric)
    return lambda rows, ids, k: combination.rank(rows, ids, k=k, exclude_ids=exclude)


class ArithmeticEngine:
    """Combine, Shift, Walk and the named directions of one engine's index."""

    def __init__(self, engine: SearchEngine, limits: ArithmeticLimits | None = None) -> None:
        self.engine = engine
        self.limits = limits if limits is not None else engine.config.arithmetic
        self.directions = DirectionBook(engine, self.limits)

    @property
    def exact(self) -> bool:
        """True when every stored row is scored: a Flat index, or one FAISS cannot search yet."""
        return self.engine.exact

    # -- the RPCs ------------------------------------------------------------------------------

    def combine(self, request: CombineRequest, *, deadline: Deadline = NO_DEADLINE) -> SearchResult:
        """Items ranked by a combination of terms; see :class:`~latentspace.server.arithmetic.scoring.Combination`."""
        with self.engine.operation():
            name = score_name(request.method, self.engine.store.metric)
            scope = self.engine.scope(request.options, score_metric="l2" if name == "l2" else "cosine")
            check_combine(request, self.limits)
            self.engine.require_items()
            terms = request.terms
            vectors = self.engine.resolve(terms, deadline=deadline)
            deadline.check("before scoring")
            store = self.engine.store
            combination = Combination.of(  # the terms' vectors, checked before gathering rows
                request.method,
                [Term(v, t.weight, t.source.item_id if isinstance(t.source, ItemQuery) else None, t.label)
                 for t, v in zip(terms, vectors)],
                metric=store.metric, dim=store.dim, max_terms=self.limits.max_terms)
            exclude = set() if request.options.include_self else _item_ids(t.source for t in terms)
            if scope.nothing_allowed:
                return SearchResult((), name)
            queries = None if self.exact else combination.candidate_queries()
            candidates = self.limits.candidates(scope.ranked) + len(exclude)
            if queries is None or len(queries) == 0:  # sum_scores may have no neighbour query: score all
                return self.engine.exact_result(
                    scope, lambda v, i, k: combination.rank(v, i, k=k, exclude_ids=exclude),
                    metric=name, candidates=candidates)
            ids, rows = self._candidates(queries, candidates, scope.allowed)
            if scope.refinement is None:
                return self.engine.results([combination.rank(rows, ids, k=scope.k, exclude_ids=exclude)], name)[0]
            scores, ranked = combination.rank(rows, ids, k=max(1, len(ids)), exclude_ids=exclude)
            return self.engine.refined_result(scope, scores, ranked, rows[np.searchsorted(ids, ranked)], metric=name)

    def discover(self, request: DiscoverRequest, *, deadline: Deadline = NO_DEADLINE) -> SearchResult:
        """Items ranked by context pairs satisfied, then by similarity to the target; see
        :mod:`~latentspace.server.search.discovery`. Scores are named "discovery", higher better."""
        with self.engine.operation():
            scope = self.engine.scope(request.options, score_metric="cosine")
            store = self.engine.store
            if not request.pairs:  # before resolving anything
                check_context(None, (), dim=store.dim, metric=store.metric, max_pairs=DEFAULT_MAX_PAIRS)
            if len(request.pairs) > DEFAULT_MAX_PAIRS:
                check_context(None, request.pairs, dim=store.dim, metric=store.metric, max_pairs=DEFAULT_MAX_PAIRS)
            self.engine.require_items()
            entries = ([request.target] if request.target is not None else []) + [e for p in request.pairs for e in p]
            vectors = list(self.engine.resolve(entries, deadline=deadline))
            deadline.check("before scoring")
            target = vectors.pop(0) if request.target is not None else None
            query = check_context(target, list(zip(vectors[0::2], vectors[1::2])), dim=store.dim, metric=store.metric,
                                  max_pairs=DEFAULT_MAX_PAIRS)
            exclude = set() if request.options.include_self else _item_ids(e.source for e in entries)
            if scope.nothing_allowed:
                return SearchResult((), "discovery")
            candidates = self.limits.candidates(scope.ranked) + len(exclude)

            def rank(rows: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
                return rank_discovery(query, vectors=rows, ids=ids, metric=store.metric, k=k, exclude_ids=exclude)[:2]

            if self.exact:
                return self.engine.exact_result(scope, rank, metric="discovery", candidates=candidates)
            ids, rows = self._candidates(discovery_candidates(query, store.metric), candidates, scope.allowed)
            if scope.refinement is None:
                return self.engine.results([rank(rows, ids, scope.k)], "discovery")[0]
            scores, ranked = rank(rows, ids, max(1, len(ids)))
            return self.engine.refined_result(scope, scores, ranked, rows[np.searchsorted(ids, ranked)],
                                              metric="discovery")

    def shift(self, request: ShiftRequest, *, deadline: Deadline = NO_DEADLINE) -> PathResult:
        """Neighbours of start + α·‖start‖·unit(direction), one row per α."""
        with self.engine.operation():
            scope = self.engine.scope(request.options)
            alphas = check_shift(request, self.limits)
            self.engine.require_items()
            entries = [Named(request.start, f"start ({describe(request.start)})"),
                       Named(request.direction, f"direction ({describe(request.direction)})")]
            start, direction = self.engine.resolve(entries, nonzero=True, deadline=deadline)
            deadline.check("before scoring")
            points = shift_points(start, direction, alphas, max_steps=self.limits.max_steps,
                                  max_alpha=self.limits.max_alpha)
            exclude = set() if request.options.include_self else _item_ids([request.start])
            labels = [f"point α={a:g}" for a in alphas]
            rows = self._neighbours(points, labels, [scope.k] * len(alphas), exclude, scope)
            return PathResult(alphas, tuple(self.engine.results(rows)))

    def walk(self, request: WalkRequest, *, deadline: Deadline = NO_DEADLINE) -> PathResult:
        """Neighbours of ``steps`` points from start to end; with ``unique`` each item shows once."""
        with self.engine.operation():
            scope = self.engine.scope(request.options)
            steps = check_walk(request, self.limits)
            self.engine.require_items()
            entries = [Named(request.start, f"start ({describe(request.start)})"),
                       Named(request.end, f"end ({describe(request.end)})")]
            a, b = self.engine.resolve(entries, nonzero=True, deadline=deadline)
            deadline.check("before scoring")
            points = interpolate(a, b, steps, request.mode, max_steps=self.limits.max_steps)
            exclude = set() if request.options.include_self else _item_ids([request.start, request.end])
            positions = np.linspace(0.0, 1.0, steps).tolist()
            # With unique, step i may lose up to k·i items shown before it: rank enough to refill.
            k = scope.k
            counts = [k * (i + 1) if request.unique else k for i in range(steps)]
            labels = [f"point t={t:.3g}" for t in positions]
            rows = walk_rows(self._neighbours(points, labels, counts, exclude, scope), k=k, unique=request.unique)
            return PathResult(tuple(positions), tuple(self.engine.results(rows)))

    # -- rows to score -------------------------------------------------------------------------

    def _candidates(self, queries: np.ndarray, count: int, allowed: np.ndarray | None) -> Rows:
        """The union of each query's ``count`` FAISS neighbours, with their stored vectors.

        A label filter that leaves no more than ``count`` items is scored outright instead: it is
        cheaper, and an IVF index probing few lists could otherwise find none of them.
        """
        store = self.engine.store
        if allowed is not None and len(allowed) <= count:
            ids = np.asarray(allowed, dtype=np.int64).tolist()
        else:
            _, found = store.search(queries, count, allowed_ids=allowed)
            ids = np.unique(found[found >= 0]).tolist()
        return self.engine._live_rows(ids)

    def _neighbours(self, points: np.ndarray, labels: Sequence[str], counts: Sequence[int], exclude: set[int],
                    scope: Scope) -> list[tuple[np.ndarray, np.ndarray]]:
        """Best-first ``(scores, ids)`` of each point under the index metric, ``counts[i]`` rows.

        One point is the single positive term of ``average``: plain nearest-neighbour search.
        """
        store = self.engine.store
        if scope.nothing_allowed:
            empty = (np.zeros(0, np.float32), np.zeros(0, np.int64))
            return [empty for _ in points]
        ranks = [_nearest(p, label, store.metric, exclude) for p, label in zip(points, labels)]
        if self.exact:
            tops = self.engine.exact_tops(ranks, counts, scope.allowed, lower_is_better=store.metric == "l2")
            return [(top.scores, top.ids) for top in tops]
        ids, rows = self._candidates(points, self.limits.candidates(max(counts)) + len(exclude), scope.allowed)
        return [rank(rows, ids, count) for rank, count in zip(ranks, counts)]
