"""CreateDirection with a learned probe, through a real server, the client and the CLI: the stored
vector is fit_direction's unit direction over the same rows, its held-out accuracy is stored
with it (Create, Get, List, ``direction list/show``), and bad requests store nothing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support.cli import export_arrays, run_cli
from support.indexes import synthetic_index


@pytest.fixture(scope="module")
def served(eff_embedder, tmp_path_factory):
    """EfficientNet-Lite0's 1280-d space: the probe's discriminant over 4096-d AlexNet rows is slow."""
    from latentspace.client import Client
    from support.servers import serve_in_process

    directory = synthetic_index(tmp_path_factory.mktemp("probe") / "idx", eff_embedder, factory="Flat",
                                metric="cosine", count=60)
    exported = export_arrays(directory, directory.parent / "all.npz")
    running = serve_in_process(directory, eff_embedder)
    client = Client(running.address, timeout=120.0)
    yield client, exported
    client.close()
    running.stop(grace=1.0)


def test_probe_from_sets_and_labels(served):
    from latentspace.server.arithmetic.learned_directions import fit_direction

    client, exported = served
    ids, vectors, labels = exported["ids"], exported["vectors"], exported["labels"]
    north, south = np.flatnonzero(labels == "north")[:8], np.flatnonzero(labels == "south")[:8]
    created = client.create_direction("n-s", positive=[int(i) for i in ids[north]],
                                      negative=[int(i) for i in ids[south]], learned="probe")
    expected = fit_direction(vectors[north], vectors[south], method="probe", corpus=vectors)
    assert created.kind == "learned"
    np.testing.assert_allclose(created.vector, expected.vector, atol=1e-6)
    assert abs(np.linalg.norm(created.vector) - 1.0) < 1e-5
    assert created.accuracy == pytest.approx(expected.accuracy) and 0.0 <= created.accuracy <= 1.0
    assert f"held-out accuracy {expected.accuracy:.1%}" in created.description
    # points from the negatives' side to the positives'
    assert float((vectors[north].mean(axis=0) - vectors[south].mean(axis=0)) @ created.vector) > 0
    stored = client.get_direction("n-s")
    np.testing.assert_array_equal(stored.vector, created.vector)
    assert stored.accuracy == pytest.approx(created.accuracy) and stored.description == created.description
    assert {d.name: d.accuracy for d in client.list_directions()}["n-s"] == pytest.approx(created.accuracy)
    listed = run_cli("direction", "list", "--server", client.address)
    row = next(line for line in listed.out.splitlines() if line.startswith("n-s "))
    assert f"{created.accuracy:.1%}" in row
    shown_text = run_cli("direction", "show", "n-s", "--server", client.address)
    assert f"accuracy   {created.accuracy:.1%} held out" in shown_text.out
    shown_json = json.loads(run_cli("direction", "show", "n-s", "--json", "--server", client.address).out)
    assert shown_json["accuracy"] == pytest.approx(created.accuracy)

    out = run_cli("direction", "create", "e-w", "--from-labels", "east", "west", "--probe", "logistic", "--json",
                  "--server", client.address)
    assert out.code == 0, out.err
    shown = json.loads(out.out)
    east, west = vectors[labels == "east"], vectors[labels == "west"]
    reference = fit_direction(east, west, method="logistic")
    assert shown["kind"] == "learned" and shown["accuracy"] == pytest.approx(reference.accuracy)
    np.testing.assert_allclose(client.get_direction("e-w").vector, reference.vector, atol=1e-6)
    text = run_cli("direction", "create", "n-s2", "--probe", "-p", *[f"id:{i}" for i in ids[north]],
                   "-n", *[f"id:{i}" for i in ids[south]], "--server", client.address, "--timeout", 300)
    assert text.code == 0 and "held-out accuracy of its probe:" in text.out


def test_bad_probe_requests_store_nothing(served):
    from latentspace.client import errors as e

    client, exported = served
    ids = [int(i) for i in exported["ids"]]
    before = {d.name for d in client.list_directions()}
    with pytest.raises(e.InvalidArgument, match="at least 2 positive and 2 negative"):
        client.create_direction("one", positive=[ids[0]], negative=[ids[1], ids[2]], learned="probe")
    with pytest.raises(e.InvalidArgument, match="unknown learned direction method 'svm'"):
        client.create_direction("svm", labels=("north", "south"), learned="svm")
    assert {d.name for d in client.list_directions()} == before
    bad = run_cli("direction", "create", "x", "--probe", "--from-classes", "tabby", "tiger", "--server", client.address)
    assert bad.code == 2 and "--probe learns from example sets" in bad.err
