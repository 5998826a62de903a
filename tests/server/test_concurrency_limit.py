"""Past ``max_concurrent_rpcs`` a call gets RESOURCE_EXHAUSTED at once instead of waiting in an
unbounded queue; the calls already in progress finish, and the server answers again after."""

from __future__ import annotations

import threading
import time

import pytest

from support.photos import photo_bytes

LIMIT = 3


class _Gate:
    """The real embedder, but forward passes wait until the test opens the gate."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.open = threading.Event()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def embed_batch(self, batch):
        assert self.open.wait(60), "the test never opened the gate"
        return self._inner.embed_batch(batch)


def test_calls_past_the_limit_are_refused_at_once(small_index, random_embedder):
    from latentspace import client as ls
    from latentspace.client import Client
    from latentspace.server.app import create_server

    from support.servers import server_config

    gate = _Gate(random_embedder)
    running = create_server(small_index, server_config(max_concurrent_rpcs=LIMIT, max_workers=8), embedder=gate)
    results: dict[int, object] = {}

    def slow_search(i: int) -> None:
        with Client(running.address, timeout=60) as c:
            try:
                results[i] = c.search(photo_bytes(600 + i), k=3).ids
            except ls.LatentSpaceError as exc:
                results[i] = exc

    threads = [threading.Thread(target=slow_search, args=(i,)) for i in range(LIMIT)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while running.service.in_flight.count < LIMIT:  # readiness: the slow calls hold every slot
            assert time.monotonic() < deadline and not results, f"the slow calls never filled the server: {results}"
            time.sleep(0.02)
        with Client(running.address, timeout=10) as probe:
            for call in (probe.info, lambda: probe.search(item_id=1, k=2), lambda: probe.search(photo_bytes(1), k=2)):
                started = time.monotonic()
                with pytest.raises(ls.ResourceExhausted) as caught:
                    call()
                assert time.monotonic() - started < 1.0, "refused at once, not after queueing"
                assert "Concurrent RPC limit exceeded" in caught.value.message
            gate.open.set()
            for t in threads:
                t.join(60)
            assert all(isinstance(results[i], list) and len(results[i]) == 3 for i in range(LIMIT)), results
            assert probe.info().item_count == 12  # answering again
    finally:
        gate.open.set()
        running.stop(grace=1.0)


def test_the_limit_is_a_serve_flag():
    from latentspace.cli.main import build_parser

    args = build_parser().parse_args(["serve", "idx", "--max-concurrent-rpcs", "7"])
    assert args.max_concurrent_rpcs == 7
    with pytest.raises(ValueError, match="max_concurrent_rpcs must be at least 1"):
        from support.servers import server_config

        server_config(max_concurrent_rpcs=0)
