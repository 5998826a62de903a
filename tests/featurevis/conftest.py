"""Fixtures for feature visualization: EfficientNet-Lite0 with its shipped ImageNet weights, and
the demo corpus indexed with it. Both are built once per session; nothing here needs a network."""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO_CORPUS = Path(__file__).resolve().parents[2] / "demo" / "corpus"
# The 13 photographs of the demo corpus (its drawings left out): a synthesised atlas costs one
# optimisation per cell, so the atlas test keeps to a grid of about a dozen cells.
DEMO_PHOTOS = ("cat/chelsea.png", "household/clock.png", "household/coffee.png", "microscopy/cell.png",
               "person/astronaut.png", "person/camera.png", "retina/microaneurysms.png", "retina/retina.jpg",
               "space/hubble_deep_field.jpg", "space/rocket.jpg", "texture/brick.png", "texture/grass.png",
               "texture/gravel.png")


@pytest.fixture(scope="session")
def efficientnet():
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    return load_embedder(EmbedderConfig(model="efficientnet-lite0", weights=WeightsChoice.parse("imagenet")), device="cpu")


@pytest.fixture(scope="session")
def network(efficientnet):
    from latentspace.render.featurevis import FeatureNetwork

    return FeatureNetwork(efficientnet)


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, efficientnet) -> Path:
    """The 13 demo photos indexed with EfficientNet-Lite0 (cosine, Flat)."""
    from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, discover, index_corpus

    folder = tmp_path_factory.mktemp("demo")
    photos = folder / "photos.txt"
    photos.write_text("".join(f"{DEMO_CORPUS / name}\n" for name in DEMO_PHOTOS), encoding="utf-8")
    directory = folder / "demo-eff"
    with IndexStore.create(directory, EmbedderInfo.from_embedder(efficientnet)) as store:
        index_corpus(discover(photos), store, efficientnet, IndexOptions(workers=0, progress=False))
    return directory
