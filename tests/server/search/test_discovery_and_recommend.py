"""Discovery / context search and the sum_scores and best_score strategies, each against a plain
per-row re-implementation on seeded data, on both metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentspace.server.arithmetic.scoring import Term
from latentspace.server.errors import InvalidQuery as QueryError
from latentspace.server.errors import InvalidQuery
from latentspace.server.search.discovery import check_context, discovery_candidates, rank_discovery
from latentspace.server.search.recommend_scores import rank_recommend, sum_scores_candidates

rng = np.random.default_rng(11)
N, D = 150, 10
VECTORS = rng.normal(size=(N, D)).astype(np.float32)
IDS = np.arange(N, dtype=np.int64) * 3 + 1


def _sim(x, v, metric) -> float:
    x, v = [float(a) for a in x], [float(b) for b in v]
    if metric == "l2":
        return -sum((a - b) ** 2 for a, b in zip(x, v))
    return sum(a * b for a, b in zip(x, v)) / math.sqrt(sum(a * a for a in x) * sum(b * b for b in v))


def _squash(s: float) -> float:
    return 0.5 * (s / (1 + abs(s)) + 1)


def _top(scores: list[float], k: int):
    order = sorted(range(N), key=lambda j: (-np.float32(scores[j]), IDS[j]))[:k]
    return [int(IDS[j]) for j in order], [np.float32(scores[j]) for j in order]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("with_target", [True, False])
def test_discovery_matches_the_reference(metric, with_target):
    pairs = [(rng.normal(size=D), rng.normal(size=D)) for _ in range(3)]
    target = rng.normal(size=D) if with_target else None
    query = check_context(target, pairs, dim=D, metric=metric)
    scores, ids, satisfied = rank_discovery(query, vectors=VECTORS, ids=IDS, metric=metric, k=20)
    ref = []
    for x in VECTORS:
        if with_target:
            count = sum(_sim(x, p, metric) > _sim(x, n, metric) for p, n in pairs)
            ref.append(count + _squash(_sim(x, target, metric)))
        else:
            ref.append(sum(min(_sim(x, p, metric) - _sim(x, n, metric), 0.0) for p, n in pairs))
    want_ids, want_scores = _top(ref, 20)
    assert ids.tolist() == want_ids
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6, atol=1e-6)
    for item, count in zip(ids.tolist(), satisfied.tolist()):
        x = VECTORS[(item - 1) // 3]
        assert count == sum(_sim(x, p, metric) > _sim(x, n, metric) for p, n in pairs)
    if with_target:  # ranked by pairs satisfied first
        assert satisfied.tolist() == sorted(satisfied.tolist(), reverse=True)


def test_discovery_on_candidates_returns_only_what_satisfies_the_pairs():
    """Re-ranked candidates of an approximate search keep the exact order and counts."""
    pairs = [(VECTORS[0], VECTORS[1]), (VECTORS[2], VECTORS[3])]
    query = check_context(VECTORS[4], pairs, dim=D, metric="cosine")
    cand = discovery_candidates(query, "cosine")
    assert cand.shape == (3, D) and np.allclose(np.linalg.norm(cand, axis=1), 1.0)
    subset = rng.choice(N, 40, replace=False)
    scores, ids, satisfied = rank_discovery(query, vectors=VECTORS[subset], ids=IDS[subset], metric="cosine", k=40)
    full_scores, full_ids, _ = rank_discovery(query, vectors=VECTORS, ids=IDS, metric="cosine", k=N)
    rank_of = {i: r for r, i in enumerate(full_ids.tolist())}
    assert [rank_of[i] for i in ids.tolist()] == sorted(rank_of[i] for i in ids.tolist())
    assert np.all(np.floor(scores) == satisfied)


@pytest.mark.parametrize("pairs, words", [([], "empty context"),
                                           ([(np.ones(D), np.ones(D))], "the same"),
                                           ([(np.ones(D), np.ones(D - 1))], "values"),
                                           ([(np.full(D, np.nan), np.ones(D))], "NaN"),
                                           ([(np.zeros(D), np.ones(D))], "all zeros")])
def test_bad_context_is_refused(pairs, words):
    with pytest.raises(InvalidQuery, match=words):
        check_context(None, pairs, dim=D, metric="cosine")


def test_too_many_pairs_and_a_bad_target_are_refused():
    pair = (np.ones(D), -np.ones(D))
    with pytest.raises(InvalidQuery, match="at most 2"):
        check_context(None, [pair] * 3, dim=D, metric="cosine", max_pairs=2)
    with pytest.raises(InvalidQuery, match="target"):
        check_context(np.full(D, np.inf), [pair], dim=D, metric="l2")


def _terms(pos, neg):
    return [Term(VECTORS[j], 1.0, item_id=int(IDS[j])) for j in pos] + \
           [Term(VECTORS[j], -1.0, item_id=int(IDS[j])) for j in neg]


CASES = [([0, 1], [2]), ([], [2, 3]), ([5], []), ([0, 1, 4], [2, 3])]


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("pos, neg", CASES)
def test_sum_scores_matches_the_reference(metric, pos, neg):
    scores, ids = rank_recommend("sum_scores", _terms(pos, neg), vectors=VECTORS, ids=IDS, metric=metric, k=15)
    ref = [sum(_sim(x, VECTORS[p], metric) for p in pos) - sum(_sim(x, VECTORS[n], metric) for n in neg)
           for x in VECTORS]
    want_ids, want_scores = _top(ref, 15)
    assert ids.tolist() == want_ids
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("pos, neg", CASES)
def test_best_score_matches_the_reference(metric, pos, neg):
    scores, ids = rank_recommend("best_score", _terms(pos, neg), vectors=VECTORS, ids=IDS, metric=metric, k=15)
    ref = []
    for x in VECTORS:
        sp = max((_sim(x, VECTORS[p], metric) for p in pos), default=-math.inf)
        sn = max((_sim(x, VECTORS[n], metric) for n in neg), default=-math.inf)
        ref.append(_squash(sp) if sp > sn else -_squash(sn))
    want_ids, want_scores = _top(ref, 15)
    assert ids.tolist() == want_ids
    np.testing.assert_allclose(scores, want_scores, rtol=1e-6, atol=1e-7)


def test_best_score_with_only_negatives_on_l2_puts_the_farthest_rows_first():
    """The defect of the squared formula: on l2 it returned the rows nearest the negatives."""
    neg = [2, 3]
    _, ids = rank_recommend("best_score", _terms([], neg), vectors=VECTORS, ids=IDS, metric="l2", k=5,
                            exclude_ids={int(IDS[j]) for j in neg})
    nearest = [min(-_sim(x, VECTORS[n], "l2") for n in neg) for x in VECTORS]
    farthest = sorted((j for j in range(N) if j not in neg), key=lambda j: -nearest[j])[:5]
    assert ids.tolist() == [int(IDS[j]) for j in farthest]


def test_best_score_mixed_on_l2_ranks_rows_closer_to_a_positive_above_the_rest():
    pos, neg = [0, 1], [2]
    scores, ids = rank_recommend("best_score", _terms(pos, neg), vectors=VECTORS, ids=IDS, metric="l2", k=N)
    closer = {int(IDS[j]) for j, x in enumerate(VECTORS)
              if max(_sim(x, VECTORS[p], "l2") for p in pos) > _sim(x, VECTORS[2], "l2")}
    assert set(ids[: len(closer)].tolist()) == closer
    assert np.all(scores[: len(closer)] > 0) and np.all(scores[len(closer):] < 0)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_sum_scores_candidates_find_the_exact_winners(metric):
    terms = _terms([0, 1, 4], [2])
    (q,) = sum_scores_candidates(terms, metric=metric)
    near = sorted(range(N), key=lambda j: (-_sim(VECTORS[j], q, metric), IDS[j]))[:10]
    _, ids = rank_recommend("sum_scores", terms, vectors=VECTORS, ids=IDS, metric=metric, k=10)
    assert ids.tolist() == [int(IDS[j]) for j in near]
    assert sum_scores_candidates(_terms([], [2, 3]), metric="l2").shape == (0, D)


def test_bad_recommend_requests_are_refused():
    with pytest.raises(InvalidQuery, match="strategy"):
        rank_recommend("max", _terms([0], []), vectors=VECTORS, ids=IDS, metric="cosine", k=3)
    with pytest.raises(InvalidQuery, match="k must"):
        rank_recommend("sum_scores", _terms([0], []), vectors=VECTORS, ids=IDS, metric="cosine", k=0)
    with pytest.raises(QueryError, match="empty combination"):
        rank_recommend("sum_scores", [], vectors=VECTORS, ids=IDS, metric="cosine", k=3)
