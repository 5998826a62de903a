"""Fixtures shared by every test: seeded synthetic photos, an untrained AlexNet, a small index.

Tests never need the network or files outside the repository: images are drawn here, and the
embedder uses seeded random weights (``--weights random``), which is deterministic.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
DEMO_CORPUS = REPO / "demo" / "corpus"

# Three visually distinct families, so even untrained features group them somewhat.
_LABELS = {"red": (200, 40, 30), "green": (40, 170, 60), "blue": (30, 60, 200)}


def draw_photo(seed: int, base: tuple[int, int, int], size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A seeded RGB picture: a tinted gradient with a few random shapes and some noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    array = np.zeros((h, w, 3), dtype=np.float64)
    for c in range(3):
        array[..., c] = base[c] * (0.6 + 0.4 * xx / w) + rng.normal(0, 12, (h, w))
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(10, 60)), y0 + int(rng.integers(10, 50))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return image


def write_corpus(root: Path, per_label: int = 4) -> list[Path]:
    """``root/<label>/<label>_<i>.{jpg,png}``: ``per_label`` images for each of three labels."""
    paths = []
    for li, (label, base) in enumerate(_LABELS.items()):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_label):
            suffix = ".jpg" if i % 2 == 0 else ".png"
            path = root / label / f"{label}_{i}{suffix}"
            draw_photo(100 * li + i, base).save(path, quality=92) if suffix == ".jpg" else draw_photo(100 * li + i, base).save(path)
            paths.append(path)
    return paths


@pytest.fixture(scope="session")
def random_embedder():
    """AlexNet fc7 with seeded untrained weights, loaded once per session."""
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    return load_embedder(EmbedderConfig(model="alexnet", weights=WeightsChoice.parse("random:0")), device="cpu")


@pytest.fixture(scope="session")
def photo_corpus(tmp_path_factory) -> Path:
    """A read-only corpus of 12 synthetic photos in three labelled folders."""
    root = tmp_path_factory.mktemp("corpus")
    write_corpus(root)
    return root


@pytest.fixture(scope="session")
def _built_index(tmp_path_factory, photo_corpus, random_embedder) -> Path:
    from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, discover, index_corpus

    directory = tmp_path_factory.mktemp("index") / "idx"
    with IndexStore.create(directory, EmbedderInfo.from_embedder(random_embedder)) as store:
        index_corpus(discover(photo_corpus), store, random_embedder, IndexOptions(workers=0, progress=False))
    return directory


@pytest.fixture
def small_index(_built_index, tmp_path) -> Path:
    """A fresh copy of a Flat/cosine index of ``photo_corpus`` (AlexNet fc7, random:0), safe to change."""
    target = tmp_path / "idx"
    shutil.copytree(_built_index, target)
    return target
