"""Thresholded searches gather their candidates with FAISS's range search: on a Flat index every
item the exact check keeps is among them (float32 rounding in FAISS loses none), so results stay
those of the NumPy reference; an IVF index finds everything within range in the lists it probes."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.indexer import EmbedderInfo, IndexSettings, IndexStore, NewItem
from latentspace.server.search.ranged import threshold_candidates
from latentspace.server.search.refine import Threshold, faiss_radius
from latentspace.server.search.similarity import similarities

DIM = 96
INFO = EmbedderInfo(model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
                    weights_description="test vectors", weights_sha256="0" * 64, pretrained=False)


def _store(directory, metric: str, factory: str = "Flat", dtype: str = "float32", count: int = 400) -> IndexStore:
    rng = np.random.default_rng(3)
    rows = np.abs(rng.normal(size=(4, DIM)))[np.arange(count) % 4] + rng.normal(scale=0.7, size=(count, DIM))
    store = IndexStore.create(directory, INFO, IndexSettings(metric, factory, vector_dtype=dtype))
    store.add([NewItem(f"r/{i}.png", "", f"{i:064x}", 1, 1, v.astype(np.float32)) for i, v in enumerate(rows)])
    store.train()
    return store


def _reference(store: IndexStore, query: np.ndarray, threshold: Threshold) -> set[int]:
    """What the engine keeps: float32 scores (cosine, or squared distance) of float64 similarities."""
    ids, rows = store.snapshot()
    sims = similarities(query[None, :].astype(np.float64), rows, store.metric)[0]
    scores = (sims if store.metric == "cosine" else -sims).astype(np.float32)
    return set(ids[threshold.keeps(scores)].tolist())


@pytest.mark.parametrize("metric, dtype", [("cosine", "float32"), ("l2", "float32"), ("cosine", "float16")])
def test_flat_range_search_finds_every_item_the_exact_check_keeps(tmp_path, metric, dtype):
    with _store(tmp_path / "idx", metric, dtype=dtype) as store:
        ids, rows = store.snapshot()
        rng = np.random.default_rng(8)
        kind = "min_score" if metric == "cosine" else "max_distance"
        for trial in range(12):
            query = (rows[trial] + rng.normal(scale=0.3, size=DIM)).astype(np.float32)
            sims = similarities(query[None, :].astype(np.float64), rows, metric)[0]
            scores = np.sort((sims if metric == "cosine" else -sims).astype(np.float32))
            # thresholds exactly at a stored row's score: the hardest case for float32 rounding
            for cut in (scores[-5], scores[-60], scores[150]) if metric == "cosine" else (scores[4], scores[60]):
                threshold = Threshold(kind, float(cut))
                found = threshold_candidates(store, query, threshold, allowed=None, cap=1000, exact=True)
                expected = _reference(store, query, threshold)
                assert expected and expected <= set(found.tolist())
                assert len(found) <= len(expected) + 3, "the widening adds at most a few near ties"


def test_an_unselective_threshold_on_flat_leaves_the_exact_scan_to_the_caller(tmp_path):
    with _store(tmp_path / "idx", "cosine") as store:
        query = store.snapshot()[1][0]
        assert threshold_candidates(store, query, Threshold("min_score", -1.0), allowed=None, cap=50, exact=True) is None
        found = threshold_candidates(store, query, Threshold("min_score", -1.0), allowed=None, cap=50, exact=False)
        sims = similarities(query[None, :].astype(np.float64), store.snapshot()[1], "cosine")[0]
        best = set(store.snapshot()[0][np.argsort(-sims)[:50]].tolist())
        assert len(found) == 50 and len(best & set(found.tolist())) >= 48  # FAISS's float32 order at the cut


def test_label_filter_and_ivf_lists(tmp_path):
    with _store(tmp_path / "ivf", "cosine", factory="IVF4,Flat") as store:
        assert store.uses_faiss and store.manifest.search.nprobe >= 4  # every list probed
        ids, rows = store.snapshot()
        query = rows[7]
        threshold = Threshold("min_score", 0.6)
        expected = _reference(store, query, threshold)
        found = threshold_candidates(store, query, threshold, allowed=None, cap=1000, exact=False)
        assert len(expected) > 50 and expected <= set(found.tolist())
        allowed = ids[::3]
        found = threshold_candidates(store, query, threshold, allowed=allowed, cap=1000, exact=False)
        assert set(found.tolist()) <= set(allowed.tolist())
        assert expected & set(allowed.tolist()) <= set(found.tolist())


def test_no_faiss_yet_means_no_range_search(tmp_path):
    with _store(tmp_path / "small", "cosine", factory="IVF64,Flat", count=30) as store:
        assert not store.uses_faiss  # too few vectors to train 64 lists: searches are exact
        assert threshold_candidates(store, store.snapshot()[1][0], Threshold("min_score", 0.5),
                                    allowed=None, cap=10, exact=True) is None


def test_the_radius_widens_with_the_dimension_and_the_norms():
    cosine = Threshold("min_score", 0.5)
    assert faiss_radius(cosine, dim=4096) < faiss_radius(cosine, dim=16) < 0.5
    l2 = Threshold("max_distance", 4.0)
    assert 4.0 < faiss_radius(l2, dim=64, query_sq_norm=1.0) < faiss_radius(l2, dim=64, query_sq_norm=1e4)


def test_a_thresholded_search_on_flat_scores_only_what_the_range_search_found(random_embedder, tmp_path, monkeypatch):
    """Through a real server: no scan of every row, and the hits of the NumPy reference."""
    from latentspace.client import Client
    from latentspace.server.search.engine import SearchEngine
    from support.cli import export_arrays
    from support.indexes import synthetic_index
    from support.servers import serve_in_process

    def no_scan(self, *args, **kwargs):
        raise AssertionError("every row was scored")

    directory = synthetic_index(tmp_path / "flat", random_embedder, factory="Flat", metric="cosine", count=120)
    exported = export_arrays(directory, tmp_path / "all.npz")
    monkeypatch.setattr(SearchEngine, "exact_tops", no_scan)
    running = serve_in_process(directory, random_embedder)
    try:
        with Client(running.address, timeout=60.0) as client:
            ids, vectors = exported["ids"], exported["vectors"].astype(np.float64)
            sims = similarities(vectors[5][None, :], vectors, "cosine")[0].astype(np.float32)
            order = np.lexsort((ids, -sims))
            cut = float(sims[order][30])
            kept = [int(i) for i in ids[order] if i != ids[5]][:30]
            result = client.search(item_id=int(ids[5]), k=40, min_score=cut)
            assert result.ids == kept
            np.testing.assert_allclose(result.scores, sims[order][1:31], rtol=1e-6, atol=1e-6)
    finally:
        running.stop(grace=1.0)
