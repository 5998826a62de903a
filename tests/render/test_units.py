"""Unit activations: right FX nodes, values equal to a direct forward pass, cached, reused and invalidated."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from support.pictures import mean_abs_diff
from torchvision.models.feature_extraction import get_graph_node_names

from latentspace.indexer import EmbedderError, IndexStore
from latentspace.indexer.models import get_spec
from latentspace.render import units
from latentspace.render.index_pictures import unit_sheet
from latentspace.render.thumbnails import ThumbnailCache
from latentspace.render.units import index_activations, top_items, unit_layer, unit_layers


@pytest.mark.parametrize("model", ["alexnet", "efficientnet-lite0"])
def test_every_unit_layer_is_a_node_of_the_network(model):
    spec = get_spec(model)
    _, eval_nodes = get_graph_node_names(spec.build().eval())
    layers = unit_layers(spec)
    assert {layer.node for layer in layers} <= set(eval_nodes)
    assert {layer.name for layer in spec.layers} <= {layer.name for layer in layers}


def test_alexnet_conv_layers_are_read_after_their_relu():
    spec = get_spec("alexnet")
    model = spec.build()
    for name, index in (("conv1", 1), ("conv2", 4), ("conv3", 7), ("conv4", 9), ("conv5", 11)):
        assert unit_layer(spec, name).node == f"features.{index}"
        assert isinstance(model.features[index], torch.nn.ReLU)
        assert isinstance(model.features[index - 1], torch.nn.Conv2d)


def direct_activations(embedder, items, head) -> dict[int, np.ndarray]:
    """The oracle: each picture through plain module calls (no FX), then the documented reduction."""
    out = {}
    with torch.inference_mode():
        for item_id, item in items.items():
            image = Image.open(item.path).convert("RGB")  # synthetic photos: no EXIF, no alpha
            x = embedder.preprocess(image)[None]
            out[item_id] = head(x)[0].numpy()
    return out


def test_conv5_activations_equal_a_direct_forward_pass_and_the_top_item_has_the_max(store, all_items, random_embedder):
    model = random_embedder.model
    expected = direct_activations(random_embedder, all_items, lambda x: model.features[:12](x).amax(dim=(2, 3)))
    acts = index_activations(store, random_embedder, unit_layer(random_embedder.spec, "conv5"), batch_size=5)
    assert acts.values.shape == (12, 256) and acts.values.dtype == np.float32
    assert acts.ids.tolist() == sorted(all_items)
    for row, item_id in enumerate(acts.ids.tolist()):
        np.testing.assert_allclose(acts.values[row], expected[item_id], rtol=1e-4, atol=1e-5)
    for unit in (0, 17, 255):
        column = {i: v[unit] for i, v in expected.items()}
        ids, values = top_items(acts, unit, 3)
        assert ids[0] == max(column, key=lambda i: (column[i], -i))
        assert values[0] == pytest.approx(max(column.values()), rel=1e-4)
        assert list(values) == sorted(values, reverse=True)


def test_fc6_activations_are_the_units_values(store, all_items, random_embedder):
    model = random_embedder.model

    def fc6(x):
        return model.classifier[:3](torch.flatten(model.avgpool(model.features(x)), 1))

    expected = direct_activations(random_embedder, all_items, fc6)
    acts = index_activations(store, random_embedder, unit_layer(random_embedder.spec, "fc6"))
    assert acts.values.shape == (12, 4096)
    for row, item_id in enumerate(acts.ids.tolist()):
        np.testing.assert_allclose(acts.values[row], expected[item_id], rtol=1e-4, atol=1e-5)


def test_activations_are_cached_reused_and_invalidated_when_items_change(small_index, random_embedder, monkeypatch):
    layer = unit_layer(random_embedder.spec, "conv2")
    with IndexStore.open(small_index, readonly=True) as store:
        first = index_activations(store, random_embedder, layer)
    assert not first.from_cache
    files = sorted(p.name for p in (small_index / "activations").iterdir())
    stem = first.path.name[: -len(".npy")]
    assert files == [f"{stem}.ids.npy", f"{stem}.json", f"{stem}.npy"]
    assert np.load(first.path).shape == (12, 192)

    class NoForwardPasses:
        def __init__(self, *args, **kwargs):
            raise AssertionError("cached activations were computed again")

    with monkeypatch.context() as patch:
        patch.setattr(units, "_Extractor", NoForwardPasses)
        with IndexStore.open(small_index, readonly=True) as store:
            again = index_activations(store, random_embedder, layer)
    assert again.from_cache
    np.testing.assert_array_equal(again.values, first.values)
    np.testing.assert_array_equal(again.ids, first.ids)

    with IndexStore.open(small_index) as store:
        store.remove([int(first.ids[0])])
        fewer = index_activations(store, random_embedder, layer)
    assert not fewer.from_cache and fewer.path != first.path
    # recomputed in batches of another size: equal up to float32 rounding of the batched convolutions
    np.testing.assert_allclose(fewer.values, first.values[1:], rtol=1e-5, atol=1e-6)
    assert not first.path.exists(), "the stale matrix of the same layer is removed"


def test_other_weights_do_not_read_the_cache(store, random_embedder):
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    other = load_embedder(EmbedderConfig(model="alexnet", weights=WeightsChoice.parse("random:1")))
    a = index_activations(store, random_embedder, unit_layer(random_embedder.spec, "conv1"))
    b = index_activations(store, other, unit_layer(other.spec, "conv1"))
    assert not b.from_cache and a.path != b.path
    assert not np.allclose(a.values, b.values)


def test_an_unreadable_picture_gets_nan_and_never_ranks(tmp_path, small_index, all_items, random_embedder):
    import sqlite3

    victim = min(all_items)
    # This copy of the index now points the item at a file that does not exist.
    with sqlite3.connect(small_index / "items.sqlite") as conn:
        conn.execute("UPDATE items SET path = ? WHERE id = ?", (str(tmp_path / "gone.jpg"), victim))
    with IndexStore.open(small_index, readonly=True) as store:
        acts = index_activations(store, random_embedder, unit_layer(random_embedder.spec, "conv5"), use_cache=False)
    assert acts.missing.tolist() == [victim]
    assert np.isnan(acts.values[0]).all() and not np.isnan(acts.values[1:]).any()
    for unit in range(0, 256, 51):
        ids, _ = top_items(acts, unit, 12)
        assert victim not in ids.tolist() and len(ids) == 11


def test_unknown_layers_and_units_are_refused_with_the_choices(store, random_embedder):
    with pytest.raises(EmbedderError, match="conv1, conv2, conv3, conv4, conv5, fc6, fc7"):
        unit_layer(random_embedder.spec, "conv6")
    acts = index_activations(store, random_embedder, unit_layer(random_embedder.spec, "conv1"))
    with pytest.raises(ValueError, match="units 0..63"):
        top_items(acts, 64, 3)


def test_unit_sheet_shows_the_top_items_in_order(store, random_embedder):
    from latentspace.render.sheets import DEFAULT_LAYOUT, SheetRow

    acts = index_activations(store, random_embedder, unit_layer(random_embedder.spec, "conv5"))
    cache = ThumbnailCache(store.directory)
    sheet, ids, values = unit_sheet(store, cache, acts, 3, top=10, per_row=4, title="conv5 unit 3")
    rows = [SheetRow(neighbours=[None] * 4, step="x")] * 3  # three rows of four (the last has two)
    geometry = DEFAULT_LAYOUT.geometry(rows, title="t")
    assert sheet.size == geometry.size
    items = store.items(ids.tolist())
    for rank, item_id in enumerate(ids.tolist()):
        tile = sheet.crop(geometry.neighbour_box(rank // 4, rank % 4))
        assert mean_abs_diff(tile, cache.thumbnail(items[item_id])) == 0
