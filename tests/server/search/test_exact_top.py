"""exact_top over chunks equals ranking every row at once: same ids, same scores, ties by smaller id,
for any chunk size, with exclusions, several rankings in one pass, and kept vectors that match."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.server.arithmetic.scoring import Combination, Term
from latentspace.server.search.discovery import check_context, rank_discovery
from latentspace.server.search.exact_top import chunk_rows, exact_top, exact_tops
from latentspace.server.search.similarity import rank_similar


def _rows(n=300, d=12, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, d)).astype(np.float32)
    vectors[50:60] = vectors[10]  # exact duplicates: equal scores, so the tie order shows
    ids = np.arange(n, dtype=np.int64) * 3 + 1
    return ids, vectors


def _chunks(ids, vectors, size):
    return ((ids[i:i + size], vectors[i:i + size]) for i in range(0, len(ids), size))


@pytest.mark.parametrize("size", [1, 7, 64, 1000])
@pytest.mark.parametrize("m", [1, 5, 40, 500])
def test_chunked_top_equals_ranking_everything(size, m):
    ids, vectors = _rows()
    combination = Combination.of("cosmul", [Term(vectors[10], 1.0), Term(vectors[3], -1.0)], metric="cosine")
    exclude = {int(ids[4]), int(ids[55])}
    whole = combination.rank(vectors, ids, k=m, exclude_ids=exclude)
    top = exact_top(_chunks(ids, vectors, size), lambda v, i, k: combination.rank(v, i, k=k, exclude_ids=exclude),
                    m, dim=vectors.shape[1], keep_vectors=True)
    assert top.ids.tolist() == whole[1].tolist()
    assert top.scores.tolist() == whole[0].tolist()
    np.testing.assert_array_equal(top.vectors, vectors[np.searchsorted(ids, top.ids)])


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_several_rankings_in_one_pass(metric):
    ids, vectors = _rows(seed=1)
    queries = vectors[[10, 20, 30]] + 0.01
    ranks = [rank_similar(q, metric, exclude_ids=(int(ids[20]),)) for q in queries]
    tops = exact_tops(_chunks(ids, vectors, 33), ranks, [3, 17, 120], dim=vectors.shape[1],
                      lower_is_better=metric == "l2")
    for rank, m, top in zip(ranks, [3, 17, 120], tops):
        scores, best = rank(vectors, ids, m)
        assert top.ids.tolist() == best.tolist() and top.scores.tolist() == scores.tolist()
        assert top.vectors is None
    assert int(ids[20]) not in tops[1].ids.tolist()


def test_discovery_and_l2_average_order_as_their_rankers():
    ids, vectors = _rows(seed=2)
    query = check_context(vectors[10], [(vectors[1], vectors[2])], dim=vectors.shape[1], metric="l2")
    scores, best, _ = rank_discovery(query, vectors=vectors, ids=ids, metric="l2", k=25)
    top = exact_top(_chunks(ids, vectors, 9),
                    lambda v, i, k: rank_discovery(query, vectors=v, ids=i, metric="l2", k=k)[:2], 25,
                    dim=vectors.shape[1])
    assert top.ids.tolist() == best.tolist() and top.scores.tolist() == scores.tolist()
    average = Combination.of("average", [Term(vectors[10], 1.0)], metric="l2")  # squared distance: lower first
    whole = average.rank(vectors, ids, k=30)
    top = exact_top(_chunks(ids, vectors, 11), lambda v, i, k: average.rank(v, i, k=k), 30, dim=vectors.shape[1],
                    lower_is_better=True)
    assert top.ids.tolist() == whole[1].tolist()
    assert top.ids[:11].tolist() == sorted(ids[[10, *range(50, 60)]].tolist())  # the tied duplicates, by id


def test_no_rows_and_bad_m():
    top = exact_top(iter(()), rank_similar(np.ones(4), "cosine"), 5, dim=4, keep_vectors=True)
    assert top.ids.shape == (0,) and top.vectors.shape == (0, 4)
    with pytest.raises(ValueError, match="m must be at least 1"):
        exact_top(iter(()), rank_similar(np.ones(4), "cosine"), 0, dim=4)
    assert chunk_rows(4096) == (8 << 20) // (4 * 4096) and chunk_rows(10**9) == 1
