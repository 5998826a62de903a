"""Combine on a Flat index equals an independent NumPy implementation of each method's formula,
on AlexNet (4096-d) and on EfficientNet-Lite0 with ImageNet weights (1280-d): same ids in the
same order, scores within 1e-5."""

from __future__ import annotations

import numpy as np
import pytest

from support.oracle import assert_hits, ref_combine, unit
from support.photos import photo_bytes

METHODS = ("add", "cosmul", "average", "best_score", "sum_scores")
K = 5


@pytest.fixture(params=["alex", "eff"])
def served(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("method", METHODS)
def test_analogy_of_items_matches_numpy(served, method):
    client, exported = served
    ids, vectors = exported["ids"], exported["vectors"]
    rng = np.random.default_rng(1)
    for a, b, c in (rng.choice(len(ids), 3, replace=False) for _ in range(3)):
        expected = ref_combine(exported, method, [(vectors[a], 1.0), (vectors[c], 1.0)], [(vectors[b], 1.0)], k=K,
                               exclude={int(ids[a]), int(ids[b]), int(ids[c])})
        result = client.combine([int(ids[a]), int(ids[c])], [int(ids[b])], method=method, k=K)
        assert_hits(result, expected)
        assert result == client.analogy(int(ids[a]), int(ids[b]), int(ids[c]), method=method, k=K)
    # include_terms keeps the term items, and k past the index size returns every other row
    expected = ref_combine(exported, method, [(vectors[0], 1.0), (vectors[2], 1.0)], [(vectors[1], 1.0)], k=100)
    result = client.combine([int(ids[0]), int(ids[2])], [int(ids[1])], method=method, k=100, include_terms=True)
    assert_hits(result, expected)
    assert len(result) == len(ids)


@pytest.mark.parametrize("method", METHODS)
def test_weighted_terms_of_every_kind_match_numpy(served, method):
    """An item, an image, a raw vector, with weights, and a label filter."""
    from latentspace.client import Term

    client, exported = served
    ids, vectors, labels = exported["ids"], exported["vectors"], exported["labels"]
    image = photo_bytes(31, (40, 170, 60))
    image_vector = client.embed(image).astype(np.float64)
    raw = np.abs(np.random.default_rng(2).normal(size=vectors.shape[1]))
    pos = [(vectors[3], 2.0), (image_vector, 0.5)]
    neg = [(raw, 1.5)]
    expected = ref_combine(exported, method, pos, neg, k=K, exclude={int(ids[3])})
    result = client.combine([Term.of(int(ids[3]), weight=2.0), Term.of(image, weight=0.5)],
                            [Term.of(raw.astype(np.float32), weight=1.5)], method=method, k=K)
    assert_hits(result, expected)

    keep = (labels == "red") | (labels == "blue")
    expected = ref_combine(exported, method, pos, neg, k=K, exclude={int(ids[3])}, keep=keep)
    filtered = client.combine([Term.of(int(ids[3]), weight=2.0), Term.of(image, weight=0.5)],
                              [Term.of(raw.astype(np.float32), weight=1.5)], method=method, k=K, labels=["red", "blue"])
    assert_hits(filtered, expected)
    assert {h.label for h in filtered.hits} <= {"red", "blue"}


@pytest.mark.parametrize("method", ["average", "best_score", "cosmul", "sum_scores"])
def test_l2_index_matches_numpy(start_server, _built_index, tmp_path, method):
    """On an l2 index average is squared distance to 2·mean(pos) − mean(neg) (ascending) and
    best_score uses −‖x − v‖²; 3CosMul stays cosine whatever the metric."""
    from latentspace.client import Client
    from latentspace.indexer import IndexSettings, IndexStore, NewItem

    target = tmp_path / "l2"
    with IndexStore.open(_built_index, readonly=True) as source:
        ids, vectors = source.snapshot()
        items = source.items(ids.tolist())
        info = source.manifest.embedder
    with IndexStore.create(target, info, IndexSettings(metric="l2")) as store:
        store.add([NewItem(path=items[i].path, label=items[i].label, sha256=items[i].sha256, width=1, height=1,
                           vector=v) for i, v in zip(ids.tolist(), vectors)])
    exported = {"ids": np.arange(1, len(ids) + 1), "vectors": vectors}
    with Client(start_server(target).address) as client:
        result = client.combine([1, 3], [2], method=method, k=K)
        expected = ref_combine(exported, method, [(vectors[0], 1.0), (vectors[2], 1.0)], [(vectors[1], 1.0)],
                               metric="l2", k=K, exclude={1, 2, 3})
        assert result.ids == expected[0]
        np.testing.assert_allclose(result.scores, expected[1], rtol=1e-5, atol=1e-5)
        assert result.metric == {"average": "l2", "best_score": "best_score", "cosmul": "cosmul",
                                 "sum_scores": "sum_scores"}[method]
        if method == "best_score":  # negatives only: the rows farthest from them first, not the nearest
            alone = client.combine(negative=[2], method=method, k=K)
            expected = ref_combine(exported, method, [], [(vectors[1], 1.0)], metric="l2", k=K, exclude={2})
            assert alone.ids == expected[0]
            far = np.argsort(-((vectors.astype(np.float64) - vectors[1]) ** 2).sum(axis=1), kind="stable")[:K] + 1
            assert alone.ids == far.tolist()
            np.testing.assert_allclose(alone.scores, expected[1], rtol=1e-5, atol=1e-6)


def test_add_normalises_each_term(alex):
    """3CosAdd uses unit vectors: scaling a raw vector term changes nothing."""
    client, exported = alex
    v = exported["vectors"][6].astype(np.float32)
    a = client.combine([7, v], [8], k=K)
    b = client.combine([7, v * 1000], [8], k=K)
    assert a.ids == b.ids
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    assert np.allclose(unit(v), unit(v * 1000))
