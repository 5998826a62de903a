"""Direction arithmetic over a served index: combinations, shifts and walks, scored exactly.

:class:`ArithmeticEngine` sits beside the :class:`SearchEngine` it is given and shares its store,
embedder, batcher and lifecycle. It resolves a request's terms to vectors
(:mod:`latentspace.server.terms`), gathers the rows to score and hands them to the pure core
(:func:`~latentspace.server.arithmetic.rank`, :mod:`latentspace.server.paths`):

* a Flat index (or one whose FAISS index is not trained yet): every stored row;
* an approximate index (IVF…, HNSW…): the union of the FAISS neighbours of
  :func:`~latentspace.server.arithmetic.candidate_queries` (or of each point of a path),
  ``max(candidate_factor·k, min_candidates)`` per query, re-scored exactly on the stored vectors.

So scores are always exact; an approximate index can only miss items, never misorder them.
Like the search engine it raises the exceptions of :mod:`latentspace.server.errors` (and the
core's :class:`~latentspace.server.arithmetic.QueryError`) and never imports gRPC.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latentspace.server.arith_config import ArithmeticLimits
from latentspace.server.arith_queries import CombineRequest, Labelled, PathResult, ShiftRequest, WalkRequest, describe
from latentspace.server.arithmetic import METHODS, QueryError, Term, candidate_queries, check_terms, rank
from latentspace.server.deadline import NO_DEADLINE, Deadline
from latentspace.server.directions import DirectionBook
from latentspace.server.engine import SearchEngine
from latentspace.server.errors import EmptyIndex
from latentspace.server.paths import interpolate, shift_points, walk_rows
from latentspace.server.queries import Hit, ItemQuery, SearchOptions, SearchResult
from latentspace.server.terms import resolve
from latentspace.server.validation import check_k, check_labels

__all__ = ["ArithmeticEngine", "score_name"]

Rows = tuple[np.ndarray, np.ndarray]
"""``(ids (n,), vectors (n, d))`` of stored items to score."""


def score_name(method: str, metric: str) -> str:
    """What a Combine score is: ``cosine``, ``l2`` (squared distance, ascending), ``cosmul`` or ``best_score``."""
    if method == "average":
        return metric
    return "cosine" if method == "add" else method


def _item_ids(queries: Sequence[object]) -> set[int]:
    return {int(q.item_id) for q in queries if isinstance(q, ItemQuery)}


class ArithmeticEngine:
    """Combine, Shift, Walk and the named directions of one engine's index."""

    def __init__(self, engine: SearchEngine, limits: ArithmeticLimits | None = None) -> None:
        self.engine = engine
        self.limits = limits if limits is not None else engine.config.arithmetic
        self.directions = DirectionBook(engine, self.limits)

    @property
    def exact(self) -> bool:
        """True when every stored row is scored: a Flat index, or one FAISS cannot search yet."""
        store = self.engine.store
        return not store.uses_faiss or store.manifest.faiss_factory.replace(" ", "") == "Flat"

    # -- the RPCs ------------------------------------------------------------------------------

    def combine(self, request: CombineRequest, *, deadline: Deadline = NO_DEADLINE) -> SearchResult:
        """Items ranked by a combination of terms; see :func:`~latentspace.server.arithmetic.rank`."""
        with self.engine._operation():
            k, allowed = self._options(request.options)
            if request.method not in METHODS:
                raise QueryError(f"unknown method {request.method!r}; choose one of {', '.join(METHODS)}")
            terms = request.terms
            if not terms:
                raise QueryError("empty combination: give at least one positive or negative term")
            if len(terms) > self.limits.max_terms:
                raise QueryError(f"too many terms: {len(terms)} given, at most {self.limits.max_terms} allowed")
            self._require_items()
            vectors = resolve(self.engine, [Labelled(t.source, t.label) for t in terms], deadline=deadline)
            deadline.check("before scoring")
            core = [Term(v, t.weight, t.source.item_id if isinstance(t.source, ItemQuery) else None, t.label)
                    for t, v in zip(terms, vectors)]
            store = self.engine.store
            check_terms(core, dim=store.dim, max_terms=self.limits.max_terms)  # before gathering rows
            exclude = set() if request.options.include_self else _item_ids(t.source for t in terms)
            name = score_name(request.method, store.metric)
            if allowed is not None and len(allowed) == 0:
                return SearchResult((), name)
            if self.exact:
                ids, rows = self._all_rows(allowed)
            else:
                queries = candidate_queries(request.method, core, metric=store.metric, max_terms=self.limits.max_terms)
                ids, rows = self._candidates(queries, self.limits.candidates(k) + len(exclude), allowed)
            scores, found = rank(request.method, core, vectors=rows, ids=ids, metric=store.metric, k=k,
                                 exclude_ids=exclude, max_terms=self.limits.max_terms)
            return self._result(scores, found, name)

    def shift(self, request: ShiftRequest, *, deadline: Deadline = NO_DEADLINE) -> PathResult:
        """Neighbours of start + α·‖start‖·unit(direction), one row per α."""
        with self.engine._operation():
            k, allowed = self._options(request.options)
            alphas = [float(a) for a in request.alphas]
            if not 1 <= len(alphas) <= self.limits.max_steps:
                raise QueryError(f"alphas: give 1 to {self.limits.max_steps} strengths, got {len(alphas)}")
            for i, alpha in enumerate(alphas):
                if not np.isfinite(alpha) or abs(alpha) > self.limits.max_alpha:
                    raise QueryError(f"alphas[{i}]: strength {alpha} is outside "
                                     f"[-{self.limits.max_alpha:g}, {self.limits.max_alpha:g}]")
            self._require_items()
            entries = [Labelled(request.start, f"start ({describe(request.start)})"),
                       Labelled(request.direction, f"direction ({describe(request.direction)})")]
            start, direction = resolve(self.engine, entries, nonzero=True, deadline=deadline)
            deadline.check("before scoring")
            points = shift_points(start, direction, alphas, max_steps=self.limits.max_steps,
                                  max_alpha=self.limits.max_alpha)
            exclude = set() if request.options.include_self else _item_ids([request.start])
            labels = [f"point α={a:g}" for a in alphas]
            rows = self._neighbours(points, labels, [k] * len(alphas), exclude, allowed)
            return PathResult(tuple(alphas), tuple(self._result(s, i, self.engine.store.metric) for s, i in rows))

    def walk(self, request: WalkRequest, *, deadline: Deadline = NO_DEADLINE) -> PathResult:
        """Neighbours of ``steps`` points from start to end; with ``unique`` each item shows once."""
        with self.engine._operation():
            k, allowed = self._options(request.options)
            steps, max_steps = request.steps, self.limits.max_steps
            if isinstance(steps, bool) or int(steps) != steps or not 2 <= steps <= max_steps:
                raise QueryError(f"steps: must be an integer in [2, {max_steps}], got {steps!r}")
            if request.mode not in ("linear", "slerp"):
                raise QueryError(f"interpolation: unknown {request.mode!r}; choose linear or slerp")
            self._require_items()
            entries = [Labelled(request.start, f"start ({describe(request.start)})"),
                       Labelled(request.end, f"end ({describe(request.end)})")]
            a, b = resolve(self.engine, entries, nonzero=True, deadline=deadline)
            deadline.check("before scoring")
            points = interpolate(a, b, int(steps), request.mode, max_steps=max_steps)
            exclude = set() if request.options.include_self else _item_ids([request.start, request.end])
            positions = np.linspace(0.0, 1.0, int(steps)).tolist()
            # With unique, step i may lose up to k·i items shown before it: rank enough to refill.
            counts = [k * (i + 1) if request.unique else k for i in range(int(steps))]
            labels = [f"point t={t:.3g}" for t in positions]
            rows = walk_rows(self._neighbours(points, labels, counts, exclude, allowed), k=k, unique=request.unique)
            return PathResult(tuple(positions), tuple(self._result(s, i, self.engine.store.metric) for s, i in rows))

    # -- rows to score -------------------------------------------------------------------------

    def _options(self, options: SearchOptions) -> tuple[int, np.ndarray | None]:
        """k, and the ids the label filter allows (None: no filter)."""
        k = check_k(options.k, self.engine.config.max_k)
        labels = check_labels(options.labels)
        return k, (self.engine.store.db.ids_with_labels(labels) if labels else None)

    def _require_items(self) -> None:
        if len(self.engine.store) == 0:
            raise EmptyIndex("the index holds no items yet; add images before searching")

    def _all_rows(self, allowed: np.ndarray | None) -> Rows:
        ids, vectors = self.engine.store.snapshot()
        if allowed is None:
            return ids, vectors
        keep = np.isin(ids, allowed)
        return ids[keep], vectors[keep]

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
        while True:
            try:
                return np.asarray(ids, dtype=np.int64), store.vectors(ids)
            except KeyError as exc:  # removed since the search by a concurrent request
                ids.remove(int(exc.args[0]))

    def _neighbours(self, points: np.ndarray, labels: Sequence[str], counts: Sequence[int], exclude: set[int],
                    allowed: np.ndarray | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Best-first ``(scores, ids)`` of each point under the index metric, ``counts[i]`` rows.

        One point is the single positive term of ``average``: plain nearest-neighbour search.
        """
        store = self.engine.store
        if allowed is not None and len(allowed) == 0:
            empty = (np.zeros(0, np.float32), np.zeros(0, np.int64))
            return [empty for _ in points]
        if self.exact:
            ids, rows = self._all_rows(allowed)
        else:
            ids, rows = self._candidates(points, self.limits.candidates(max(counts)) + len(exclude), allowed)
        return [rank("average", [Term(p, 1.0, name=label)], vectors=rows, ids=ids, metric=store.metric, k=count,
                     exclude_ids=exclude)
                for p, label, count in zip(points, labels, counts)]

    def _result(self, scores: np.ndarray, ids: np.ndarray, metric: str) -> SearchResult:
        items = self.engine.store.items(ids.tolist())
        # An id may vanish between scoring and this lookup when a remove runs alongside.
        hits = tuple(Hit(i, float(s), items[i].path, items[i].label)
                     for s, i in zip(scores.tolist(), ids.tolist()) if i in items)
        return SearchResult(hits, metric)
