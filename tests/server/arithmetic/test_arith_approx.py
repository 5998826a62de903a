"""On approximate indexes (IVF, HNSW) FAISS only gathers candidates: every returned score is the
exact score of the returned item, in order, whatever the method."""

from __future__ import annotations

import numpy as np
import pytest

from support.cli import export_arrays
from support.indexes import synthetic_index
from support.oracle import brute_force, method_scores, ref_combine
from support.servers import server_config

K = 6


@pytest.fixture(scope="module", params=[("IVF4,Flat", "cosine"), ("HNSW16", "l2")], ids=["ivf-cosine", "hnsw-l2"])
def approx(request, random_embedder, tmp_path_factory):
    from latentspace.client import Client
    from latentspace.server.app import create_server

    factory, metric = request.param
    directory = synthetic_index(tmp_path_factory.mktemp("approx") / "idx", random_embedder, factory=factory,
                                metric=metric)
    exported = export_arrays(directory, directory.parent / "all.npz")
    running = create_server(directory, server_config(), embedder=random_embedder)
    with Client(running.address, timeout=60.0) as client:
        yield client, exported, metric
    running.stop(grace=1.0)


def _exact(exported, method, pos, neg, metric, ids):
    """Exact scores of the given ids under the method."""
    rows = exported["vectors"][np.searchsorted(exported["ids"], ids)]
    scores, ascending = method_scores(method, pos, neg, rows, metric)
    return scores, ascending


@pytest.mark.parametrize("method", ["add", "cosmul", "average", "best_score"])
def test_scores_are_exact_rescoring_of_faiss_candidates(approx, method):
    client, exported, metric = approx
    info = client.info()
    assert info.uses_faiss and info.faiss_factory in ("IVF4,Flat", "HNSW16")
    ids, vectors = exported["ids"], exported["vectors"]
    rng = np.random.default_rng(4)
    for a, b, c in (rng.choice(len(ids), 3, replace=False) for _ in range(3)):
        pos = [(vectors[a].astype(np.float64), 1.0), (vectors[c].astype(np.float64), 1.0)]
        neg = [(vectors[b].astype(np.float64), 1.0)]
        result = client.combine([int(ids[a]), int(ids[c])], [int(ids[b])], method=method, k=K)
        assert len(result) == K
        assert not {int(ids[a]), int(ids[b]), int(ids[c])} & set(result.ids)
        exact, ascending = _exact(exported, method, pos, neg, metric, np.asarray(result.ids))
        np.testing.assert_allclose(result.scores, exact, rtol=1e-5, atol=1e-5)
        steps = np.diff(np.asarray(result.scores, dtype=np.float64))
        assert np.all(steps >= 0) if ascending else np.all(steps <= 0), "best first"
    # a filter leaving fewer items than the candidate count is scored outright, so nothing is missed
    keep = exported["labels"] == "north"
    pos = [(vectors[0].astype(np.float64), 1.0), (vectors[5].astype(np.float64), 1.0)]
    neg = [(vectors[2].astype(np.float64), 1.0)]
    filtered = client.combine([int(ids[0]), int(ids[5])], [int(ids[2])], method=method, k=K, labels=["north"])
    expected_ids, expected_scores = ref_combine(exported, method, pos, neg, metric=metric, k=K, keep=keep,
                                                exclude={int(ids[0]), int(ids[5]), int(ids[2])})
    assert filtered.ids == expected_ids
    np.testing.assert_allclose(filtered.scores, expected_scores, rtol=1e-5, atol=1e-5)


def test_shift_and_walk_rows_are_exact_too(approx):
    client, exported, metric = approx
    ids, vectors = exported["ids"], exported["vectors"]
    walk = client.walk(int(ids[0]), int(ids[1]), steps=3, k=K, include_ends=True)
    # the ends of a walk are the stored vectors themselves: their exact neighbourhoods
    for step, vector in ((walk[0], vectors[0]), (walk[-1], vectors[1])):
        expected_ids, expected_scores = brute_force(exported, vector, metric=metric, k=K)
        got = _exact(exported, "average", [(vector.astype(np.float64), 1.0)], [], metric, np.asarray(step.ids))[0]
        np.testing.assert_allclose(step.result.scores, got, rtol=1e-5, atol=1e-5)
        assert step.ids[0] == expected_ids[0]  # the item itself is found, at distance zero / cosine one
    shift = client.shift(int(ids[2]), vector=vectors[3] - vectors[2], alphas=[0.0, 0.5], k=K)
    start = vectors[2].astype(np.float64)
    for step in shift:
        point = start + step.position * np.linalg.norm(start) * (vectors[3] - start) / np.linalg.norm(vectors[3] - start)
        got = _exact(exported, "average", [(point, 1.0)], [], metric, np.asarray(step.ids))[0]
        np.testing.assert_allclose(step.result.scores, got, rtol=1e-5, atol=1e-5)
