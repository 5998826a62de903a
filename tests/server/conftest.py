"""Fixtures for the server tests: real servers on 127.0.0.1:0 over copies of the small index.

``start_server``, ``server``, ``client`` and ``shared`` come from ``tests/conftest.py``. Every
server started here is stopped at teardown, and every test talks to it only through the client
library or the CLI. Servers share the session's untrained AlexNet, so starting one costs
milliseconds; tests that need a separate process start ``latentspace serve``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.servers import ServeProcess, serve_in_process


@pytest.fixture(scope="module")
def shared_index(_built_index, tmp_path_factory) -> Path:
    """A module-wide copy of the small index for tests that only read."""
    target = tmp_path_factory.mktemp("shared") / "idx"
    shutil.copytree(_built_index, target)
    return target


@pytest.fixture(scope="module")
def l2_index(_built_index, tmp_path_factory) -> Path:
    """The small index's items and vectors in a Flat index with metric l2, built via the store API."""
    from latentspace.indexer import IndexSettings, IndexStore, NewItem

    target = tmp_path_factory.mktemp("l2") / "idx"
    with IndexStore.open(_built_index, readonly=True) as source:
        ids, vectors = source.snapshot()
        items = source.items(ids.tolist())
        embedder = source.manifest.embedder
    with IndexStore.create(target, embedder, IndexSettings(metric="l2", faiss_factory="Flat")) as store:
        store.add([NewItem(path=items[i].path, label=items[i].label, sha256=items[i].sha256, width=items[i].width,
                           height=items[i].height, vector=v) for i, v in zip(ids.tolist(), vectors)])
    return target


@pytest.fixture
def serve_process() -> Iterator[Callable[..., ServeProcess]]:
    """``serve_process(index_dir, *flags)``; every child is killed at teardown if still running."""
    children: list[ServeProcess] = []

    def start(index_dir: Path, *extra: str) -> ServeProcess:
        child = ServeProcess(index_dir, *extra)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()


@pytest.fixture(scope="module")
def shared_server(shared_index, random_embedder):
    """One server per module over ``shared_index``, for tests that do not change the index."""
    running = serve_in_process(shared_index, random_embedder)
    yield running
    running.stop(grace=1.0)


@pytest.fixture(scope="module")
def shared_client(shared_server):
    from latentspace.client import Client

    with Client(shared_server.address, timeout=30.0) as c:
        yield c
