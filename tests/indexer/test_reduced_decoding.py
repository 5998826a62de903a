"""JPEGs decoded at reduced size (Pillow's draft) give the vectors of a full decode, within a stated cosine.

The reference is torchvision's own preprocessing on the fully decoded file, as in
test_embedding_matches_torchvision.py; large JPEGs are where the two paths part.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torchvision.models import AlexNet_Weights

from latentspace.indexer.images import decode_image
from latentspace.indexer.models import get_spec, list_embedders
from support.photos import draw_photo, encode

REDUCED_MIN_COSINE = 0.995
"""The least cosine between a reduced-decode vector and torchvision's full-decode vector we accept."""


def _large_jpeg(seed: int, size: tuple[int, int], **params: object) -> bytes:
    return encode(draw_photo(seed, (150, 90, 60), size=size), "JPEG", quality=90, **params)


def test_reduced_decode_keeps_enough_pixels_and_reports_the_file_size():
    data = _large_jpeg(1, (1200, 900))
    full = decode_image(data)
    reduced = decode_image(data, min_side=256)
    assert full.image.size == (1200, 900)
    assert reduced.image.size == (600, 450)  # 1/2: a quarter (225) would be below 256
    assert (reduced.width, reduced.height) == (1200, 900)


@pytest.mark.parametrize("model", list_embedders())
def test_decoding_never_reduces_below_the_resize(model):
    """Both presets resize the shorter side to 256 before a 224 crop: 224 would mean enlarging again."""
    preprocessing = get_spec(model).preprocessing
    assert preprocessing.min_side == max(preprocessing.resize) >= max(preprocessing.crop)
    reduced = decode_image(_large_jpeg(5, (1100, 1100)), min_side=preprocessing.min_side)
    assert min(reduced.image.size) >= max(preprocessing.resize)


def test_small_or_non_jpeg_images_are_decoded_whole():
    small = decode_image(_large_jpeg(2, (500, 400)), min_side=256)
    assert small.image.size == (500, 400)  # halving would go below 256
    png = decode_image(encode(draw_photo(3, (10, 200, 30), size=(1200, 900)), "PNG"), min_side=256)
    assert png.image.size == (1200, 900)


def test_exif_rotated_reduced_jpeg_reports_the_upright_size():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    decoded = decode_image(_large_jpeg(4, (1200, 800), exif=exif.tobytes()), min_side=224)
    assert (decoded.width, decoded.height) == (800, 1200)
    assert decoded.image.height > decoded.image.width


@pytest.mark.parametrize("size", [(1200, 900), (2400, 1600), (700, 1100)])
def test_indexed_vectors_of_large_jpegs_match_torchvision(size, tmp_path, index_run, export):
    corpus = tmp_path / "corpus" / "big"
    corpus.mkdir(parents=True)
    for seed in range(2):
        (corpus / f"p{seed}.jpg").write_bytes(_large_jpeg(10 + seed, size))
    assert index_run(tmp_path / "corpus", tmp_path / "idx").code == 0
    data = export(tmp_path / "idx")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = torchvision.models.alexnet(weights=None).eval()
    preprocess = AlexNet_Weights.IMAGENET1K_V1.transforms()
    batch = torch.stack([preprocess(Image.open(io.BytesIO(open(p, "rb").read())).convert("RGB")) for p in data["paths"]])
    with torch.no_grad():
        expected = model.classifier[:6](torch.flatten(model.avgpool(model.features(batch)), 1)).numpy()
    got = data["vectors"]
    cosine = (got * expected).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1))
    assert cosine.min() >= REDUCED_MIN_COSINE, cosine
    assert np.abs(got - expected).max() > 1e-5, "the files must have been decoded reduced, or this tests nothing"
