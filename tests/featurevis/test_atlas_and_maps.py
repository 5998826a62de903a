"""The synthesised atlas of the demo index, activation maps, and the two commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentspace.cli.main import main
from latentspace.render.featurevis import OptimisationParams

DEMO_CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"

ICON_PARAMS = OptimisationParams(steps=32, size=128, seed=0)


def test_each_synthesised_icon_is_nearest_its_own_cell_mean(network, efficientnet, demo_index):
    from latentspace.indexer import IndexStore
    from latentspace.render.index_pictures import index_atlas
    from latentspace.render.synthesised_atlas import synthesised_atlas
    from latentspace.render.thumbnails import ThumbnailCache

    with IndexStore.open(demo_index, readonly=True) as store:
        photos = index_atlas(store, ThumbnailCache(store.directory), grid=24, tile=32, method="pca")
        atlas = synthesised_atlas(store, network, photos.layout, params=ICON_PARAMS, tile=32)
    assert len(atlas.icons) == len(photos.layout.cells) >= 8
    assert atlas.image.size == photos.image.size
    # Through the network, each icon as drawn (128 px): its vector at the index's layer.
    node = network.node(efficientnet.layer.name)
    pixels = torch.from_numpy(np.stack([np.asarray(icon) for icon in atlas.icons])).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        embedded = network(pixels, [node])[node].flatten(1).numpy()
    embedded /= np.linalg.norm(embedded, axis=1, keepdims=True)
    means = atlas.means / np.linalg.norm(atlas.means, axis=1, keepdims=True)
    cosines = embedded @ means.T
    own = np.diag(cosines)
    others = np.where(np.eye(len(own), dtype=bool), -np.inf, cosines).max(axis=1)
    assert (own > others).all(), np.round(np.stack([own, others]), 3)
    assert len(list((demo_index / "featurevis").glob("*.png"))) == len(atlas.icons)  # cached beside the index


def test_activation_maps_of_the_stem_sit_beside_their_kernels(efficientnet):
    from latentspace.indexer.images import decode_image
    from latentspace.render.activation_maps import activation_maps, render_activation_maps
    from latentspace.render.units import unit_layer

    photo = decode_image((DEMO_CORPUS / "cat" / "chelsea.png").read_bytes()).image
    stem = activation_maps(efficientnet, unit_layer(efficientnet.spec, "stem"), photo, with_kernels=True)
    assert stem.maps.shape == (32, 112, 112) and stem.kernels.shape == (32, 3, 3, 3)
    assert stem.crop.shape == (224, 224, 3)
    plain = render_activation_maps(stem, tile=48)
    heat = render_activation_maps(stem, tile=48, over_photo=True)
    # the crop as tall as the grids, then the kernel grid and the map grid: 8 × 4 cells of 48 + 3 px
    grid, height = 3 + 8 * 51, 3 + 4 * 51
    assert plain.size == heat.size == (height + 2 * grid, height)
    maps_panel = np.asarray(plain)[:, -grid:].astype(int)
    strongest = int(stem.maps.reshape(32, -1).mean(axis=1).argmax())
    weakest = int(stem.maps.reshape(32, -1).mean(axis=1).argmin())

    def cell(i):
        x, y = 3 + (i % 8) * 51, 3 + (i // 8) * 51
        return maps_panel[y : y + 48, x : x + 48].mean()

    assert cell(strongest) > cell(weakest)  # one shared scale: a weak map stays dark
    stage2 = activation_maps(efficientnet, unit_layer(efficientnet.spec, "stage2"), photo, with_kernels=False)
    assert stage2.maps.shape == (24, 56, 56) and stage2.kernels is None
    with pytest.raises(ValueError, match="no positions"):
        activation_maps(efficientnet, unit_layer(efficientnet.spec, "pool"), photo, with_kernels=False)


def test_activations_command(tmp_path, capsys):
    out = tmp_path / "maps.png"
    cat = str(DEMO_CORPUS / "cat" / "chelsea.png")
    assert main(["activations", cat, "--model", "efficientnet-lite0", "--over-photo", "--out", str(out)]) == 0
    assert "32 maps of 112×112" in capsys.readouterr().out and Image.open(out).width > 0
    assert main(["activations", cat, "--model", "efficientnet-lite0", "--layer", "pool", "--out", str(out)]) == 2
    assert "no positions" in capsys.readouterr().err


def test_visualize_command_item_direction_and_errors(tmp_path, demo_index, capsys):
    out = tmp_path / "v.png"
    tiny = ["--steps", "2", "--size", "48", "--no-progress"]
    assert main(["visualize", "--index", str(demo_index), "--item", "1", *tiny, "--out", str(out)]) == 0
    assert "direction of item 1" in capsys.readouterr().out and Image.open(out).size == (48, 48)
    assert main(["visualize", "--model", "efficientnet-lite0", "--layer", "stage6", "--unit", "999", *tiny,
                 "--out", str(out)]) == 2
    assert "units 0..191" in capsys.readouterr().err
    assert main(["visualize", "--index", str(demo_index), "--direction", "nope", *tiny, "--out", str(out)]) == 2
    assert "no direction named 'nope'" in capsys.readouterr().err
    assert main(["visualize", "--model", "efficientnet-lite0", "--item", "1", *tiny, "--out", str(out)]) == 2
    assert "--index" in capsys.readouterr().err


def test_alexnet_conv1_maps_and_a_visualization_with_untrained_weights(tmp_path, capsys):
    """The commands the README gives for AlexNet, on seeded random weights (the ImageNet ones are not shipped)."""
    cat = str(DEMO_CORPUS / "cat" / "chelsea.png")
    maps = tmp_path / "conv1.png"
    assert main(["activations", cat, "--model", "alexnet", "--weights", "random:0", "--layer", "conv1", "--out", str(maps)]) == 0
    assert "64 maps of 55×55" in capsys.readouterr().out
    picture = tmp_path / "conv5.png"
    assert main(["visualize", "--model", "alexnet", "--weights", "random:0", "--layer", "conv5", "--unit", "3",
                 "--steps", "2", "--size", "96", "--no-progress", "--out", str(picture)]) == 0
    assert Image.open(picture).size == (96, 96)
