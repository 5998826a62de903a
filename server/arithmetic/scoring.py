"""Direction arithmetic over stored embeddings: combine example vectors, score every row exactly.

Pure NumPy, no index, no I/O: the engine gathers candidate rows (all of them, or the
neighbours of :meth:`Combination.candidate_queries` in an approximate index) and
:meth:`Combination.rank` re-scores them exactly, so an approximate index can only lose recall,
never reorder results. A :class:`Combination` is checked once, when it is made;
:func:`rank` and :func:`candidate_queries` make one and use it.

Each method follows its published reference; the docstrings of the ``_score_*`` functions
give the formula and the source. Conventions shared by all of them:

* A :class:`Term` with weight > 0 is a positive example, weight < 0 a negative one.
* Cosines are taken in float64; a stored row of norm zero has cosine 0 with everything.
* ``rank`` returns scores whose order is "best first": higher is better for every
  method and metric except ``average`` with metric ``"l2"``, whose score is FAISS's
  squared L2 distance to the query (ascending). Equal float32 scores go to the smaller id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from latentspace.indexer.unit_rows import unit_rows  # the one normaliser; re-exported for the arithmetic
from latentspace.server.config import ArithmeticLimits
from latentspace.server.errors import InvalidQuery

__all__ = [
    "COSMUL_EPSILON",
    "Combination",
    "METHODS",
    "Method",
    "Metric",
    "Term",
    "candidate_queries",
    "check_method",
    "check_term_count",
    "check_terms",
    "rank",
    "best_score",
    "scaled_fast_sigmoid",
    "sum_scores",
    "sum_scores_candidates",
    "unit_rows",
]

Method = Literal["add", "cosmul", "average", "best_score", "sum_scores"]
Metric = Literal["cosine", "l2"]
METHODS: tuple[str, ...] = ("add", "cosmul", "average", "best_score", "sum_scores")
METRICS: tuple[str, ...] = ("cosine", "l2")
_MAX_TERMS = ArithmeticLimits.max_terms
#: gensim's ``most_similar_cosmul`` keeps the quotient finite with this constant.
COSMUL_EPSILON = 1e-6
#: rank() converts stored rows to float64 this many values at a time (32 MiB).
_CHUNK_VALUES = 1 << 22


@dataclass(frozen=True)
class Term:
    """One example in a combination: its vector, its signed weight, and a name for errors."""

    vector: np.ndarray
    weight: float
    item_id: int | None = None
    name: str = ""

    @property
    def label(self) -> str:
        """How error messages refer to this term."""
        if self.name:
            return self.name
        return f"item {self.item_id}" if self.item_id is not None else "unnamed term"


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidQuery(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def check_term_count(count: int, max_terms: int = _MAX_TERMS) -> None:
    """At least one term and at most ``max_terms`` (checked before any term is resolved)."""
    if count == 0:
        raise InvalidQuery("empty combination: give at least one positive or negative term")
    if count > max_terms:
        raise InvalidQuery(f"too many terms: {count} given, at most {max_terms} allowed")


def check_terms(
    terms: Sequence[Term], *, dim: int | None = None, max_terms: int = _MAX_TERMS
) -> list[np.ndarray]:
    """Validate a combination and return its vectors as float64 (same order as ``terms``).

    Every rejection names the term at fault, so a client can tell which example to fix.
    """
    check_term_count(len(terms), max_terms)
    out: list[np.ndarray] = []
    for t in terms:
        v = np.asarray(t.vector, dtype=np.float64)
        if v.ndim != 1:
            raise InvalidQuery(f"{t.label}: vector must be 1-D, got shape {v.shape}")
        if dim is None:
            dim = v.shape[0]
        if v.shape[0] != dim:
            raise InvalidQuery(f"{t.label}: dimension {v.shape[0]} does not match {dim}")
        if not np.all(np.isfinite(v)):
            raise InvalidQuery(f"{t.label}: vector contains NaN or inf")
        if not np.any(v):
            raise InvalidQuery(f"{t.label}: vector is all zeros, it has no direction")
        w = float(t.weight)
        if not np.isfinite(w):
            raise InvalidQuery(f"{t.label}: weight {t.weight} is not finite")
        if w == 0.0:
            raise InvalidQuery(f"{t.label}: weight is zero; use > 0 for positive, < 0 for negative")
        out.append(v)
    return out


Side = tuple[np.ndarray, np.ndarray]


def _split(terms: Sequence[Term], vecs: list[np.ndarray]) -> tuple[Side, Side]:
    """(vectors, |weights|) of the positive terms, then of the negative terms."""
    d = vecs[0].shape[0]

    def side(keep: Callable[[float], bool]) -> Side:
        idx = [i for i, t in enumerate(terms) if keep(float(t.weight))]
        m = np.stack([vecs[i] for i in idx]) if idx else np.zeros((0, d))
        return m, np.array([abs(float(terms[i].weight)) for i in idx])

    return side(lambda w: w > 0), side(lambda w: w < 0)


def _no_positive(method: str, terms: Sequence[Term]) -> InvalidQuery:
    names = ", ".join(t.label for t in terms)
    return InvalidQuery(f"{method} needs a positive term (weight > 0); all are negative: {names}")


def _add_query(terms: Sequence[Term], vecs: list[np.ndarray]) -> np.ndarray:
    """unit(Σ wᵢ·v̂ᵢ / Σ|wᵢ|): gensim's weighted mean of unit vectors, unit-normalised."""
    w = np.array([float(t.weight) for t in terms])
    q = (w[:, None] * unit_rows(np.stack(vecs))).sum(axis=0) / np.abs(w).sum()
    norm = np.linalg.norm(q)
    if norm <= 1e-12:
        names = ", ".join(t.label for t in terms)
        raise InvalidQuery(f"the terms cancel out, their combination has no direction: {names}")
    return q / norm


def _average_query(terms: Sequence[Term], vecs: list[np.ndarray], metric: str) -> np.ndarray:
    """2·mean(pos) − mean(neg), or mean(pos) alone; |w| weight the means.

    The means are over the vectors as the index compares them: unit-normalised for metric
    "cosine" (as Qdrant normalises vectors on upload to a Cosine collection), raw for "l2".
    """
    if metric == "cosine":
        vecs = list(unit_rows(np.stack(vecs)))
    (pos, pw), (neg, nw) = _split(terms, vecs)
    if len(pos) == 0:
        raise _no_positive("average", terms)
    q = (pw[:, None] * pos).sum(axis=0) / pw.sum()
    if len(neg):
        q = 2.0 * q - (nw[:, None] * neg).sum(axis=0) / nw.sum()
    if metric == "cosine" and np.linalg.norm(q) <= 1e-12:
        names = ", ".join(t.label for t in terms)
        raise InvalidQuery(f"the terms cancel out, their average has no direction: {names}")
    return q


Scorer = Callable[[np.ndarray], np.ndarray]


def _sims(x: np.ndarray, m: np.ndarray, metric: str) -> np.ndarray:
    """(n, len(m)) similarities, each row computed on its own (multiply, then sum).

    A BLAS product would be faster but may round a row differently depending on where it
    sits in the block; then duplicate images would not tie and a row's score would depend
    on which candidate set it arrived in. "cosine": cos(x, v); "l2": −‖x − v‖².
    """
    if metric == "cosine":
        x, m = unit_rows(x), unit_rows(m)
        cols = [(x * v).sum(axis=1) for v in m]
    else:
        cols = [-((x - v) ** 2).sum(axis=1) for v in m]
    return np.stack(cols, axis=1) if cols else np.zeros((len(x), 0))


def _score_add(terms: Sequence[Term], vecs: list[np.ndarray]) -> Scorer:
    """3CosAdd (gensim ``KeyedVectors.most_similar``; Mikolov et al. 2013).

    q = unit(Σ wᵢ·v̂ᵢ / Σ|wᵢ|) with v̂ = v/‖v‖; score(x) = cos(x, q), higher is better.
    Cosine whatever the index metric, as the reference defines it.
    """
    q = _add_query(terms, vecs)[None, :]
    return lambda x: _sims(x, q, "cosine")[:, 0]


def _score_cosmul(terms: Sequence[Term], vecs: list[np.ndarray]) -> Scorer:
    """3CosMul (gensim ``most_similar_cosmul``; Levy & Goldberg 2014, "Linguistic
    Regularities in Sparse and Explicit Word Representations").

    c′(x, v) = (1 + cos(x, v)) / 2 ∈ [0, 1];
    score(x) = Π_pos c′(x, v)^|w| / (Π_neg c′(x, v)^|w| + 1e-6), higher is better.
    Weight ±1 gives the plain published formula; an empty product is 1, as in gensim.
    Cosine whatever the index metric.
    """
    (pos, pw), (neg, nw) = _split(terms, vecs)
    if len(pos) == 0:
        raise _no_positive("cosmul", terms)

    def score(x: np.ndarray) -> np.ndarray:
        num = np.prod(((1.0 + _sims(x, pos, "cosine")) / 2.0) ** pw, axis=1)
        den = np.prod(((1.0 + _sims(x, neg, "cosine")) / 2.0) ** nw, axis=1)
        return num / (den + COSMUL_EPSILON)

    return score


def _score_average(terms: Sequence[Term], vecs: list[np.ndarray], metric: str) -> Scorer:
    """Qdrant recommend strategy ``average_vector``: q = 2·mean(pos) − mean(neg).

    Metric "cosine": score = cos(x, q), higher is better.
    Metric "l2": score = ‖x − q‖² (FAISS's squared L2 distance), LOWER is better.
    """
    q = _average_query(terms, vecs, metric)[None, :]
    if metric == "cosine":
        return lambda x: _sims(x, q, "cosine")[:, 0]
    return lambda x: -_sims(x, q, "l2")[:, 0]


def scaled_fast_sigmoid(x: np.ndarray) -> np.ndarray:
    """(x / (1 + |x|) + 1) / 2: strictly increasing from (−∞, ∞) onto (0, 1), as Qdrant uses."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (x / (1.0 + np.abs(x)) + 1.0)


def best_score(pos_sims: np.ndarray, neg_sims: np.ndarray) -> np.ndarray:
    """Per row: s(max pos) if max pos > max neg else −s(max neg), s = :func:`scaled_fast_sigmoid`.

    Qdrant's ``best_score`` as its ``reco_query.rs`` scores it today. The older form
    "sim_pos if sim_pos > sim_neg else −sim_neg²" is right only for similarities ≥ 0: with the
    l2 similarity −‖x − v‖² it put the rows *nearest* a negative first. Here every row closer to
    a positive ranks above every row closer to a negative, and within each branch the order is
    that of the similarity, whatever its sign. An empty side counts as −∞, so with negatives
    only the rows least like every negative come first.
    """
    sp = np.asarray(pos_sims, dtype=np.float64).max(axis=1, initial=-np.inf)
    sn = np.asarray(neg_sims, dtype=np.float64).max(axis=1, initial=-np.inf)
    positive = sp > sn
    squashed = scaled_fast_sigmoid(np.where(positive, sp, sn))  # the side that decides, finite
    return np.where(positive, squashed, -squashed)


def sum_scores(sims: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Σᵢ wᵢ·sim(x, vᵢ) per row: with weights ±1, Σ sim(x, pᵢ) − Σ sim(x, nⱼ), Qdrant's formula."""
    return np.asarray(sims, dtype=np.float64) @ np.asarray(weights, dtype=np.float64)


def sum_scores_candidates(terms: Sequence[Term], vecs: list[np.ndarray], metric: str) -> np.ndarray:
    """Queries (m, d) float32 whose nearest neighbours are exactly the best ``sum_scores`` rows.

    Cosine: Σ wᵢ·cos(x, vᵢ) = cos(x, q)·‖q‖ with q = Σ wᵢ·v̂ᵢ, so the one query q (unit length).
    l2 with W = Σ wᵢ > 0: Σ wᵢ·(−‖x − vᵢ‖²) = −W·‖x − c‖² + const with c = Σ wᵢvᵢ / W, so c.
    Otherwise (terms that cancel, or W ≤ 0 on l2, which rewards distance) no neighbour query
    finds the winners: the result has no rows, meaning "score every row exactly".
    """
    w = np.array([float(t.weight) for t in terms])
    m = np.stack(vecs)
    if metric == "cosine":
        q = w @ unit_rows(m)
        norm = np.linalg.norm(q)
        return (q / norm)[None, :].astype(np.float32) if norm > 1e-12 else np.zeros((0, m.shape[1]), np.float32)
    total = w.sum()
    if total <= 1e-12:
        return np.zeros((0, m.shape[1]), np.float32)
    return ((w @ m) / total)[None, :].astype(np.float32)


def _score_best(terms: Sequence[Term], vecs: list[np.ndarray], metric: str) -> Scorer:
    """Qdrant recommend strategy ``best_score`` (see :func:`best_score`); higher is better.

    sim is cosine for metric "cosine" and, for "l2", Qdrant's Euclid similarity −‖x − v‖².
    """
    (pos, _), (neg, _) = _split(terms, vecs)
    return lambda x: best_score(_sims(x, pos, metric), _sims(x, neg, metric))


def _score_sum(terms: Sequence[Term], vecs: list[np.ndarray], metric: str) -> Scorer:
    """Qdrant recommend strategy ``sum_scores`` (see :func:`sum_scores`); higher is better."""
    weights = np.array([float(t.weight) for t in terms])
    m = np.stack(vecs)
    return lambda x: sum_scores(_sims(x, m, metric), weights)


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InvalidQuery(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


@dataclass(frozen=True)
class Combination:
    """A checked combination of terms: its method, the metric it is scored under and the terms'
    vectors in float64. Make one with :meth:`of`; it then ranks rows and proposes candidates."""

    method: Method
    metric: Metric
    terms: tuple[Term, ...]
    vectors: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, method: Method, terms: Sequence[Term], *, metric: Metric, dim: int | None = None,
           max_terms: int = _MAX_TERMS) -> Combination:
        """Check the method, the metric and every term (against ``dim`` when given)."""
        check_method(method)
        _check_metric(metric)
        return cls(method, metric, tuple(terms), tuple(check_terms(terms, dim=dim, max_terms=max_terms)))

    def _scorer(self) -> Scorer:
        terms, vecs = self.terms, list(self.vectors)
        if self.method == "add":
            return _score_add(terms, vecs)
        if self.method == "cosmul":
            return _score_cosmul(terms, vecs)
        if self.method == "average":
            return _score_average(terms, vecs, self.metric)
        if self.method == "sum_scores":
            return _score_sum(terms, vecs, self.metric)
        return _score_best(terms, vecs, self.metric)

    def rank(self, vectors: np.ndarray, ids: np.ndarray, *, k: int,
             exclude_ids: set[int] | frozenset[int] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
        """Score every given row exactly and return (scores float32, ids int64), best first.

        ``vectors`` are the raw stored rows (all of them, or candidates from an approximate
        index); ``ids`` their ids. At most ``k`` results, rows whose id is in ``exclude_ids``
        never returned; the input terms are not excluded unless listed there. Scores are
        computed in float64 and ordered as the float32 values returned, equal ones by smaller
        id, so the order a client sees always agrees with the scores it sees.
        """
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise InvalidQuery(f"k must be a positive integer, got {k!r}")
        vectors, ids = np.asarray(vectors), np.asarray(ids, dtype=np.int64)
        if np.ndim(vectors) != 2 or ids.shape != (len(vectors),):
            raise InvalidQuery(f"vectors {np.shape(vectors)} and ids {ids.shape} are not (n, d), (n,)")
        if np.shape(vectors)[1] != len(self.vectors[0]):
            raise InvalidQuery(f"rows have dimension {np.shape(vectors)[1]}, the terms {len(self.vectors[0])}")
        scorer = self._scorer()
        if exclude_ids:
            keep = ~np.isin(ids, np.fromiter(exclude_ids, dtype=np.int64))
            vectors, ids = vectors[keep], ids[keep]
        chunk = max(1, _CHUNK_VALUES // max(1, np.shape(vectors)[1]))  # bounds float64 copies
        parts = [scorer(np.asarray(vectors[i : i + chunk], dtype=np.float64))
                 for i in range(0, len(ids), chunk)]
        scores = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
        best_key = scores if (self.method == "average" and self.metric == "l2") else -scores
        order = np.lexsort((ids, best_key))[: int(k)]
        return scores[order], ids[order]

    def candidate_queries(self) -> np.ndarray:
        """Queries (m, d) float32 to send to the approximate index before :meth:`rank`.

        add/average: the one combined query. sum_scores: :func:`sum_scores_candidates` (no rows:
        score every row). cosmul/best_score: each positive term, plus the
        add-combination when there is more than one term (3CosMul's and best_score's winners
        tend to sit near it, and for best_score with only negatives it is the only query).
        For metric "cosine" the rows are unit length. For "l2" term rows are raw and the add
        direction is scaled to the terms' mean norm, so it lands among the stored vectors.
        """
        method, metric, terms, vecs = self.method, self.metric, self.terms, list(self.vectors)
        mean_norm = float(np.mean([np.linalg.norm(v) for v in vecs]))
        scale = 1.0 if metric == "cosine" else mean_norm
        if method == "add":
            rows = [_add_query(terms, vecs) * scale]
        elif method == "sum_scores":
            return sum_scores_candidates(terms, vecs, metric)
        elif method == "average":
            q = _average_query(terms, vecs, metric)
            rows = [q / np.linalg.norm(q) if metric == "cosine" else q]
        else:
            (pos, _), _neg = _split(terms, vecs)
            if method == "cosmul" and len(pos) == 0:
                raise _no_positive("cosmul", terms)
            rows = list(unit_rows(pos) if metric == "cosine" else pos)
            if len(terms) > 1:
                try:
                    rows.append(_add_query(terms, vecs) * scale)
                except InvalidQuery:
                    if not rows:  # only negatives, and they cancel: nothing to search near
                        raise
        return np.stack(rows).astype(np.float32)


def rank(
    method: Method,
    terms: Sequence[Term],
    *,
    vectors: np.ndarray,
    ids: np.ndarray,
    metric: Metric,
    k: int,
    exclude_ids: set[int] | frozenset[int] = frozenset(),
    max_terms: int = _MAX_TERMS,
) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`Combination.rank` of a combination made (and checked) here."""
    dim = np.shape(vectors)[1] if np.ndim(vectors) == 2 else None
    combination = Combination.of(method, terms, metric=metric, dim=dim, max_terms=max_terms)
    return combination.rank(vectors, ids, k=k, exclude_ids=exclude_ids)


def candidate_queries(
    method: Method,
    terms: Sequence[Term],
    *,
    metric: Metric,
    max_terms: int = _MAX_TERMS,
) -> np.ndarray:
    """:meth:`Combination.candidate_queries` of a combination made (and checked) here."""
    return Combination.of(method, terms, metric=metric, max_terms=max_terms).candidate_queries()
