"""Thresholds, groups, pages, hidden duplicates and MMR against plain re-implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentspace.server.errors import InvalidQuery
from latentspace.server.search import refine

rng = np.random.default_rng(7)
N, D = 60, 8
VECTORS = rng.normal(size=(N, D))
IDS = np.arange(100, 100 + N, dtype=np.int64)
QUERY = rng.normal(size=D)


def _cos(a, b) -> float:
    return float(sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b)))


def _ranked_cosine():
    """(scores, ids, vectors) best first by cosine to QUERY, equal scores by smaller id."""
    scored = sorted(((-_cos(QUERY, v), int(i), j) for j, (i, v) in enumerate(zip(IDS, VECTORS))))
    order = [j for _, _, j in scored]
    return np.array([-s for s, _, _ in scored]), IDS[order], VECTORS[order]


def test_min_score_keeps_exactly_the_hits_at_or_above_it():
    scores, ids, _ = _ranked_cosine()
    t = refine.check_threshold(min_score=0.2, metric="cosine")
    kept = refine.within_threshold(scores, t, cap=1000)
    assert ids[kept].tolist() == [int(i) for s, i in zip(scores, ids) if s >= 0.2]
    assert ids[refine.within_threshold(scores, t, cap=3)].tolist() == ids[kept][:3].tolist()


def test_max_distance_keeps_exactly_the_hits_within_it():
    d2 = np.array([sum((a - b) ** 2 for a, b in zip(QUERY, v)) for v in VECTORS])
    order = np.lexsort((IDS, d2))
    t = refine.check_threshold(max_distance=9.0, metric="l2")
    kept = refine.within_threshold(d2[order], t, cap=1000)
    assert IDS[order][kept].tolist() == [int(IDS[j]) for j in order if d2[j] <= 9.0]
    assert refine.faiss_radius(t) > 9.0


def test_faiss_radius_for_cosine_lies_just_below_the_threshold():
    t = refine.check_threshold(min_score=0.5, metric="cosine")
    assert 0.5 - 1e-4 < refine.faiss_radius(t) < 0.5


@pytest.mark.parametrize("kwargs, words", [
    ({"min_score": float("nan"), "metric": "cosine"}, "finite"),
    ({"min_score": "high", "metric": "cosine"}, "number"),
    ({"max_distance": -1.0, "metric": "l2"}, "negative"),
    ({"min_score": 0.5, "metric": "l2"}, "max_distance"),
    ({"max_distance": 0.5, "metric": "cosine"}, "min_score"),
    ({"min_score": 0.5, "max_distance": 1.0, "metric": "cosine"}, "not both"),
    ({"max_distance": float("inf"), "metric": "l2"}, "finite"),
])
def test_bad_thresholds_are_refused(kwargs, words):
    with pytest.raises(InvalidQuery, match=words):
        refine.check_threshold(**kwargs)


def test_group_by_label_matches_a_plain_loop():
    scores, ids, _ = _ranked_cosine()
    labels = [f"L{int(i) % 7}" if int(i) % 11 else "" for i in ids]
    groups = refine.group_by_label(labels, groups=4, group_size=3)
    expected: dict[str, list[int]] = {}
    for label, item in zip(labels, ids.tolist()):
        if label and (label in expected or len(expected) < 4):
            expected.setdefault(label, [])
            if len(expected[label]) < 3:
                expected[label].append(item)
    assert [(g.label, ids[g.positions].tolist()) for g in groups] == list(expected.items())
    assert all(len(g.positions) == 3 for g in groups)


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_group_size_must_be_a_positive_integer(size):
    with pytest.raises(InvalidQuery, match="group_size"):
        refine.check_group_size(size, max_group_size=100)
    with pytest.raises(InvalidQuery, match="group_size"):
        refine.group_by_label(["a"], groups=1, group_size=size)


def test_group_size_above_the_limit_is_refused():
    with pytest.raises(InvalidQuery, match="at most 10"):
        refine.check_group_size(11, max_group_size=10)


def test_pages_tile_the_ranking_without_gaps_or_repeats():
    scores, ids, _ = _ranked_cosine()
    seen = []
    for offset in range(0, N + 10, 7):
        assert refine.check_page(7, offset, max_results=1000) == offset + 7
        seen += ids[refine.page(len(ids), k=7, offset=offset)].tolist()
    assert seen == ids.tolist()


@pytest.mark.parametrize("k, offset, words", [(10, 995, "k \\+ offset <= 1000"), (10, -1, "offset"),
                                               (0, 0, "k"), (5, 1.5, "offset")])
def test_bad_pages_are_refused(k, offset, words):
    with pytest.raises(InvalidQuery, match=words):
        refine.check_page(k, offset, max_results=1000)


def test_hide_duplicates_keeps_the_best_of_each_near_identical_set():
    base = rng.normal(size=(6, D))
    rows = np.concatenate([base, base[[0, 2, 2]] + 1e-3 * rng.normal(size=(3, D))])
    order = [0, 6, 1, 2, 7, 3, 8, 4, 5]  # best first: copies right after (or after) their original
    shown = refine.hide_duplicates(rows[order], threshold=0.99)
    expected = []
    for j in range(len(order)):
        if all(_cos(rows[order[j]], rows[order[s]]) < 0.99 for s in expected):
            expected.append(j)
    assert shown.tolist() == expected == [0, 2, 3, 5, 7, 8]


@pytest.mark.parametrize("t", [0.0, 1.01, float("nan"), -0.5])
def test_duplicate_threshold_must_be_a_cosine_in_0_1(t):
    with pytest.raises(InvalidQuery, match="duplicate threshold"):
        refine.hide_duplicates(VECTORS, threshold=t)


def _mmr_reference(rel, vecs, k, lam, sim):
    chosen, free = [], list(range(len(rel)))
    while free and len(chosen) < k:
        def value(i):
            red = max((sim(vecs[i], vecs[j]) for j in chosen), default=0.0)
            return (1 - lam) * rel[i] - lam * red if chosen else rel[i]
        best = max(free, key=lambda i: (value(i), -i))
        chosen.append(best)
        free.remove(best)
    return chosen


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.7, 1.0])
def test_mmr_matches_the_published_greedy_rule_on_cosine(lam):
    scores, ids, vecs = _ranked_cosine()
    got = refine.mmr(scores, vecs, k=12, diversity=lam, metric="cosine")
    assert got.tolist() == _mmr_reference(scores.tolist(), vecs, 12, lam, _cos)


def test_mmr_on_l2_uses_negated_squared_distances():
    d2 = np.array([sum((a - b) ** 2 for a, b in zip(QUERY, v)) for v in VECTORS])
    order = np.lexsort((IDS, d2))
    sim = lambda a, b: -sum((x - y) ** 2 for x, y in zip(a, b))  # noqa: E731
    got = refine.mmr(-d2[order], VECTORS[order], k=10, diversity=0.5, metric="l2")
    assert got.tolist() == _mmr_reference((-d2[order]).tolist(), VECTORS[order], 10, 0.5, sim)


def test_mmr_spreads_over_clusters_that_relevance_alone_would_not():
    centres = np.eye(D)[:3] * 10
    rows = np.concatenate([centres[c] + rng.normal(scale=0.1, size=(5, D)) for c in (0, 0, 1, 2)])
    rel = np.array([_cos(r, centres[0] + 0.3 * centres[1] + 0.2 * centres[2]) for r in rows])
    order = np.argsort(-rel, kind="stable")
    plain = refine.mmr(rel[order], rows[order], k=3, diversity=0.0, metric="cosine")
    diverse = refine.mmr(rel[order], rows[order], k=3, diversity=0.6, metric="cosine")
    cluster = lambda j: int(np.argmax(rows[order][j]))  # noqa: E731
    assert {cluster(j) for j in plain} == {0}
    assert {cluster(j) for j in diverse} == {0, 1, 2}


@pytest.mark.parametrize("lam", [-0.1, 1.5, float("nan"), None])
def test_diversity_outside_0_1_is_refused(lam):
    with pytest.raises(InvalidQuery, match="diversity"):
        refine.mmr(np.zeros(3), np.ones((3, D)), k=2, diversity=lam, metric="cosine")
