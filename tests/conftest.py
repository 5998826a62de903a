"""Fixtures shared by every test: seeded synthetic photos, an untrained AlexNet, a small index, and
real servers on 127.0.0.1:0 over it.

Tests never need the network or files outside the repository: images are drawn here, and the
embedder uses seeded random weights (``--weights random``), which is deterministic. Plain helpers
live in ``tests/support`` (a package on the path); fixtures live in the ``conftest.py`` files.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.photos import write_corpus
from support.servers import serve_in_process


@pytest.fixture(scope="session")
def random_embedder():
    """AlexNet fc7 with seeded untrained weights, loaded once per session."""
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    return load_embedder(EmbedderConfig(model="alexnet", weights=WeightsChoice.parse("random:0")), device="cpu")


@pytest.fixture(scope="session")
def photo_corpus(tmp_path_factory) -> Path:
    """A read-only corpus of 12 synthetic photos in three labelled folders."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root)
    return root


@pytest.fixture(scope="session")
def _built_index(tmp_path_factory, photo_corpus, random_embedder) -> Path:
    from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, discover, index_corpus

    directory = tmp_path_factory.mktemp("index") / "idx"
    with IndexStore.create(directory, EmbedderInfo.from_embedder(random_embedder)) as store:
        index_corpus(discover(photo_corpus), store, random_embedder, IndexOptions(workers=0, progress=False))
    return directory


@pytest.fixture
def small_index(_built_index, tmp_path) -> Path:
    """A fresh copy of a Flat/cosine index of ``photo_corpus`` (AlexNet fc7, random:0), safe to change."""
    target = tmp_path / "idx"
    shutil.copytree(_built_index, target)
    return target


@pytest.fixture
def start_server(random_embedder) -> Iterator[Callable]:
    """``start_server(index_dir, embedder=None, **config_changes) -> RunningServer``; all are stopped at
    teardown. Without ``embedder`` the server uses the session's untrained AlexNet."""
    started = []

    def start(index_dir: Path, embedder=None, **changes):
        running = serve_in_process(index_dir, embedder or random_embedder, **changes)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(grace=1.0)


@pytest.fixture
def server(start_server, small_index):
    """A server over a fresh, mutable copy of the small cosine/Flat index."""
    return start_server(small_index)


@pytest.fixture
def client(server):
    from latentspace.client import Client

    with Client(server.address, timeout=30.0) as c:
        yield c


@pytest.fixture(scope="module")
def shared(_built_index, random_embedder, tmp_path_factory):
    """(running server, client) of one server per module over a copy of the small index."""
    from latentspace.client import Client

    target = tmp_path_factory.mktemp("sheets") / "idx"
    shutil.copytree(_built_index, target)
    running = serve_in_process(target, random_embedder)
    client = Client(running.address, timeout=30.0)
    yield running, client
    client.close()
    running.stop(grace=1.0)
