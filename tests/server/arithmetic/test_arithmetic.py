"""Direction arithmetic against independent, deliberately naive re-implementations.

The reference scorers below loop over rows with explicit formulas and share no code with
the module, so a shared mistake would have to be made twice.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentspace.server.arithmetic.scoring import Term, candidate_queries, rank
from latentspace.server.arithmetic.trajectories import (
    direction_from_classifier,
    direction_from_sets,
    interpolate,
    shift_points,
    walk_rows,
)
from latentspace.server.errors import InvalidQuery as QueryError

N, D = 120, 12


def _norm(v) -> float:
    return math.sqrt(sum(float(a) * float(a) for a in v))


def _cos(x, v) -> float:
    nx, nv = _norm(x), _norm(v)
    return 0.0 if nx == 0 or nv == 0 else sum(float(a) * float(b) for a, b in zip(x, v)) / (nx * nv)


def _sqdist(x, v) -> float:
    return sum((float(a) - float(b)) ** 2 for a, b in zip(x, v))


def _wmean(vs, ws, unit: bool):
    vs = [np.asarray(v, float) / (_norm(v) if unit else 1.0) for v in vs]
    return sum(w * v for w, v in zip(ws, vs)) / sum(ws)


def ref_scores(method, terms, vectors, metric):
    pos = [(t.vector, t.weight) for t in terms if t.weight > 0]
    neg = [(t.vector, -t.weight) for t in terms if t.weight < 0]
    out = []
    for x in vectors:
        if method == "add":
            q = sum(t.weight * np.asarray(t.vector, float) / _norm(t.vector) for t in terms)
            s = _cos(x, q)
        elif method == "cosmul":
            num = math.prod(((1 + _cos(x, v)) / 2) ** w for v, w in pos)
            den = math.prod(((1 + _cos(x, v)) / 2) ** w for v, w in neg)
            s = num / (den + 1e-6)
        elif method == "average":
            unit = metric == "cosine"
            q = _wmean(*zip(*pos), unit)
            if neg:
                q = 2 * q - _wmean(*zip(*neg), unit)
            s = _cos(x, q) if metric == "cosine" else _sqdist(x, q)
        elif method == "sum_scores":
            sim = _cos if metric == "cosine" else (lambda a, b: -_sqdist(a, b))
            s = sum(w * sim(x, v) for v, w in pos) - sum(w * sim(x, v) for v, w in neg)
        else:  # best_score: both branches through Qdrant's (x / (1 + |x|) + 1) / 2
            sim = _cos if metric == "cosine" else (lambda a, b: -_sqdist(a, b))
            sp = max((sim(x, v) for v, _ in pos), default=-math.inf)
            sn = max((sim(x, v) for v, _ in neg), default=-math.inf)
            chosen = sp if sp > sn else sn
            squashed = 0.5 * (chosen / (1 + abs(chosen)) + 1)
            s = squashed if sp > sn else -squashed
        out.append(s)
    return out


def ref_rank(method, terms, vectors, ids, metric, k, exclude=frozenset()):
    scores = ref_scores(method, terms, vectors, metric)
    sign = 1 if (method == "average" and metric == "l2") else -1
    # ordered by the float32 scores a client sees; equal ones by smaller id
    rows = sorted((sign * float(np.float32(s)), int(i), s)
                  for s, i in zip(scores, ids) if int(i) not in exclude)
    return [r[2] for r in rows[:k]], [r[1] for r in rows[:k]]


@pytest.fixture(scope="module")
def space():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, D)).astype(np.float32)
    vectors[3] = 0.0  # a zero row: cosine 0 by convention
    ids = rng.permutation(np.arange(1000, 1000 + 3 * N))[:N].astype(np.int64)
    outside = rng.normal(size=D).astype(np.float32)
    terms = [
        Term(vectors[10], 1.0, int(ids[10]), "positive[0]"),
        Term(vectors[20], 2.0, int(ids[20]), "positive[1]"),
        Term(outside, 0.5, None, "positive[2] uploaded"),
        Term(vectors[30], -1.0, int(ids[30]), "negative[0]"),
        Term(vectors[40], -1.5, int(ids[40]), "negative[1]"),
    ]
    return vectors, ids, terms


CASES = [
    ("add", "cosine"), ("add", "l2"), ("cosmul", "cosine"), ("cosmul", "l2"),
    ("average", "cosine"), ("average", "l2"), ("best_score", "cosine"), ("best_score", "l2"),
    ("sum_scores", "cosine"), ("sum_scores", "l2"),
]


@pytest.mark.parametrize("method,metric", CASES)
@pytest.mark.parametrize("subset", ["all", "positives only", "one positive", "unit weights"])
def test_rank_matches_reference(space, method, metric, subset):
    vectors, ids, terms = space
    chosen = {
        "all": terms,
        "positives only": terms[:3],
        "one positive": terms[1:2],
        "unit weights": [Term(t.vector, math.copysign(1.0, t.weight), t.item_id, t.name)
                         for t in terms],
    }[subset]
    scores, got = rank(method, chosen, vectors=vectors, ids=ids, metric=metric, k=15)
    want_scores, want_ids = ref_rank(method, chosen, vectors, ids, metric, 15)
    assert got.dtype == np.int64 and scores.dtype == np.float32
    assert got.tolist() == want_ids
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)


def test_best_score_negative_only_prefers_rows_unlike_negatives(space):
    vectors, ids, terms = space
    negs = terms[3:]
    _, got = rank("best_score", negs, vectors=vectors, ids=ids, metric="cosine", k=10)
    assert got.tolist() == ref_rank("best_score", negs, vectors, ids, "cosine", 10)[1]


@pytest.mark.parametrize("method,metric", CASES)
def test_ties_go_to_smaller_id(method, metric):
    row = np.arange(1, D + 1, dtype=np.float32)
    vectors = np.tile(row, (5, 1))
    ids = np.array([50, 7, 31, 2, 9], dtype=np.int64)
    terms = [Term(row[::-1].copy(), 1.0, name="p"), Term(np.ones(D, np.float32), -1.0, name="n")]
    _, got = rank(method, terms, vectors=vectors, ids=ids, metric=metric, k=4)
    assert got.tolist() == [2, 7, 9, 31]


@pytest.mark.parametrize("method,metric", CASES)
def test_exclude_ids_and_k(space, method, metric):
    vectors, ids, terms = space
    _, full = rank(method, terms, vectors=vectors, ids=ids, metric=metric, k=N)
    exclude = set(full[:5:2].tolist()) | {int(ids[10]), 999_999}
    scores, got = rank(method, terms, vectors=vectors, ids=ids, metric=metric, k=8,
                       exclude_ids=exclude)
    assert not exclude & set(got.tolist())
    assert got.tolist() == [i for i in full.tolist() if i not in exclude][:8]
    assert len(rank(method, terms, vectors=vectors[:4], ids=ids[:4], metric=metric, k=50)[1]) == 4


@pytest.mark.parametrize("method,metric", CASES)
def test_rank_on_candidates_equals_full_ranking_restricted(space, method, metric):
    vectors, ids, terms = space
    rows = np.random.default_rng(1).choice(N, size=40, replace=False)
    s_full, full = rank(method, terms, vectors=vectors, ids=ids, metric=metric, k=N)
    s_sub, sub = rank(method, terms, vectors=vectors[rows], ids=ids[rows], metric=metric, k=10)
    in_subset = np.isin(full, ids[rows])
    assert sub.tolist() == full[in_subset][:10].tolist()
    np.testing.assert_array_equal(s_sub, s_full[in_subset][:10])


def analogy_space():
    """Rows built from orthonormal parts so that king − man + woman = queen exactly."""
    e = np.eye(8, dtype=np.float32)
    male, female, royal, person, fruit, car = e[0], e[1], e[2], e[3], e[4], e[5]
    names = ["man", "woman", "king", "queen", "apple", "truck", "prince"]
    rows = [male + person, female + person, male + royal, female + royal,
            fruit, car, male + royal + 0.3 * person]
    return dict(zip(names, range(len(names)))), np.stack(rows), np.arange(len(names)) * 10 + 5


@pytest.mark.parametrize("method", ["add", "cosmul", "average"])
def test_king_minus_man_plus_woman_is_queen(method):
    index, vectors, ids = analogy_space()
    terms = [Term(vectors[index[w]], wt, int(ids[index[w]]), w)
             for w, wt in (("king", 1.0), ("man", -1.0), ("woman", 1.0))]
    _, got = rank(method, terms, vectors=vectors, ids=ids, metric="cosine", k=1,
                  exclude_ids={t.item_id for t in terms})
    assert got.tolist() == [ids[index["queen"]]]


def test_candidate_queries(space):
    vectors, _, terms = space
    add = candidate_queries("add", terms, metric="cosine")
    q = sum(t.weight * t.vector / np.linalg.norm(t.vector) for t in terms)
    assert add.shape == (1, D)
    np.testing.assert_allclose(add[0], q / np.linalg.norm(q), rtol=1e-5, atol=1e-6)
    mul = candidate_queries("cosmul", terms, metric="l2")
    assert mul.shape == (4, D)
    np.testing.assert_allclose(mul[:3], [t.vector for t in terms[:3]], rtol=1e-6)
    mean_norm = np.mean([np.linalg.norm(t.vector) for t in terms])
    np.testing.assert_allclose(np.linalg.norm(mul[3]), mean_norm, rtol=1e-5)
    avg = candidate_queries("average", terms[:2], metric="l2")
    np.testing.assert_allclose(avg[0], (terms[0].vector + 2 * terms[1].vector) / 3, rtol=1e-5)
    assert candidate_queries("best_score", terms[3:], metric="cosine").shape == (1, D)
    assert candidate_queries("best_score", terms[1:2], metric="cosine").shape == (1, D)


def _v(*xs):
    return np.array(xs + (0.0,) * (D - len(xs)), np.float32)


GOOD = Term(_v(1, 2), 1.0, 17, "positive[0] item 17")


@pytest.mark.parametrize("method,terms,kwargs,needle", [
    ("add", [], {}, "empty combination"),
    ("add", [GOOD, Term(_v(), 1.0, 17, "positive[1] item 17")], {}, "positive[1] item 17"),
    ("add", [GOOD, Term(_v(1, np.nan), -1.0, name="negative[0]")], {}, "negative[0]"),
    ("add", [Term(_v(np.inf), 1.0, name="positive[3]")], {}, "positive[3]"),
    ("add", [GOOD, Term(np.ones(D + 1, np.float32), 1.0, name="positive[1]")], {}, "positive[1]"),
    ("add", [GOOD, Term(_v(3), 0.0, 4, "")], {}, "item 4"),
    ("add", [GOOD, Term(_v(1), float("nan"), name="negative[2]")], {}, "negative[2]"),
    ("cosmul", [Term(_v(1), -1.0, name="negative[0] item 3")], {}, "negative[0] item 3"),
    ("average", [Term(_v(1), -1.0, name="negative[0] item 3")], {}, "negative[0] item 3"),
    ("add", [GOOD] * 4, {"max_terms": 3}, "too many terms"),
    ("add", [GOOD, Term(GOOD.vector * 2, -1.0, name="negative[0]")], {}, "cancel"),
    ("add", [GOOD], {"k": 0}, "k must be"),
    ("sum", [GOOD], {}, "unknown method"),
    ("add", [GOOD], {"metric": "ip"}, "unknown metric"),
])
def test_query_errors_name_the_culprit(method, terms, kwargs, needle):
    args = dict(vectors=np.ones((3, D), np.float32), ids=np.arange(3), metric="cosine", k=2)
    args.update(kwargs)
    with pytest.raises(QueryError) as err:
        rank(method, terms, **args)
    assert needle in str(err.value)
    if "k" not in kwargs:  # the index queries refuse the same input with the same words
        with pytest.raises(QueryError) as err:
            candidate_queries(method, terms, metric=args["metric"],
                              max_terms=kwargs.get("max_terms", 32))
        assert needle in str(err.value)


@pytest.mark.parametrize("call,needle", [
    (lambda: shift_points(_v(1), _v(0, 1), [0.5, 11.0], max_steps=5), "alphas[1]"),
    (lambda: shift_points(_v(1), _v(0, 1), [0.1] * 6, max_steps=5), "alphas"),
    (lambda: shift_points(_v(), _v(0, 1), [0.5], max_steps=5), "start"),
    (lambda: shift_points(_v(1), _v(), [0.5], max_steps=5), "direction"),
    (lambda: interpolate(_v(1), _v(2), 1, max_steps=5), "steps"),
    (lambda: interpolate(_v(1), _v(2), 6, max_steps=5), "steps"),
    (lambda: interpolate(_v(1), _v(-2), 3, "slerp", max_steps=5), "opposite"),
    (lambda: interpolate(_v(), _v(2), 3, "slerp", max_steps=5), "a:"),
    (lambda: direction_from_sets(np.zeros((0, D)), np.ones((1, D))), "positives"),
    (lambda: direction_from_sets(np.ones((1, D)), np.stack([_v(1), _v()])), "negatives[1]"),
    (lambda: direction_from_sets(np.ones((2, D)), 3 * np.ones((1, D))), "same mean"),
    (lambda: direction_from_classifier(np.eye(3, D), 0, 3), "class b"),
    (lambda: direction_from_classifier(np.ones((3, D)), 0, 1), "identical"),
])
def test_path_errors(call, needle):
    with pytest.raises(QueryError) as err:
        call()
    assert needle in str(err.value)


def test_shift_points_scale_by_start_norm():
    rng = np.random.default_rng(3)
    start, direction = rng.normal(size=D).astype(np.float32), rng.normal(size=D).astype(np.float32)
    pts = shift_points(start, direction, [0.0, 0.5, -1.0], max_steps=8)
    assert pts.shape == (3, D) and pts.dtype == np.float32
    np.testing.assert_array_equal(pts[0], start)
    unit = direction / np.linalg.norm(direction)
    for row, alpha in zip(pts[1:], [0.5, -1.0]):
        np.testing.assert_allclose(row - start, alpha * np.linalg.norm(start) * unit, atol=1e-5)


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_interpolate_endpoints_and_norms(mode):
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=D).astype(np.float32), 3 * rng.normal(size=D).astype(np.float32)
    path = interpolate(a, b, 7, mode, max_steps=16)
    assert path.shape == (7, D) and path.dtype == np.float32
    np.testing.assert_array_equal(path[0], a)
    np.testing.assert_array_equal(path[-1], b)
    if mode == "linear":
        np.testing.assert_allclose(path[3], (a + b) / 2, atol=1e-6)
        return
    t = np.linspace(0, 1, 7)
    norms = np.linalg.norm(path, axis=1)
    np.testing.assert_allclose(norms, (1 - t) * np.linalg.norm(a) + t * np.linalg.norm(b), rtol=1e-5)
    unit = path / norms[:, None]
    angles = np.arccos(np.clip(np.sum(unit[:-1] * unit[1:], axis=1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], rtol=1e-3)  # constant angular speed


@pytest.mark.parametrize("a", [np.random.default_rng(5).normal(size=D).astype(np.float32),
                               _v(2.0)])  # the second has an angle of exactly 0
def test_slerp_parallel_endpoints(a):
    path = interpolate(a, 4 * a, 5, "slerp", max_steps=8)
    assert np.all(np.isfinite(path))
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    np.testing.assert_allclose(unit, np.tile(a / np.linalg.norm(a), (5, 1)), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1),
                               np.linalg.norm(a) * np.array([1, 1.75, 2.5, 3.25, 4]), rtol=1e-5)


def test_directions():
    rng = np.random.default_rng(6)
    pos, neg = rng.normal(size=(3, D)), rng.normal(size=(2, D))
    want = np.mean([p / np.linalg.norm(p) for p in pos], 0) - np.mean(
        [n / np.linalg.norm(n) for n in neg], 0)
    np.testing.assert_allclose(direction_from_sets(pos, neg), want, rtol=1e-5, atol=1e-6)
    w = rng.normal(size=(5, D))
    np.testing.assert_allclose(direction_from_classifier(w, 4, 1), w[4] - w[1], rtol=1e-6)


def test_walk_rows():
    steps = [(np.array([.9, .8, .7]), np.array([1, 2, 3])),
             (np.array([.9, .8, .7, .6]), np.array([2, 4, 4, 5])),
             (np.array([.5, .4]), np.array([1, 6]))]
    unique = walk_rows(steps, k=2)
    assert [ids.tolist() for _, ids in unique] == [[1, 2], [4, 5], [6]]
    np.testing.assert_array_equal(unique[1][0], [.8, .6])
    again = walk_rows(steps, k=2, unique=False)
    assert [ids.tolist() for _, ids in again] == [[1, 2], [2, 4], [1, 6]]
