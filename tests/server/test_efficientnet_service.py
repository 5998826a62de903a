"""The service over a 1280-d EfficientNet-Lite0 index: exact search, embedding and info."""

from __future__ import annotations

import numpy as np
import pytest

from support.cli import export_arrays
from support.oracle import brute_force
from support.photos import photo_bytes
from support.servers import server_config

K = 4


@pytest.fixture(scope="module")
def eff_server(photo_corpus, tmp_path_factory):
    from latentspace.client import Client
    from latentspace.indexer import (EmbedderConfig, EmbedderInfo, IndexOptions, IndexStore, WeightsChoice,
                                     discover, index_corpus, load_embedder)
    from latentspace.server.app import create_server

    embedder = load_embedder(EmbedderConfig(model="efficientnet-lite0", weights=WeightsChoice.parse("imagenet")))
    directory = tmp_path_factory.mktemp("eff") / "idx"
    with IndexStore.create(directory, EmbedderInfo.from_embedder(embedder)) as store:
        index_corpus(discover(photo_corpus), store, embedder, IndexOptions(workers=0, progress=False))
    exported = export_arrays(directory, directory.parent / "eff.npz")
    running = create_server(directory, server_config(), embedder=embedder)
    with Client(running.address, timeout=30.0) as client:
        yield client, embedder, exported
    running.stop(grace=1.0)


def test_info_reports_1280_dimensions(eff_server):
    client, _, exported = eff_server
    info = client.info()
    assert (info.model, info.dimension, info.item_count) == ("efficientnet-lite0", 1280, len(exported["ids"]))
    assert info.weights.pretrained


def test_searches_match_brute_force_on_1280_d_vectors(eff_server):
    client, embedder, exported = eff_server
    from latentspace.indexer import decode_image

    data = photo_bytes(21, (30, 60, 200), "JPEG")
    vector = embedder.embed_images([decode_image(data).image])[0]
    assert vector.shape == (1280,)
    np.testing.assert_allclose(client.embed(data), vector, rtol=0, atol=1e-5)
    for result, expected in (
        (client.search(data, k=K), brute_force(exported, vector, K, "cosine")),
        (client.search(vector=vector, k=K), brute_force(exported, vector, K, "cosine")),
        (client.search(item_id=int(exported["ids"][0]), k=K),
         brute_force(exported, exported["vectors"][0], K, "cosine", keep=exported["ids"] != exported["ids"][0])),
    ):
        assert result.ids == expected[0]
        np.testing.assert_allclose(result.scores, expected[1], rtol=0, atol=1e-5)


def test_a_4096_d_vector_is_refused_by_a_1280_d_index(eff_server):
    client, _, _ = eff_server
    from latentspace.client.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="1280"):
        client.search(vector=np.ones(4096, dtype=np.float32), k=K)
