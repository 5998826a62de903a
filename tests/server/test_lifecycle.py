"""Health, reflection, durability, graceful shutdown (in process and by SIGTERM), kill -9, stubs."""

from __future__ import annotations

import subprocess
import sys
import threading

import grpc
import numpy as np
import pytest

from support import REPO
from support.photos import photo_bytes


def test_health_and_reflection(shared_server, shared_client):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    assert shared_client.health() == "SERVING"
    assert shared_client.health("latentspace.v1.LatentSpace") == "SERVING"
    assert shared_client.health("no.such.Service") == "SERVICE_UNKNOWN"
    with grpc.insecure_channel(shared_server.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"latentspace.v1.LatentSpace", "grpc.health.v1.Health"} <= services
        proto = database.FindFileContainingSymbol("latentspace.v1.LatentSpace")
        assert proto.name == "latentspace/proto/v1/latentspace.proto"
        assert {"Search", "BatchSearch", "Embed", "GetItems", "AddImages", "RemoveItems", "Info"} <= {
            m.name for m in proto.service[0].method
        }


class _GatedEmbedder:
    """The real embedder, but forward passes wait for ``release`` and announce themselves."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.started = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def embed_batch(self, batch):
        self.started.set()
        assert self.release.wait(30), "the test never released the forward pass"
        return self._inner.embed_batch(batch)


def test_graceful_stop_finishes_calls_in_flight(small_index, random_embedder):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from latentspace import client as ls
    from latentspace.client import Client
    from latentspace.indexer import IndexStore
    from latentspace.server.app import create_server

    from support.servers import server_config

    gated = _GatedEmbedder(random_embedder)
    running = create_server(small_index, server_config(grace_seconds=20), embedder=gated)
    statuses: list[str] = []
    outcome: dict[str, object] = {}
    try:
        channel = grpc.insecure_channel(running.address)
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)

        def watcher() -> None:
            try:
                for response in watch:
                    statuses.append(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))
            except grpc.RpcError:
                pass  # the stream ends when the server stops

        def in_flight() -> None:
            with Client(running.address, timeout=30) as c:
                try:
                    outcome["result"] = c.search(photo_bytes(5), k=3)
                except ls.LatentSpaceError as exc:
                    outcome["error"] = exc

        watching = threading.Thread(target=watcher)
        watching.start()
        searching = threading.Thread(target=in_flight)
        searching.start()
        assert gated.started.wait(30), "the search never reached the model"
        stopping = threading.Thread(target=running.stop)
        stopping.start()
        for _ in range(300):  # health flips before anything else stops
            if "NOT_SERVING" in statuses:
                break
            stopping.join(0.01)
        assert statuses[:1] == ["SERVING"] and "NOT_SERVING" in statuses
        with Client(running.address, timeout=5) as late, pytest.raises(ls.Unavailable):
            late.info()  # new calls are refused while the old one finishes
        gated.release.set()
        searching.join(30)
        stopping.join(30)
        assert not stopping.is_alive()
        assert "error" not in outcome, outcome
        assert len(outcome["result"].hits) == 3
        watch.cancel()
        watching.join(5)
        channel.close()
    finally:
        gated.release.set()
        running.stop(grace=1)
    with IndexStore.open(small_index) as store:  # closed and unlocked
        assert len(store) == 12


def test_added_images_survive_a_stop(start_server, small_index):
    from latentspace.client import Client, NewImage
    from latentspace.indexer import IndexStore

    running = start_server(small_index)
    data = photo_bytes(42, (40, 170, 60), "JPEG")
    with Client(running.address) as client:
        [item] = client.add_images([NewImage(data, "new/leaf.jpg", "green")])
        vector = client.get_items([item.id], with_vectors=True)[0].vector
    running.stop()
    with IndexStore.open(small_index) as store:
        assert len(store) == 13
        stored = store.items([item.id])[item.id]
        assert (stored.path, stored.label, stored.stored_file) == ("new/leaf.jpg", "green", item.stored_file)
        np.testing.assert_array_equal(store.vectors([item.id])[0], vector)
    copy = small_index / item.stored_file
    assert copy.parent.name == "images" and copy.suffix == ".jpg" and copy.read_bytes() == data


def test_serve_process_sigterm_and_kill9(serve_process, small_index, tmp_path, start_server):
    from latentspace.client import Client, NewImage
    from latentspace.indexer import IndexStore

    # SIGTERM: health goes away cleanly, exit code 0, index saved and intact.
    child = serve_process(small_index, "--weights", "random:0")
    with Client(child.address, timeout=30) as client:
        client.wait_until_serving(30)
        [first] = client.add_images([NewImage(photo_bytes(61), "a/one.png", "red")])
        assert client.search(item_id=first.id, k=1, exclude_self=False).ids == [first.id]
    assert child.terminate() == 0
    stderr = child.proc.stderr.read()
    assert "stopping" in stderr and "Traceback" not in stderr
    with IndexStore.open(small_index) as store:  # opens only if the FAISS file matches the manifest
        assert len(store) == store.manifest.count == 13
        assert store.uses_faiss

    # kill -9 right after an add returns: the add is already durable.
    child = serve_process(small_index)
    with Client(child.address, timeout=30) as client:
        [second] = client.add_images([NewImage(photo_bytes(62), "a/two.png", "blue")])
    child.kill()
    assert child.proc.returncode == -9
    running = start_server(small_index)
    with Client(running.address) as client:
        assert client.info().item_count == 14
        assert client.search(photo_bytes(62), k=1).ids == [second.id]
        assert [i.path for i in client.get_items([first.id, second.id])] == ["a/one.png", "a/two.png"]


def test_generated_stubs_are_up_to_date():
    pytest.importorskip("grpc_tools")
    from latentspace.proto.generate import stale_files

    assert stale_files() == [], "the committed stubs differ from proto/v1/*.proto: run `make proto`"


def test_client_imports_neither_torch_nor_faiss():
    code = ("import sys, latentspace.client, latentspace.cli.client_cmds; "
            "print(sorted(m for m in ('torch', 'faiss', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
