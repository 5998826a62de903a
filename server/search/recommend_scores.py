"""Two recommend strategies of Qdrant: ``sum_scores``, and ``best_score`` scored so that its order
holds on both metrics and for similarities of either sign.

Pure NumPy. The scores themselves now live in the arithmetic scoring module (Combine's
``best_score`` and ``sum_scores``); :func:`rank_recommend` ranks with them under the same
conventions as its ``rank`` (exact float64 scores, returned as float32, best first, equal
scores by smaller id).

Why a new ``best_score``: the formula "sim_pos if sim_pos > sim_neg else −sim_neg²" orders the
negative-chosen rows by −sim_neg², which is right only while similarities are non-negative.
With the l2 similarity −‖x − v‖² (always ≤ 0) it puts the rows *nearest* a negative first.
Qdrant's current ``reco_query.rs`` maps both branches through a monotone squashing function
instead, and so do we: with s(x) = (x / (1 + |x|) + 1) / 2 ∈ (0, 1),

    score = s(sim_pos)   if sim_pos > sim_neg      (in (0, 1): more like a positive is better)
    score = −s(sim_neg)  otherwise                 (in (−1, 0): more like a negative is worse)

so every row closer to a positive ranks above every row closer to a negative, and within each
branch the order is that of the similarity, whatever its sign.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from latentspace.server.arithmetic.scoring import Term, best_score, check_terms, scaled_fast_sigmoid, sum_scores
from latentspace.server.arithmetic.scoring import sum_scores_candidates as _sum_scores_candidates
from latentspace.server.config import ArithmeticLimits
from latentspace.server.errors import InvalidQuery
from latentspace.server.search.similarity import check_metric, check_rows, similarities

__all__ = ["STRATEGIES", "Strategy", "best_score", "rank_recommend", "scaled_fast_sigmoid",
           "sum_scores", "sum_scores_candidates"]

Strategy = Literal["sum_scores", "best_score"]
STRATEGIES: tuple[str, ...] = ("sum_scores", "best_score")
#: rank_recommend() converts stored rows to float64 this many values at a time (32 MiB).
_CHUNK_VALUES = 1 << 22


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise InvalidQuery(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def _scorer(strategy: str, terms: Sequence[Term], vecs: list[np.ndarray], metric: str):
    weights = np.array([float(t.weight) for t in terms])
    m = np.stack(vecs)
    if strategy == "sum_scores":
        return lambda x: sum_scores(similarities(x, m, metric), weights)
    pos, neg = m[weights > 0], m[weights < 0]
    return lambda x: best_score(similarities(x, pos, metric), similarities(x, neg, metric))


def rank_recommend(
    strategy: Strategy,
    terms: Sequence[Term],
    *,
    vectors: np.ndarray,
    ids: np.ndarray,
    metric: str,
    k: int,
    exclude_ids: set[int] | frozenset[int] = frozenset(),
    max_terms: int = ArithmeticLimits.max_terms,
) -> tuple[np.ndarray, np.ndarray]:
    """Score the given rows exactly; (scores float32, ids int64), best first, at most ``k``.

    Higher is better for both strategies and both metrics. Terms follow the arithmetic module
    (weight > 0 positive, < 0 negative; checked by its ``check_terms``, which raises QueryError).
    """
    _check_strategy(strategy)
    check_metric(metric)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise InvalidQuery(f"k must be a positive integer, got {k!r}")
    vectors, ids = check_rows(vectors, ids)
    vecs = check_terms(terms, dim=vectors.shape[1], max_terms=max_terms)
    scorer = _scorer(strategy, terms, vecs, metric)
    if exclude_ids:
        keep = ~np.isin(ids, np.fromiter(exclude_ids, dtype=np.int64))
        vectors, ids = vectors[keep], ids[keep]
    chunk = max(1, _CHUNK_VALUES // max(1, vectors.shape[1]))
    parts = [scorer(vectors[i: i + chunk]) for i in range(0, len(ids), chunk)]
    scores = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    order = np.lexsort((ids, -scores))[: int(k)]
    return scores[order], ids[order]


def sum_scores_candidates(terms: Sequence[Term], *, metric: str,
                          max_terms: int = ArithmeticLimits.max_terms) -> np.ndarray:
    """:func:`~latentspace.server.arithmetic.scoring.sum_scores_candidates` of checked terms."""
    check_metric(metric)
    return _sum_scores_candidates(terms, check_terms(terms, max_terms=max_terms), metric)
