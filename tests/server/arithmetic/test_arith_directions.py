"""Named directions: made from example sets, labels and classifier rows, equal to their formulas,
kept across a restart, listed, shown and deleted."""

from __future__ import annotations

import numpy as np
import pytest

from support.oracle import ref_set_direction
from support.photos import photo_bytes


def test_from_sets_of_items_and_images(alex):
    client, exported = alex
    ids, vectors = exported["ids"], exported["vectors"]
    image = photo_bytes(61, (40, 170, 60))
    created = client.create_direction("sets-a", positive=[int(ids[0]), image], negative=[int(ids[5]), int(ids[7])])
    try:
        expected = ref_set_direction([vectors[0], client.embed(image)], [vectors[5], vectors[7]])
        np.testing.assert_allclose(created.vector, expected, rtol=0, atol=1e-6)
        assert (created.kind, created.dimension) == ("sets", vectors.shape[1])
        assert created.norm == pytest.approx(np.linalg.norm(expected), rel=1e-5)
        assert f"item {int(ids[0])}, image minus item {int(ids[5])}, item {int(ids[7])}" in created.description
    finally:
        client.delete_direction("sets-a")


def test_from_labels_is_the_difference_of_label_means(alex):
    client, exported = alex
    labels, vectors = exported["labels"], exported["vectors"]
    created = client.create_direction("red-minus-blue", labels=("red", "blue"))
    try:
        expected = ref_set_direction(vectors[labels == "red"], vectors[labels == "blue"])
        np.testing.assert_allclose(created.vector, expected, rtol=0, atol=1e-6)
        assert created.kind == "labels" and "'red' (4 items) minus label 'blue' (4 items)" in created.description
    finally:
        client.delete_direction("red-minus-blue")


def test_from_classes_is_the_difference_of_classifier_rows(eff, eff_embedder):
    from latentspace.client import InvalidArgument, NotFound

    client, _ = eff
    weight, _ = eff_embedder.classifier_weights()
    categories = list(eff_embedder.spec.categories)
    tabby, tiger = categories.index("tabby"), categories.index("tiger")
    created = client.create_direction("tabby-tiger", classes=("Tabby", "TIGER"))  # any case
    try:
        np.testing.assert_array_equal(created.vector, (weight[tabby] - weight[tiger]).astype(np.float32))
        assert created.kind == "classes" and f"'tabby' ({tabby})" in created.description
        by_index = client.create_direction("by-index", classes=(str(tabby), "tiger"))
        np.testing.assert_array_equal(by_index.vector, created.vector)
        client.delete_direction("by-index")
        # "Cardigan" (the dog) and "cardigan" (the sweater) differ only by case: exact spelling picks one
        dog = client.create_direction("corgi", classes=("Cardigan", "cardigan"))
        np.testing.assert_array_equal(
            dog.vector, (weight[categories.index("Cardigan")] - weight[categories.index("cardigan")]).astype(np.float32))
        client.delete_direction("corgi")
        with pytest.raises(InvalidArgument, match="could be any of"):
            client.create_direction("x", classes=("CARDIGAN", "tiger"))
        with pytest.raises(NotFound, match=r"negative class: no ImageNet class named 'tigr'; close matches: .*'tiger'"):
            client.create_direction("x", classes=("tabby", "tigr"))
        assert [d.name for d in client.list_directions()] == ["tabby-tiger"]
    finally:
        client.delete_direction("tabby-tiger")


def test_classes_need_the_penultimate_layer(start_server, tmp_path):
    from latentspace.client import Client, FailedPrecondition
    from latentspace.indexer import EmbedderConfig, EmbedderInfo, IndexStore, WeightsChoice, load_embedder

    fc6 = load_embedder(EmbedderConfig(model="alexnet", layer="fc6", weights=WeightsChoice.parse("random:0")))
    IndexStore.create(tmp_path / "fc6", EmbedderInfo.from_embedder(fc6)).close()
    with Client(start_server(tmp_path / "fc6", embedder=fc6).address) as client:
        with pytest.raises(FailedPrecondition, match="penultimate layer.*alexnet fc6"):
            client.create_direction("x", classes=("tabby", "tiger"))
        assert client.list_directions() == []


