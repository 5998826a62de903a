"""Fixtures for the picture service tests: real servers on 127.0.0.1:0 over copies of the small index.

As everywhere in ``tests/server``, every server is stopped at teardown and tests talk to it only through
the client library, the CLI or (for malformed requests) the raw stub. Servers share the session's
untrained AlexNet, so starting one costs milliseconds. ``shared`` (one server per module) comes
from ``tests/conftest.py``, since the CLI's sheet tests use it too.
"""

from __future__ import annotations

import pytest

from support.pictures import decode


@pytest.fixture
def fresh(start_server, small_index):
    """(running server, client) over a fresh copy of the small index, for tests that change files."""
    from latentspace.client import Client

    running = start_server(small_index)
    with Client(running.address, timeout=30.0) as client:
        yield running, client


@pytest.fixture(scope="module")
def thumbs(shared) -> dict[int, object]:
    """Every item's 128-px thumbnail as the server makes it, by id."""
    _, client = shared
    ids = [item.id for item in client.iter_items()]
    return {i: decode(t.png) for i, t in client.thumbnails(ids).items()}
