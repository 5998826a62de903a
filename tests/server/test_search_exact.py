"""Every search through the service equals an exact NumPy search over the exported vectors."""

from __future__ import annotations

import numpy as np
import pytest

from support.cli import export_arrays
from support.oracle import assert_hits, brute_force
from support.photos import photo_bytes

K = 5


@pytest.fixture(scope="module")
def exported(shared_server, shared_index, tmp_path_factory):
    return export_arrays(shared_index, tmp_path_factory.mktemp("export") / "all.npz")


def test_search_by_every_item_id_matches_brute_force(shared_client, exported):
    for item_id, vector in zip(exported["ids"].tolist(), exported["vectors"]):
        others = exported["ids"] != item_id
        ids, scores = brute_force(exported, vector, K, "cosine", keep=others)
        assert_hits(shared_client.search(item_id=item_id, k=K), (ids, scores))
        # include_self: the item itself comes first, with cosine 1
        ids, scores = brute_force(exported, vector, K, "cosine")
        result = shared_client.search(item_id=item_id, k=K, exclude_self=False)
        assert_hits(result, (ids, scores))
        assert result.ids[0] == item_id


def test_search_by_vector_matches_brute_force(shared_client, exported):
    rng = np.random.default_rng(7)
    dim = exported["vectors"].shape[1]
    for _ in range(5):
        query = rng.normal(size=dim).astype(np.float32)
        ids, scores = brute_force(exported, query, K, "cosine")
        assert_hits(shared_client.search(vector=query, k=K), (ids, scores))
    # k larger than the index: every item, in order
    ids, scores = brute_force(exported, query, 100, "cosine")
    assert len(ids) == len(exported["ids"])
    assert_hits(shared_client.search(vector=query, k=100), (ids, scores))


def test_search_by_image_matches_embedding_in_process(shared_client, exported, random_embedder):
    from latentspace.indexer import decode_image

    for seed, fmt in ((11, "PNG"), (12, "JPEG"), (13, "WEBP")):
        data = photo_bytes(seed, (40, 170, 60), fmt)
        expected_vector = random_embedder.embed_images([decode_image(data).image])[0]
        np.testing.assert_allclose(shared_client.embed(data), expected_vector, rtol=0, atol=1e-6)
        ids, scores = brute_force(exported, expected_vector, K, "cosine")
        assert_hits(shared_client.search(data, k=K), (ids, scores))


def test_label_filter_and_batch_search(shared_client, exported):
    labels = exported["labels"]
    keep = labels == "green"
    first = int(exported["ids"][0])
    query_vector = exported["vectors"][0]
    ids, scores = brute_force(exported, query_vector, K, "cosine", keep=keep & (exported["ids"] != first))
    result = shared_client.search(item_id=first, k=K, labels=["green"])
    assert_hits(result, (ids, scores))
    assert {h.label for h in result.hits} == {"green"}
    # two labels, and a label nobody has
    two = (labels == "green") | (labels == "blue")
    ids, scores = brute_force(exported, query_vector, 20, "cosine", keep=two)
    assert_hits(shared_client.search(vector=query_vector, k=20, labels=["green", "blue"]), (ids, scores))
    assert shared_client.search(item_id=first, labels=["no-such-label"]).hits == ()

    image = photo_bytes(21, (30, 60, 200))
    rng = np.random.default_rng(3)
    vector = rng.normal(size=exported["vectors"].shape[1]).astype(np.float32)
    queries = [first, image, vector, int(exported["ids"][-1]), photo_bytes(22)]
    batch = shared_client.batch_search(queries, k=K)
    assert len(batch) == len(queries)
    singles = [
        shared_client.search(item_id=first, k=K),
        shared_client.search(image, k=K),
        shared_client.search(vector=vector, k=K),
        shared_client.search(item_id=int(exported["ids"][-1]), k=K),
        shared_client.search(photo_bytes(22), k=K),
    ]
    for got, want in zip(batch, singles):
        assert got.ids == want.ids
        np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=1e-5)
    filtered = shared_client.batch_search(queries[:2], k=K, labels=["red"])
    assert all(h.label == "red" for r in filtered for h in r.hits)


def test_l2_index_matches_brute_force(start_server, l2_index, tmp_path):
    from latentspace.client import Client

    exported = export_arrays(l2_index, tmp_path / "l2.npz")
    running = start_server(l2_index)
    with Client(running.address) as client:
        info = client.info()
        assert (info.metric, info.faiss_factory, info.uses_faiss) == ("l2", "Flat", True)
        for item_id, vector in zip(exported["ids"].tolist()[:6], exported["vectors"]):
            ids, scores = brute_force(exported, vector, K, "l2", keep=exported["ids"] != item_id)
            result = client.search(item_id=item_id, k=K)
            assert result.metric == "l2"
            assert_hits(result, (ids, scores))
        zero = np.zeros(exported["vectors"].shape[1], dtype=np.float32)  # fine for l2: the origin
        ids, scores = brute_force(exported, zero, K, "l2")
        assert_hits(client.search(vector=zero, k=K), (ids, scores))
        data = photo_bytes(31)
        ids, scores = brute_force(exported, client.embed(data), K, "l2")
        assert_hits(client.search(data, k=K), (ids, scores))
        assert [r.ids for r in client.batch_search([data, zero], k=K)] == [ids, brute_force(exported, zero, K, "l2")[0]]
