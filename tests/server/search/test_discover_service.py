"""Discover through a real server, the client and the CLI: equals an independent NumPy reference on
Flat cosine and l2 indexes (ids and scores), with and without a target; bad context is
INVALID_ARGUMENT."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support.cli import export_arrays
from support.indexes import synthetic_index


@pytest.fixture(scope="module", params=["cosine", "l2"])
def served(request, random_embedder, tmp_path_factory):
    from latentspace.client import Client
    from support.servers import serve_in_process

    directory = synthetic_index(tmp_path_factory.mktemp(request.param) / "idx", random_embedder, factory="Flat",
                                metric=request.param, count=80)
    exported = export_arrays(directory, directory.parent / "all.npz")
    running = serve_in_process(directory, random_embedder)
    client = Client(running.address, timeout=60.0)
    yield client, exported, request.param
    client.close()
    running.stop(grace=1.0)


def _sim(x, v, metric):
    x, v = np.asarray(x, np.float64), np.asarray(v, np.float64)
    if metric == "cosine":
        return (x @ v) / (np.linalg.norm(x, axis=1) * np.linalg.norm(v))
    return -((x - v) ** 2).sum(axis=1)


def _reference(exported, metric, target, pairs, k, exclude):
    ids, x = exported["ids"], exported["vectors"]
    keep = ~np.isin(ids, list(exclude))
    ids, x = ids[keep], x[keep]
    if target is None:
        scores = sum(np.minimum(_sim(x, p, metric) - _sim(x, n, metric), 0.0) for p, n in pairs)
    else:
        satisfied = sum((_sim(x, p, metric) > _sim(x, n, metric)).astype(float) for p, n in pairs)
        t = _sim(x, target, metric)
        scores = satisfied + 0.5 * (t / (1 + np.abs(t)) + 1)
    scores = scores.astype(np.float32)
    order = np.lexsort((ids, -scores))[:k]
    return ids[order].tolist(), scores[order]


def test_discover_matches_numpy(served):
    client, exported, metric = served
    ids, vectors = exported["ids"], exported["vectors"]
    a, b, c, d, t = (int(i) for i in ids[[1, 2, 5, 7, 12]])
    pairs = [(vectors[1], vectors[2]), (vectors[5], vectors[7])]
    for target, target_vector in ((t, vectors[12]), (None, None)):
        exclude = {a, b, c, d} | ({t} if target is not None else set())
        expected_ids, expected_scores = _reference(exported, metric, target_vector, pairs, 10, exclude)
        result = client.discover(target, [(a, b), (c, d)], k=10)
        assert result.metric == "discovery"
        assert result.ids == expected_ids
        np.testing.assert_allclose(result.scores, expected_scores, rtol=1e-5, atol=1e-5)
    # a raw vector term and paging behave as in Search
    expected_ids, _ = _reference(exported, metric, vectors[12], pairs, 8, {a, b, c, d})
    paged = client.discover(vectors[12].astype(np.float32), [(a, b), (c, d)], k=4, offset=4)
    assert paged.ids == expected_ids[4:8]


def test_discover_cli_and_bad_context(served):
    from latentspace.client import errors as e
    from latentspace.client.json_view import discover_json
    from support.cli import run_cli

    client, exported, _ = served
    ids = [int(i) for i in exported["ids"][:4]]
    out = run_cli("discover", "--target", f"id:{ids[0]}", "--context", f"id:{ids[1]}", f"id:{ids[2]}", "-k", 5,
                  "--json", "--server", client.address)
    assert out.code == 0, out.err
    assert json.loads(out.out) == discover_json(client.discover(ids[0], [(ids[1], ids[2])], k=5))
    with pytest.raises(e.InvalidArgument, match="empty context"):
        client.discover(ids[0], [])
    with pytest.raises(e.InvalidArgument, match="context pair 1: positive and negative are the same"):
        client.discover(None, [(ids[1], ids[1])])
    with pytest.raises(e.InvalidArgument, match="too many context pairs: 17 given, at most 16"):
        client.discover(None, [(ids[1], ids[2])] * 17)
    with pytest.raises(e.NotFound):
        client.discover(None, [(ids[1], 999_999)])
    missing = run_cli("discover", "--target", f"id:{ids[0]}", "--server", client.address)
    assert missing.code == 2 and "--context" in missing.err
