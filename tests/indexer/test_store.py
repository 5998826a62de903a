"""IndexStore: FAISS search agrees with brute force, filters work, and the directory is guarded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from latentspace.indexer import (
    EmbedderInfo,
    IndexLocked,
    IndexMismatch,
    IndexSettings,
    IndexStore,
    NewItem,
    exact_search,
)
from support.oracle import brute_force_rows

DIM = 16
INFO = EmbedderInfo(
    model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
    weights_description="test vectors", weights_sha256="a" * 64, pretrained=False,
)


def items_for(vectors: np.ndarray, prefix: str = "v") -> list[NewItem]:
    return [NewItem(f"/corpus/{prefix}{i}.png", prefix, f"{prefix}{i}", 4, 4, v) for i, v in enumerate(vectors)]


@pytest.fixture(params=["cosine", "l2"])
def metric(request) -> str:
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def assert_same_results(got, expected) -> None:
    (got_scores, got_ids), (exp_scores, exp_ids) = got, expected
    np.testing.assert_array_equal(got_ids, exp_ids)
    np.testing.assert_allclose(got_scores, exp_scores, rtol=1e-5, atol=1e-5)


def test_flat_search_equals_brute_force_through_adds_and_removes(metric, rng, tmp_path):
    vectors = rng.normal(size=(300, DIM)).astype(np.float32)
    queries = rng.normal(size=(12, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "idx", INFO, IndexSettings(metric=metric)) as store:
        ids = np.asarray(store.add(items_for(vectors[:200])), dtype=np.int64)
        assert store.uses_faiss and store.faiss.ntotal == 200
        assert_same_results(store.search(queries, 10), brute_force_rows(queries, ids, vectors[:200], 10, metric))
        assert_same_results(exact_search(queries, ids, vectors[:200], 10, metric), brute_force_rows(queries, ids, vectors[:200], 10, metric))

        removed = ids[::3]
        assert sorted(store.remove(removed.tolist())) == sorted(removed.tolist())
        assert store.remove(removed[:5].tolist()) == [], "removing twice removes nothing"
        new_ids = np.asarray(store.add(items_for(vectors[200:], "w")), dtype=np.int64)
        assert new_ids.min() > ids.max(), "ids are never reused"
        keep = ~np.isin(ids, removed)
        all_ids = np.concatenate([ids[keep], new_ids])
        all_vectors = np.concatenate([vectors[:200][keep], vectors[200:]])
        expected = brute_force_rows(queries, all_ids, all_vectors, 10, metric)
        assert_same_results(store.search(queries, 10), expected)
        np.testing.assert_array_equal(store.vectors(new_ids[:3]), vectors[200:203])
        with pytest.raises(KeyError):
            store.vectors([int(removed[0])])

    with IndexStore.open(tmp_path / "idx", readonly=True) as reopened:  # the same after a reload
        assert reopened.uses_faiss and len(reopened) == len(all_ids)
        assert_same_results(reopened.search(queries, 10), expected)


def test_batched_flat_search_equals_one_query_at_a_time(metric, rng):
    """Batches of more queries than FAISS has threads take its BLAS path, single queries its scan."""
    import faiss

    from latentspace.indexer.faiss_index import FaissIndex

    dim = 512
    vectors = rng.random(size=(2000, dim), dtype=np.float32)  # non-negative, as fc7 is
    queries = rng.random(size=(faiss.omp_get_max_threads() + 1, dim), dtype=np.float32)
    index = FaissIndex.create(dim, "Flat", metric)
    ids = np.arange(100, 2100, dtype=np.int64)
    index.add(ids, vectors)
    batched = index.search(queries, 10)
    assert len(queries) * dim >= faiss.cvar.distance_compute_blas_threshold > dim, "the batch: BLAS; 1 query: scan"
    singles = [index.search(q[None, :], 10) for q in queries]
    np.testing.assert_array_equal(batched[1], np.concatenate([ids for _, ids in singles]))
    np.testing.assert_allclose(batched[0], np.concatenate([scores for scores, _ in singles]), rtol=1e-5, atol=1e-5)
    assert_same_results(batched, brute_force_rows(queries, ids, vectors, 10, metric))


def test_scores_follow_the_metric_convention(metric, rng, tmp_path):
    vectors = rng.normal(size=(20, DIM)).astype(np.float32) * 3
    with IndexStore.create(tmp_path / "idx", INFO, IndexSettings(metric=metric)) as store:
        store.add(items_for(vectors))
        scores, ids = store.search(vectors[:4], 5)
    np.testing.assert_array_equal(ids[:, 0], [1, 2, 3, 4])  # each vector is its own best match
    if metric == "cosine":
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
        assert (np.diff(scores, axis=1) <= 1e-6).all(), "cosines descend"
    else:
        np.testing.assert_allclose(scores[:, 0], 0.0, atol=1e-4)
        assert (np.diff(scores, axis=1) >= -1e-4).all(), "squared distances ascend"


def test_exact_search_pads_and_breaks_ties_by_id():
    vectors = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    ids = np.array([7, 3, -1])  # -1 is a free row and is never returned
    scores, found = exact_search(np.array([[1, 0]], dtype=np.float32), ids, vectors, 4, "cosine")
    assert found.tolist() == [[3, 7, -1, -1]]
    assert scores[0, :2].tolist() == [1.0, 1.0] and np.isneginf(scores[0, 2:]).all()
    scores, found = exact_search(np.array([[1, 0]], dtype=np.float32), ids, vectors, 3, "l2")
    assert found.tolist() == [[3, 7, -1]] and np.isposinf(scores[0, 2])


@pytest.mark.parametrize("factory", ["Flat", "IVF64,Flat"], ids=["faiss", "exact"])
def test_allowed_ids_restricts_results(factory, metric, rng, tmp_path):
    """Flat searches through FAISS; an untrained IVF64 (fewer than 64 vectors) searches exactly."""
    vectors = rng.normal(size=(50, DIM)).astype(np.float32)
    queries = rng.normal(size=(5, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "idx", INFO, IndexSettings(metric=metric, faiss_factory=factory)) as store:
        ids = np.asarray(store.add(items_for(vectors)), dtype=np.int64)
        assert store.uses_faiss == (factory == "Flat")
        allowed = ids[rng.permutation(50)[:9]]
        scores, found = store.search(queries, 5, allowed_ids=allowed)
        mask = np.isin(ids, allowed)
        assert_same_results((scores, found), brute_force_rows(queries, ids[mask], vectors[mask], 5, metric))
        _, few = store.search(queries, 12, allowed_ids=allowed)
        assert ((few[:, :9] >= 0) & np.isin(few[:, :9], allowed)).all() and (few[:, 9:] == -1).all()


def test_allowed_ids_on_a_trained_ivf_index_keeps_its_nprobe(metric, rng, tmp_path):
    """IVF indexes take their own search parameters: the filter must reach them without
    resetting nprobe (probing all 4 lists here makes the search exact)."""
    import faiss

    vectors = rng.normal(size=(200, DIM)).astype(np.float32)
    queries = rng.normal(size=(5, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "idx", INFO, IndexSettings(metric=metric, faiss_factory="IVF4,Flat")) as store:
        ids = np.asarray(store.add(items_for(vectors)), dtype=np.int64)
        assert store.train()
        faiss.extract_index_ivf(store.faiss.index.index).nprobe = 4
        allowed = ids[rng.permutation(200)[:30]]
        scores, found = store.search(queries, 5, allowed_ids=allowed)
        mask = np.isin(ids, allowed)
        assert_same_results((scores, found), brute_force_rows(queries, ids[mask], vectors[mask], 5, metric))


@pytest.mark.parametrize("factory", ["Flat", "IVF64,Flat"], ids=["faiss", "exact"])
def test_exclude_ids_drops_per_query_and_still_returns_k(factory, metric, rng, tmp_path):
    vectors = rng.normal(size=(40, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "idx", INFO, IndexSettings(metric=metric, faiss_factory=factory)) as store:
        ids = np.asarray(store.add(items_for(vectors)), dtype=np.int64)
        queries = vectors[:3]
        exclude = [{int(ids[0])}, {int(ids[1]), int(ids[5]), int(ids[6])}, set()]
        scores, found = store.search(queries, 6, exclude_ids=exclude)
        _, plain = brute_force_rows(queries, ids, vectors, 40, metric)
        plain_scores, _ = brute_force_rows(queries, ids, vectors, 40, metric)
        for row, excluded in enumerate(exclude):
            keep = ~np.isin(plain[row], list(excluded))
            np.testing.assert_array_equal(found[row], plain[row][keep][:6])
            np.testing.assert_allclose(scores[row], plain_scores[row][keep][:6], rtol=1e-5, atol=1e-5)
        assert found[0, 0] != ids[0] and found[2, 0] == ids[2]


def test_second_writer_is_locked_out_but_readers_are_not(tmp_path):
    index = tmp_path / "idx"
    writer = IndexStore.create(index, INFO)
    try:
        writer.add(items_for(np.ones((2, DIM), dtype=np.float32)))
        with pytest.raises(IndexLocked) as caught:
            IndexStore.open(index)
        assert str(index) in str(caught.value)
        with IndexStore.open(index, readonly=True) as reader:
            assert len(reader) == 2
    finally:
        writer.close()
    with IndexStore.open(index) as again:  # the lock goes with the writer
        assert len(again) == 2


def test_readonly_store_refuses_writes(tmp_path, rng):
    index = tmp_path / "idx"
    with IndexStore.create(index, INFO) as store:
        store.add(items_for(rng.normal(size=(3, DIM)).astype(np.float32)))
    manifest_before = (index / "manifest.json").read_bytes()
    with IndexStore.open(index, readonly=True) as reader:
        for write in (
            lambda: reader.add(items_for(np.ones((1, DIM), dtype=np.float32))),
            lambda: reader.remove([1]),
            reader.save,
            reader.train,
        ):
            with pytest.raises(PermissionError):
                write()
        assert len(reader) == 3
    assert (index / "manifest.json").read_bytes() == manifest_before
    with IndexStore.open(index, readonly=True) as reader:
        assert len(reader) == 3


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"layer": "fc6"}, "layer: index has 'fc7', asked for 'fc6'"),
        ({"model": "efficientnet-lite0"}, "model: index has 'alexnet'"),
        ({"dimension": 32}, "dimension: index has 16, asked for 32"),
        ({"weights": "imagenet", "weights_sha256": "b" * 64}, "weights: index has random:0"),
    ],
)
def test_open_with_another_embedder_is_a_mismatch(change, fragment, tmp_path):
    index = tmp_path / "idx"
    IndexStore.create(index, INFO).close()
    with pytest.raises(IndexMismatch) as caught:
        IndexStore.open(index, expect=replace(INFO, **change))
    assert fragment in str(caught.value)
    with IndexStore.open(index, expect=replace(INFO, weights="/some/file.pt", weights_description="same values")) as store:
        assert store.manifest.embedder == INFO, "weights are compared by their hash, not by their name"


def test_directory_errors(tmp_path, rng):
    index = tmp_path / "idx"
    with pytest.raises(FileNotFoundError):
        IndexStore.open(tmp_path / "nothing-here")
    with IndexStore.create(index, INFO) as store:
        store.add(items_for(rng.normal(size=(2, DIM)).astype(np.float32)))
        with pytest.raises(ValueError, match=r"shape \(n, 16\)"):
            store.search(np.zeros((1, DIM + 1), dtype=np.float32), 1)
        with pytest.raises(ValueError):
            store.add(items_for(np.zeros((2, DIM + 1), dtype=np.float32)))
        assert len(store) == 2 and store.db.count() == 2, "a bad batch commits nothing"
    with pytest.raises(FileExistsError):
        IndexStore.create(index, INFO)
    from latentspace.indexer.faiss_index import FaissError

    with pytest.raises(FaissError):
        IndexStore.create(tmp_path / "bad", INFO, IndexSettings(faiss_factory="NoSuchIndex"))
    assert not (tmp_path / "bad").exists()


def test_index_without_removal_is_rebuilt_on_remove(metric, rng, tmp_path):
    """HNSW cannot remove ids: the store rebuilds it from the stored vectors instead."""
    vectors = rng.normal(size=(60, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "idx", INFO, IndexSettings(metric=metric, faiss_factory="HNSW8")) as store:
        ids = np.asarray(store.add(items_for(vectors)), dtype=np.int64)
        assert store.remove(ids[:10].tolist()) == ids[:10].tolist()
        assert store.uses_faiss and store.faiss.ntotal == 50
        assert sorted(store.faiss.ids().tolist()) == ids[10:].tolist()
        _, found = store.search(vectors, 1)
        assert not np.isin(found, ids[:10]).any()
        np.testing.assert_array_equal(found[10:, 0], ids[10:])
