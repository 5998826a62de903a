"""`latentspace reindex` while a server answers searches and adds: no query fails, no item is lost,
and the server switches to the new generation by itself."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

from latentspace.indexer import EmbedderInfo, IndexStore, NewItem


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def embedder():
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    return load_embedder(EmbedderConfig(model="alexnet", weights=WeightsChoice.parse("random:0")), device="cpu")


def test_reindex_while_a_server_searches_and_adds_loses_nothing(tmp_path, embedder, cli, draw):
    from latentspace.client import Client
    from latentspace.server.app import create_server
    from latentspace.server.config import ServerConfig

    directory = tmp_path / "idx"
    vectors = np.maximum(np.random.default_rng(0).normal(size=(400, embedder.dim)), 0).astype(np.float32)
    with IndexStore.create(directory, EmbedderInfo.from_embedder(embedder)) as store:
        store.add([NewItem(f"/c/{i}", "", f"s{i}", 1, 1, v) for i, v in enumerate(vectors)])
    running = create_server(directory, ServerConfig(host="127.0.0.1", port=0), embedder=embedder)
    failures, answered, added = [], [0], []
    stop = threading.Event()

    def search_loop() -> None:
        with Client(running.address, timeout=30.0) as client:
            rng = np.random.default_rng(1)
            while not stop.is_set() and answered[0] < 5000:
                i = int(rng.integers(0, 400))
                try:
                    hits = client.search(vector=vectors[i], k=3).hits
                    if hits[0].id != i + 1:
                        failures.append(f"query {i} found {hits[0].id} first")
                    answered[0] += 1
                except Exception as exc:  # any error is a lost query
                    failures.append(repr(exc))

    try:
        searcher = threading.Thread(target=search_loop)
        searcher.start()
        with Client(running.address, timeout=60.0) as client:
            added += [item.id for item in client.add_images([png(draw(1, (200, 30, 30), (32, 32)))])]
            result = cli("reindex", directory, "--faiss", "IVF8,Flat", "--no-progress", "--wait", "60")
            assert result.code == 0, result.text
            assert "handed it to the process" not in result.err, "the server switched while reindex waited"
            added += [item.id for item in client.add_images([png(draw(2, (30, 30, 200), (32, 32)))])]
            deadline = time.monotonic() + 30
            while client.info().faiss_factory != "IVF8,Flat" and time.monotonic() < deadline:
                time.sleep(0.1)
            info = client.info()
            assert (info.faiss_factory, info.item_count) == ("IVF8,Flat", 402)
            time.sleep(0.3)  # searches go on against the new generation
        stop.set()
        searcher.join(timeout=60)
    finally:
        stop.set()
        running.stop(grace=5.0)
    assert failures == [] and answered[0] > 0, failures[:5]
    assert not (directory / "reindex.json").exists()
    with IndexStore.open(directory, readonly=True) as store:
        assert store.manifest.faiss_factory == "IVF8,Flat" and store.uses_faiss
        assert store.ids().tolist() == list(range(1, 401)) + added
        assert store.faiss.ntotal == 402
