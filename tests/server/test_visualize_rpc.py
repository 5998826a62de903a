"""Visualize's deadline, cancellation and concurrency limit, through a real server and client.

Long optimisations here are asked for with many steps (1024 at 96 pixels: tens of seconds on a
CPU) and always stopped early, by the deadline or by the caller; what is checked is that the
server stops the work (the call leaves the in-flight count, nothing is cached, the slot is free
again) and goes on serving.
"""

from __future__ import annotations

import threading

import pytest

LONG = {"class_name": "tabby", "steps": 1024, "size": 96}
SHORT = {"steps": 2, "size": 64}


class Stop(Exception):
    """Raised by a progress callback to cancel the call."""


def _pictures(server) -> list:
    return sorted((server.engine.store.directory / "featurevis").glob("*.png"))


def test_a_passed_deadline_stops_the_work_and_the_server_stays_healthy(server, client):
    from latentspace.client import DeadlineExceeded

    with pytest.raises(DeadlineExceeded):
        client.visualize(**LONG, timeout=1.5)
    assert server.service.in_flight.wait_idle(30)  # the stream ended, so the optimisation thread did
    assert client.health() == "SERVING" and _pictures(server) == []
    made = client.visualize("goldfish", **SHORT)  # the slot is free again
    assert not made.cached and len(_pictures(server)) == 1


def test_cancelling_stops_the_work_on_the_server(server, client):
    steps = []

    def progress(update) -> None:
        steps.append(update.step)
        if update.step == 3:
            raise Stop

    with pytest.raises(Stop):
        client.visualize(**LONG, progress=progress, timeout=120)
    assert steps == [1, 2, 3]
    assert server.service.in_flight.wait_idle(30)
    assert _pictures(server) == []  # stopped well before the end: a finished picture would be cached
    assert not client.visualize("goldfish", **SHORT).cached


def test_one_optimisation_at_a_time_and_cached_answers_meanwhile(server, client):
    from latentspace.client import ResourceExhausted

    cached = client.visualize("daisy", **SHORT)
    started, release = threading.Event(), threading.Event()
    outcome = []

    def progress(update) -> None:
        started.set()
        if release.is_set():
            raise Stop

    def long_call() -> None:
        try:
            client.visualize(**LONG, progress=progress, timeout=120)
        except Stop:
            outcome.append("stopped")

    worker = threading.Thread(target=long_call)
    worker.start()
    try:
        assert started.wait(60)
        with pytest.raises(ResourceExhausted, match=r"1 visualization already running.*--max-visualizations"):
            client.visualize("goldfish", **SHORT)
        again = client.visualize("daisy", **SHORT)  # from the cache: needs no slot
        assert again.cached and again.pictures == cached.pictures
        assert client.search(item_id=1, k=3).hits  # other calls go on
    finally:
        release.set()
        worker.join(timeout=60)
    assert outcome == ["stopped"] and server.service.in_flight.wait_idle(30)
    assert not client.visualize("goldfish", **SHORT).cached


def test_the_limit_is_the_servers_to_set(start_server, small_index):
    from latentspace.client import Client, InvalidArgument
    from latentspace.server.config import VisualizeLimits

    running = start_server(small_index, visualize=VisualizeLimits(max_concurrent=2, max_steps=8, max_size=64))
    with Client(running.address, timeout=30) as client:
        limits = client.info().limits
        assert (limits.max_concurrent_visualizations, limits.max_visualize_steps,
                limits.max_visualize_size) == (2, 8, 64)
        with pytest.raises(InvalidArgument, match=r"steps must be 1\.\.8 on this server"):
            client.visualize("tabby", steps=9, size=64)


def test_a_request_that_is_not_a_visualize_request_is_invalid_argument(server):
    import grpc

    from latentspace.proto.v1 import latentspace_pb2 as pb

    raw = pb.VisualizeRequest(class_name="PLACEHOLDER").SerializeToString().replace(b"PLACEHOLDER", b"bad\xff\xfename!")
    with grpc.insecure_channel(server.address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            list(channel.unary_stream("/latentspace.v1.LatentSpace/Visualize")(raw, timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid latentspace.v1.VisualizeRequest" in caught.value.details()
