"""Seeded synthetic photos: tests never need files from outside the repository."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

__all__ = ["LABELS", "draw_photo", "encode", "photo_bytes", "write_corpus"]

# Three visually distinct families, so even untrained features group them somewhat.
LABELS = {"red": (200, 40, 30), "green": (40, 170, 60), "blue": (30, 60, 200)}


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
    for li, (label, base) in enumerate(LABELS.items()):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_label):
            suffix = ".jpg" if i % 2 == 0 else ".png"
            path = root / label / f"{label}_{i}{suffix}"
            draw_photo(100 * li + i, base).save(path, quality=92) if suffix == ".jpg" else draw_photo(100 * li + i, base).save(path)
            paths.append(path)
    return paths


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    """``image`` encoded as ``fmt`` (``"PNG"``, ``"JPEG"``...) with Pillow's save parameters."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo_bytes(seed: int, base: tuple[int, int, int] = (200, 40, 30), fmt: str = "PNG") -> bytes:
    """Encoded bytes of a seeded synthetic photo (see ``draw_photo``)."""
    return encode(draw_photo(seed, base), fmt)
