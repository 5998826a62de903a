"""SIGTERM while eight clients search, add and remove: health turns NOT_SERVING, every call made
before the signal is answered, later calls get UNAVAILABLE, the exit code is 0, and the index on
disk holds exactly what was acknowledged."""

from __future__ import annotations

import signal
import threading
import time

import grpc
import numpy as np

from support.cli import export_arrays
from support.load import Load, check_whole
from support.photos import photo_bytes

CLIENTS = 8
NETWORK_S = 0.05


def test_sigterm_during_load(serve_process, small_index, tmp_path):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    base = export_arrays(small_index, tmp_path / "base.npz")
    child = serve_process(small_index, "--weights", "random:0", "--grace", "20")
    statuses: list[tuple[float, str]] = []
    channel = grpc.insecure_channel(child.address)
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=120)

    def watcher() -> None:
        try:
            for response in watch:
                statuses.append((time.monotonic(), health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)))
        except grpc.RpcError:
            pass  # the stream ends with the server

    watching = threading.Thread(target=watcher)
    watching.start()
    load = Load(child.address, clients=CLIENTS, seconds=90, max_calls=2000, seed=11,
                images=[photo_bytes(700 + i) for i in range(4)], add_images=[photo_bytes(720 + i) for i in range(4)],
                base_ids=base["ids"].tolist(), dim=base["vectors"].shape[1], write_share=0.3,
                stop_on_unavailable=True).start()
    try:
        deadline = time.monotonic() + 60
        # Readiness: the load is running, and some calls have been in progress for a while.
        while load.finished() < 60 or sum(s > 2 * NETWORK_S for s in load.running_for()) < 2:
            assert time.monotonic() < deadline and not load.unexpected, load.unexpected
            time.sleep(0.005)
        signalled = time.monotonic()
        child.proc.send_signal(signal.SIGTERM)
        assert child.proc.wait(timeout=90) == 0
        load.join(90)
    finally:
        load.stop()
        watch.cancel()
        channel.close()
        watching.join(10)

    assert load.unexpected == [], load.unexpected[:5]
    calls = load.calls
    # A call sent in the last milliseconds before the signal may reach the server after it began
    # to stop; gRPC then cancels it unseen (the client reports UNAVAILABLE). Older calls must be answered.
    before = [c for c in calls if c.started < signalled - NETWORK_S]
    in_flight = [c for c in before if c.ended > signalled]
    assert in_flight, "no call was in flight when the signal came"
    assert all(c.code is None for c in before), [c for c in before if c.code][:5]  # all answered, none cut off
    assert {c.code for c in calls} <= {None, "UNAVAILABLE"}
    assert [s for _, s in statuses][:1] == ["SERVING"] and "NOT_SERVING" in [s for _, s in statuses]
    not_serving = next(t for t, s in statuses if s == "NOT_SERVING")
    late = [c for c in calls if c.started > not_serving + NETWORK_S]
    assert all(c.code == "UNAVAILABLE" for c in late), [c for c in late if c.code is None][:5]
    assert sum(c.code == "UNAVAILABLE" for c in calls) == CLIENTS  # each client's first call after the stop
    err = child.proc.stderr.read()
    assert "stopping" in err and "Traceback" not in err

    # What was acknowledged is on disk, whole; an add or remove whose answer never came is all or nothing.
    exported = check_whole(small_index, tmp_path)
    stored = dict(zip(exported["ids"].tolist(), exported["paths"].tolist()))
    acks = load.acks
    expected = (set(base["ids"].tolist()) | set(acks.added)) - acks.removed
    extra = set(stored) - expected
    assert expected - acks.unanswered_removes <= set(stored)
    assert {stored[i] for i in extra} <= set(acks.unanswered_adds)
    assert not set(stored) & acks.removed
    for item_id, (path, _) in acks.added.items():
        if item_id not in acks.removed:
            assert stored[item_id] == path
    rows = {i: v for i, v in zip(exported["ids"].tolist(), exported["vectors"])}
    for i, v in zip(base["ids"].tolist(), base["vectors"]):
        np.testing.assert_array_equal(rows[i], v)
    print(f"\nshutdown under load: {len(calls)} calls, {len(in_flight)} in flight at SIGTERM, "
          f"{sum(c.code == 'UNAVAILABLE' for c in calls)} refused after, {len(acks.added)} adds, "
          f"{len(acks.removed)} removes acknowledged")
