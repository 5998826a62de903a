"""--faiss auto picks Flat while small and a compressed index past its threshold; searches on a
compressed index re-score candidates exactly, so scores are true cosines and recall stays high."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.indexer import EmbedderInfo, IndexSettings, IndexStore, NewItem, exact_search
from latentspace.indexer.index_choice import AutoPolicy, choose_index, parse_bytes
from latentspace.indexer.reindex import apply_auto_choice

DIM = 600  # wider than 512: the choice reduces it with PCA first, as for 4096-d vectors
INFO = EmbedderInfo(model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
                    weights_description="test vectors", weights_sha256="0" * 64, pretrained=False)
POLICY = AutoPolicy(flat_max_items=500, min_train_items=500)


def clustered(n: int, seed: int) -> np.ndarray:
    """Non-negative, sparse-ish vectors around 40 centres, like ReLU features of 40 classes."""
    rng = np.random.default_rng(seed)
    centres = np.maximum(rng.normal(size=(40, DIM)), 0) * rng.uniform(0.5, 2, size=(40, 1))
    labels = rng.integers(0, 40, size=n)
    return np.maximum(centres[labels] + 0.6 * rng.normal(size=(n, DIM)), 0).astype(np.float32)


def test_the_choice_follows_count_dimension_and_budget():
    assert choose_index(400, DIM, POLICY).factory == "Flat"
    big = choose_index(1_000_000, 4096, AutoPolicy())
    assert big.factory == "PCAR256,IVF4096_HNSW32,PQ32np" and big.train_size == 30 * 4096
    assert "probe 64 lists and re-score 400 candidates" in big.reason
    assert choose_index(1_000_000, 4096, AutoPolicy(memory_budget=parse_bytes("40M"))).factory.endswith(",PQ16np")
    with pytest.raises(ValueError, match="raise --memory-budget"):
        choose_index(10_000_000, 4096, AutoPolicy(memory_budget=parse_bytes("10M")))
    assert parse_bytes("1.5G") == 3 << 29 and parse_bytes("512M") == 512 << 20


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    directory = tmp_path_factory.mktemp("auto") / "i"
    vectors = clustered(3000, seed=0)
    with IndexStore.create(directory, INFO, IndexSettings(faiss_factory="auto", auto=POLICY)) as store:
        store.add([NewItem(f"/c/{i}", "", f"s{i}", 1, 1, v) for i, v in enumerate(vectors[:400])])
        assert apply_auto_choice(store, POLICY) is None and store.manifest.faiss_factory == "Flat"
        store.add([NewItem(f"/c/{i}", "", f"s{i}", 1, 1, v) for i, v in enumerate(vectors[400:], 400)])
        choice = apply_auto_choice(store, POLICY)
    return directory, vectors, choice


def test_auto_switches_to_a_compressed_index_past_its_threshold(grown):
    directory, _, choice = grown
    assert choice is not None and choice.factory.startswith("PCAR256,IVF") and choice.factory.endswith(",PQ32np")
    with IndexStore.open(directory, readonly=True) as store:
        assert store.manifest.faiss_factory == choice.factory and store.manifest.faiss_request == "auto"
        assert store.manifest.search == choice.search
        assert store.reranks and store.faiss.ntotal == 3000


def test_reranked_search_gives_exact_scores_and_high_recall(grown):
    directory, vectors, _ = grown
    queries = vectors[:100] + np.random.default_rng(7).normal(scale=0.3, size=(100, DIM)).astype(np.float32)
    with IndexStore.open(directory, readonly=True) as store:
        scores, ids = store.search(queries, 10)
        all_ids, stored = store.snapshot()
    true_scores, true_ids = exact_search(queries, all_ids, stored, 10, "cosine")
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), true_ids.tolist())])
    assert recall >= 0.95, recall
    unit = stored / np.linalg.norm(stored, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    exact = np.einsum("nd,nkd->nk", q.astype(np.float64), unit[ids - 1].astype(np.float64))
    np.testing.assert_allclose(scores, exact, atol=1e-5)  # true cosines of what is returned, not PQ estimates
    assert (np.diff(scores, axis=1) <= 0).all()


def test_an_explicit_factory_keeps_working_and_stays_put(tmp_path):
    vectors = clustered(800, seed=3)
    with IndexStore.create(tmp_path / "i", INFO, IndexSettings(faiss_factory="IVF8,Flat")) as store:
        store.add([NewItem(f"/c/{i}", "", f"s{i}", 1, 1, v) for i, v in enumerate(vectors)])
        assert store.train() and store.reranks
        assert apply_auto_choice(store, POLICY) is None
        scores, ids = store.search(vectors[:5], 1)
        assert ids[:, 0].tolist() == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)


def test_tuning_changes_what_faiss_probes_and_persists_only_when_asked(grown, tmp_path):
    import shutil

    import faiss

    from latentspace.indexer.manifest import SearchSettings

    directory = tmp_path / "copy"
    shutil.copytree(grown[0], directory)
    queries = grown[1][:20]
    with IndexStore.open(directory) as store:
        before = store.search(queries, 10)
        store.tune(SearchSettings(nprobe=1, ef_search=16, candidates=10))
        assert faiss.extract_index_ivf(store.faiss.index.index).nprobe == 1
        narrow = store.search(queries, 10)
        assert (narrow[1] >= 0).sum() <= (before[1] >= 0).sum()
        assert not np.array_equal(narrow[1], before[1])  # one list and ten candidates lose neighbours
        assert store.search_settings.nprobe == 1 and store.manifest.search == grown[2].search
        store.changes_since_save += 1  # a save that does write: it records the manifest's settings, not these
    with IndexStore.open(directory) as store:
        assert store.manifest.search == grown[2].search  # not persisted
        store.tune(SearchSettings(nprobe=3, ef_search=16, candidates=50), persist=True)
        store.close(save=False)
    with IndexStore.open(directory, readonly=True) as store:
        assert store.manifest.search == SearchSettings(nprobe=3, ef_search=16, candidates=50)
        assert faiss.extract_index_ivf(store.faiss.index.index).nprobe == 3
