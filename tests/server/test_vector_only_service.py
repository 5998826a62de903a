"""A vector-only index (``import-vectors --model none``) served by ``latentspace serve``: it starts
without a model, answers vector and item queries exactly, and refuses whatever needs an image
embedded with FAILED_PRECONDITION saying why and what to send instead; nothing is stored."""

from __future__ import annotations

import numpy as np
import pytest

from support.cli import run_cli
from support.photos import photo_bytes
from support.servers import ServeProcess

DIM = 24
COUNT = 300


@pytest.fixture(scope="module")
def vector_only(tmp_path_factory):
    from latentspace.client import Client

    root = tmp_path_factory.mktemp("vectors")
    vectors = np.random.default_rng(4).normal(size=(COUNT, DIM)).astype(np.float32)
    np.savez(root / "in.npz", vectors=vectors, paths=np.array([f"v/{i}" for i in range(COUNT)]),
             labels=np.array(["x", "y", "z"] * (COUNT // 3)))
    made = run_cli("import-vectors", root / "idx", "--vectors", root / "in.npz", "--model", "none", "--dim", DIM,
                   "--no-progress")
    assert made.code == 0, made.text
    served = ServeProcess(root / "idx")
    client = Client(served.address, timeout=60.0)
    try:
        yield client, vectors
    finally:
        client.close()
        served.close()


def _unit(m):
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def test_vector_and_item_queries_are_exact(vector_only):
    client, vectors = vector_only
    info = client.info()
    assert info.model == "none" and info.dimension == DIM and info.item_count == COUNT
    query = np.random.default_rng(9).normal(size=DIM).astype(np.float32)
    expected = np.argsort(-(_unit(vectors.astype(np.float64)) @ _unit(query.astype(np.float64))), kind="stable")[:7]
    assert client.search(vector=query, k=7).ids == [int(i) + 1 for i in expected]
    assert 1 not in client.search(item_id=1, k=5).ids
    combined = client.combine([1, 2], [3], method="add", k=4)
    assert len(combined.ids) == 4 and not {1, 2, 3} & set(combined.ids)
    path = client.shift(1, vector=vectors[5], alphas=[0.0, 1.0], k=3)
    assert len(path.steps) == 2 and all(len(step.result.ids) == 3 for step in path.steps)


def test_image_work_is_failed_precondition_and_stores_nothing(vector_only):
    from latentspace.client import errors

    client, _ = vector_only
    image = photo_bytes(1)
    attempts = {
        "search": lambda: client.search(image, k=3),
        "embed": lambda: client.embed(image),
        "add": lambda: client.add_images([image]),
        "combine": lambda: client.combine([1, image], method="add", k=3),
    }
    for name, attempt in attempts.items():
        with pytest.raises(errors.FailedPrecondition) as caught:
            attempt()
        message = str(caught.value)
        assert "without an embedder" in message and "send the vector itself" in message, (name, message)
    assert client.info().item_count == COUNT
