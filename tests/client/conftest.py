"""Fixtures of the client end-to-end suite: every test runs once with ``Client`` and once with
``AsyncClient``, written once.

``connect(address, **options)`` gives a ``Client``, or an ``AsyncClient`` driven through
:class:`AsyncBridge` (each method call runs to completion on the bridge's own event loop, so
test bodies stay blocking code); both are closed at teardown. Servers are real, on 127.0.0.1:0.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import threading

import pytest

from support.cli import export_arrays
from support.servers import serve_in_process


class AsyncBridge:
    """An ``AsyncClient`` used from blocking code: ``bridge.search(...)`` is ``await client.search(...)``
    on the bridge's loop; an async iterator (``iter_items``) comes back as a list."""

    def __init__(self, address: str, **options) -> None:
        from latentspace.client import AsyncClient

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="async-client-loop", daemon=True)
        self._thread.start()

        async def make() -> AsyncClient:
            return AsyncClient(address, **options)

        self._client = self._complete(make())

    def _complete(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=300)

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        async def invoke(*args, **kwargs):
            result = attribute(*args, **kwargs)
            if inspect.isasyncgen(result):
                return [value async for value in result]
            assert inspect.isawaitable(result), f"AsyncClient.{name} must return an awaitable"
            return await result

        return lambda *args, **kwargs: self._complete(invoke(*args, **kwargs))

    def close(self) -> None:
        if self._thread.is_alive():
            self._complete(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def __enter__(self) -> AsyncBridge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture(params=["Client", "AsyncClient"])
def connect(request):
    """``connect(address, **options)``: a client of the kind this run of the test uses."""
    from latentspace.client import Client

    made = []

    def open_client(address: str, **options):
        options.setdefault("timeout", 60.0)
        client = Client(address, **options) if request.param == "Client" else AsyncBridge(address, **options)
        made.append(client)
        return client

    yield open_client
    for client in made:
        client.close()


@pytest.fixture(scope="module")
def served(_built_index, random_embedder, tmp_path_factory):
    """(running server, exported arrays) of one module-wide server over a copy of the small index."""
    target = tmp_path_factory.mktemp("served") / "idx"
    shutil.copytree(_built_index, target)
    exported = export_arrays(target, target.parent / "all.npz")
    running = serve_in_process(target, random_embedder)
    yield running, exported
    running.stop(grace=1.0)


@pytest.fixture
def exported(served):
    return served[1]


@pytest.fixture
def any_client(served, connect):
    """A client of this run's kind, connected to the module's server."""
    return connect(served[0].address)


@pytest.fixture
def alex(any_client, exported):
    """(client, exported arrays) over the small AlexNet index, as the arithmetic tests name it."""
    return any_client, exported


@pytest.fixture
def fresh(start_server, small_index, connect):
    """(running server, client) over a fresh copy of the small index, for tests that change it."""
    running = start_server(small_index)
    return running, connect(running.address)
