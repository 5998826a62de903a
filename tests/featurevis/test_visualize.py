"""Feature visualizations of EfficientNet-Lite0 (shipped ImageNet weights): what they make the network see.

The expensive part is one batch: ten class logits chosen across ImageNet and one late-layer
channel, optimised together at the network's own size, shared by the tests that check them.
Properties that need no good picture (repeatability, the cache, errors) use tiny images.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentspace.render.featurevis import (
    InvalidObjective,
    ObjectiveNotFound,
    OptimisationParams,
    channel_objective,
    class_objective,
    neuron_objective,
    optimise,
    visualize,
)

CLASSES = ("goldfish", "tree frog", "flamingo", "tabby", "monarch", "castle", "space shuttle", "pizza",
           "volcano", "daisy")
"""A fish, an amphibian, a bird, a mammal, an insect, two buildings and vehicles, food, a landscape, a plant."""
LATE_LAYER, LATE_UNIT = "stage6", 160
BATCH_PARAMS = OptimisationParams(steps=32, size=224, seed=0)


@pytest.fixture(scope="module")
def batch(network):
    objectives = [class_objective(network, name) for name in CLASSES] + [channel_objective(network, LATE_LAYER, LATE_UNIT)]
    seen = []
    result = optimise(network, objectives, BATCH_PARAMS, progress=seen.append)
    return objectives, result, seen


def _pictures(result) -> list[Image.Image]:
    return [Image.fromarray(row) for row in result.images]


def test_class_visualizations_are_classified_as_their_class(batch, efficientnet):
    objectives, result, _ = batch
    pictures = _pictures(result)[: len(CLASSES)]
    top = efficientnet.classify(efficientnet.embed_images(pictures), top=1)  # the network's own preprocessing
    hits = [objective.name for objective, best in zip(objectives, top) if best[0][0] == objective.name]
    assert len(hits) >= 8, f"only {hits} of {CLASSES} came out as their class: {[b[0] for b in top]}"


def test_late_channel_visualization_excites_it_more_than_every_demo_photo(batch, efficientnet, demo_index):
    from latentspace.indexer import IndexStore
    from latentspace.render.units import activations_of_images, index_activations, unit_layer

    layer = unit_layer(efficientnet.spec, LATE_LAYER)
    picture = _pictures(batch[1])[-1]
    synthesised = activations_of_images(efficientnet, layer, [picture])[0, LATE_UNIT]
    with IndexStore.open(demo_index, readonly=True) as store:
        photos = index_activations(store, efficientnet, layer, use_cache=False).values[:, LATE_UNIT]
    assert len(photos) == 13 and not np.isnan(photos).any()
    assert synthesised > photos.max(), (synthesised, np.sort(photos)[::-1][:3])


def test_every_objective_rises_from_the_first_to_the_last_step(batch):
    _, result, seen = batch
    assert result.history.shape == (BATCH_PARAMS.steps, len(CLASSES) + 1)
    first, last = result.history[:3].mean(axis=0), result.history[-3:].mean(axis=0)
    assert (last > first).all(), (first, last)
    assert [p.step for p in seen] == list(range(1, BATCH_PARAMS.steps + 1))
    np.testing.assert_allclose(seen[-1].values, result.history[-1], rtol=1e-6)


TINY = OptimisationParams(steps=3, size=48, seed=7)


def test_same_seed_gives_the_same_png_bytes(network):
    objective = neuron_objective(network, "stage4", 5)
    first = visualize(network, objective, TINY)
    assert visualize(network, objective, TINY) == first
    assert visualize(network, objective, OptimisationParams(steps=3, size=48, seed=8)) != first
    assert Image.open(io.BytesIO(first)).size == (48, 48)


def test_pictures_are_cached_in_the_index_directory_by_objective_and_params(network, tmp_path: Path):
    objective = channel_objective(network, "stage5", 3)
    steps = []
    made = visualize(network, objective, TINY, index_dir=tmp_path, progress=steps.append)
    cached = sorted(p.name for p in (tmp_path / "featurevis").iterdir())
    assert len(cached) == 2 and cached[0].endswith(".json") and cached[1].endswith(".png")
    assert len(steps) == TINY.steps
    again = visualize(network, objective, TINY, index_dir=tmp_path, progress=steps.append)
    assert again == made and len(steps) == TINY.steps  # from the cache: no optimisation step ran
    visualize(network, channel_objective(network, "stage5", 4), TINY, index_dir=tmp_path)
    assert len(list((tmp_path / "featurevis").glob("*.png"))) == 2


def test_bad_objectives_name_what_is_valid(network):
    with pytest.raises(ObjectiveNotFound, match="stage6"):
        channel_objective(network, "conv9", 0)
    with pytest.raises(InvalidObjective, match=r"units 0\.\.191"):
        channel_objective(network, "stage6", 192)
    with pytest.raises(ObjectiveNotFound, match="close matches: 'tabby'"):
        class_objective(network, "taby")
    with pytest.raises(InvalidObjective, match=r"0\.\.999"):
        class_objective(network, "1000")
    with pytest.raises(InvalidObjective, match="steps"):
        OptimisationParams(steps=0)
    with pytest.raises(InvalidObjective, match="size"):
        OptimisationParams(size=8)


def test_diversity_pushes_the_images_of_one_objective_apart(network):
    import torch

    from latentspace.render.featurevis.objectives import diversity_penalty

    objective = channel_objective(network, LATE_LAYER, LATE_UNIT)

    def penalty(weight: float) -> float:
        result = optimise(network, [objective], OptimisationParams(steps=16, size=64, count=3, diversity=weight))
        with torch.no_grad():
            out = network(torch.from_numpy(result.images).permute(0, 3, 1, 2).float() / 255, [objective.node])
        return float(diversity_penalty(out[objective.node]))

    alike, apart = penalty(0.0), penalty(10.0)
    assert apart < 0.7 * alike, (alike, apart)
