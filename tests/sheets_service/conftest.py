"""Fixtures for the picture service tests: real servers on 127.0.0.1:0 over copies of the small index.

As in ``tests/service``, every server is stopped at teardown and tests talk to it only through
the client library, the CLI or (for malformed requests) the raw stub. Servers share the session's
untrained AlexNet, so starting one costs milliseconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sheets_support import decode, server_config


@pytest.fixture
def start_server(random_embedder) -> Iterator[Callable]:
    """``start_server(index_dir, **config_changes) -> RunningServer``; all are stopped at teardown."""
    from latentspace.server.app import create_server

    started = []

    def start(index_dir: Path, **changes):
        running = create_server(index_dir, server_config(**changes), embedder=random_embedder)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(grace=1.0)


@pytest.fixture
def fresh(start_server, small_index):
    """(running server, client) over a fresh copy of the small index, for tests that change files."""
    from latentspace.client import Client

    running = start_server(small_index)
    with Client(running.address, timeout=30.0) as client:
        yield running, client


@pytest.fixture(scope="module")
def shared(_built_index, random_embedder, tmp_path_factory):
    """(running server, client) of one server per module over a copy of the small index."""
    from latentspace.client import Client
    from latentspace.server.app import create_server

    target = tmp_path_factory.mktemp("sheets") / "idx"
    shutil.copytree(_built_index, target)
    running = create_server(target, server_config(), embedder=random_embedder)
    client = Client(running.address, timeout=30.0)
    yield running, client
    client.close()
    running.stop(grace=1.0)


@pytest.fixture(scope="module")
def thumbs(shared) -> dict[int, object]:
    """Every item's 128-px thumbnail as the server makes it, by id."""
    _, client = shared
    ids = [item.id for item in client.iter_items()]
    return {i: decode(t.png) for i, t in client.thumbnails(ids).items()}
