"""Info reports how the index is searched (nprobe, efSearch, candidates) and its FAISS factory,
through the client and in `latentspace info` (text and --json)."""

from __future__ import annotations

import json

import numpy as np

from support.cli import run_cli
from support.servers import serve_in_process


def test_info_reports_the_recorded_search_settings(tmp_path):
    from latentspace.client import Client, SearchSettings
    from latentspace.indexer import IndexSettings, IndexStore, NewItem
    from latentspace.indexer.import_vectors import vector_only_embedder
    from latentspace.indexer.manifest import SearchSettings as Recorded

    directory = tmp_path / "idx"
    settings = IndexSettings("l2", "Flat", search=Recorded(nprobe=7, ef_search=33, candidates=444))
    with IndexStore.create(directory, vector_only_embedder(8), settings) as store:
        rows = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
        store.add([NewItem(path=f"v/{i}", label="", sha256=f"{i:064x}", width=0, height=0, vector=v)
                   for i, v in enumerate(rows)])
    running = serve_in_process(directory, None)
    try:
        with Client(running.address) as client:
            info = client.info()
        assert info.search == SearchSettings(nprobe=7, ef_search=33, candidates=444)
        assert info.faiss_factory == "Flat" and info.device == "none"
        text = run_cli("info", "--server", running.address)
        assert text.code == 0, text.text
        assert "nprobe 7, efSearch 33, 444 candidates" in text.out
        shown = run_cli("info", "--server", running.address, "--json")
        assert json.loads(shown.out)["search"] == {"nprobe": 7, "ef_search": 33, "candidates": 444}
    finally:
        running.stop(grace=1.0)


def test_serve_overrides_the_recorded_settings_for_its_run_only(tmp_path):
    from latentspace.client import Client, SearchSettings
    from latentspace.indexer import IndexSettings, IndexStore, NewItem
    from latentspace.indexer.import_vectors import vector_only_embedder
    from latentspace.indexer.manifest import SearchSettings as Recorded
    from support.servers import ServeProcess

    directory = tmp_path / "idx"
    settings = IndexSettings("cosine", "Flat", search=Recorded(nprobe=7, ef_search=33, candidates=444))
    with IndexStore.create(directory, vector_only_embedder(8), settings) as store:
        rows = np.abs(np.random.default_rng(1).normal(size=(20, 8))).astype(np.float32)
        store.add([NewItem(path=f"v/{i}", label="", sha256=f"{i:064x}", width=0, height=0, vector=v)
                   for i, v in enumerate(rows)])
    refused = run_cli("serve", str(directory), "--port", "0", "--nprobe", "0")
    assert refused.code == 2 and "nprobe must be at least 1" in refused.err
    served = ServeProcess(directory, "--nprobe", "3", "--candidates", "50")
    try:
        with Client(served.address) as client:
            assert client.info().search == SearchSettings(nprobe=3, ef_search=33, candidates=50)
        assert served.terminate() == 0  # a clean stop saves the index: the recorded settings stay
    finally:
        served.close()
    with IndexStore.open(directory, readonly=True) as store:
        assert store.manifest.search == Recorded(nprobe=7, ef_search=33, candidates=444)
