"""Fixtures for the web tests: a real gRPC server and the HTTP gateway in front of it, both on 127.0.0.1:0.

The server is the small untrained index of ``tests/conftest.py`` (three colour families, so even
random features group them); the gateway talks to it through the real client, and tests talk to
the gateway over real HTTP (``support.web.http``) or drive a real browser at it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed")


@dataclass
class WebStack:
    url: str
    address: str
    client: object
    index: Path
    corpus: Path


def _start(index: Path, corpus: Path, embedder):
    from latentspace.client import Client
    from latentspace.server.app import create_server
    from latentspace.server.config import ServerConfig
    from latentspace.web import Gateway, GatewayConfig

    running = create_server(index, ServerConfig(host="127.0.0.1", port=0, grace_seconds=1.0, device="cpu"),
                            embedder=embedder)
    client = Client(running.address, timeout=30.0)
    gateway = Gateway(GatewayConfig(server=running.address, port=0, max_upload_bytes=2 << 20)).start()
    return running, client, gateway, WebStack(gateway.url, running.address, client, index, corpus)


@pytest.fixture(scope="module")
def web(_built_index, photo_corpus, random_embedder, tmp_path_factory):
    """(module-wide) server + gateway over a copy of the small index; tests may add directions but must remove them."""
    target = tmp_path_factory.mktemp("web") / "idx"
    shutil.copytree(_built_index, target)
    running, client, gateway, stack = _start(target, photo_corpus, random_embedder)
    yield stack
    gateway.stop()
    client.close()
    running.stop(grace=1.0)
