"""Preparing images in two steps (uint8 crops, then batched normalisation) changes no value.

The indexer's workers and the server's request threads run ``prepare``; the batch is finished
just before the forward pass. The reference is each model's preset applied to one image at a
time; the two paths must agree bit for bit, for every image size and for any batch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import AlexNet_Weights
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2 as T

from latentspace.indexer.embedders import Preprocessing
from latentspace.indexer.models import get_spec

SIZES = [(160, 120), (120, 160), (224, 224), (500, 375), (257, 256), (97, 300), (1024, 77)]


def _image(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _tflite_preset() -> T.Compose:
    """EfficientNet-Lite0's input as torchvision transforms: resize, crop, (x - 127) / 128."""
    return T.Compose([
        T.Resize(256, interpolation=InterpolationMode.BILINEAR, antialias=True),
        T.CenterCrop(224),
        T.PILToTensor(),
        T.ToDtype(torch.float32, scale=False),
        T.Normalize(mean=[127.0] * 3, std=[128.0] * 3),
    ])


REFERENCES = {"alexnet": AlexNet_Weights.IMAGENET1K_V1.transforms, "efficientnet-lite0": _tflite_preset}


def test_alexnet_parameters_come_from_the_weights_preset():
    preset = AlexNet_Weights.IMAGENET1K_V1.transforms()
    ours = get_spec("alexnet").preprocessing
    assert ours == Preprocessing.from_preset(preset)
    assert (ours.resize, ours.crop, ours.mean, ours.std) == (
        tuple(preset.resize_size), tuple(preset.crop_size), tuple(preset.mean), tuple(preset.std))


@pytest.mark.parametrize("model", sorted(REFERENCES))
def test_two_steps_equal_the_preset_exactly(model):
    reference = REFERENCES[model]()
    ours = get_spec(model).preprocessing
    images = [_image(size, seed) for seed, size in enumerate(SIZES)]

    prepared = [ours.prepare(im) for im in images]
    assert all(p.dtype == torch.uint8 and tuple(p.shape) == (3, 224, 224) for p in prepared)

    expected = torch.stack([reference(im) for im in images])
    assert expected.dtype == torch.float32
    assert torch.equal(ours.finish(torch.stack(prepared)), expected), "batched finish differs from the preset"
    assert all(torch.equal(ours(im), e) for im, e in zip(images, expected)), "one-image path differs"


def test_finish_refuses_float_input():
    with pytest.raises(ValueError, match="uint8"):
        get_spec("alexnet").preprocessing.finish(torch.zeros(1, 3, 224, 224))


def test_embed_batch_gives_the_same_vectors_for_prepared_and_preprocessed_input(random_embedder):
    images = [_image(size, seed) for seed, size in enumerate(SIZES[:4])]
    from_uint8 = random_embedder.embed_batch(torch.stack([random_embedder.prepare(im) for im in images]))
    from_float = random_embedder.embed_batch(torch.stack([random_embedder.preprocess(im) for im in images]))
    np.testing.assert_array_equal(from_uint8, from_float)
