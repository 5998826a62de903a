"""How semantic is an embedding space? Classifier accuracy and neighbour precision by category.

A search service is only as good as its neighbourhoods: a dog photo's nearest vectors should be
other dogs, whatever the breed. This bench embeds a folder holding one photo per ImageNet-1k
class, where the n-th file in sorted name order is class n, and reports

* the classifier head's top-1 / top-5 accuracy on the penultimate vectors, a check that the
  weights, class order and preprocessing are right (a wrong mean/std costs ~10 points);
* for broad groups of classes taken from ImageNet's WordNet hierarchy, neighbour precision@k:
  the share of each photo's k nearest neighbours (cosine, itself excluded) in its own group,
  next to the chance level (G - 1) / (N - 1) that a structureless space would give.

Example::

    python bench/semantic_quality.py imagenet-samples --model efficientnet-lite0
    python bench/semantic_quality.py imagenet-samples --model alexnet --weights random
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from latentspace.indexer.embedders import Embedder, EmbedderConfig, EmbedderError, WeightsChoice, load_embedder
from latentspace.indexer.images import IMAGE_SUFFIXES, decode_image
from latentspace.indexer.models import list_embedders

NUM_CLASSES = 1000

# ImageNet-1k class indices follow WordNet order, so most subtrees are contiguous ranges.
GROUPS: dict[str, list[int]] = {
    "dogs": list(range(151, 269)),
    "birds": [*range(7, 25), *range(80, 101), *range(127, 147)],
    "fish": [*range(0, 7), *range(389, 398)],
    "insects": list(range(300, 327)),
    "reptiles incl. snakes": list(range(33, 69)),
    "land vehicles": [
        407, 408, 436, 444, 450, 466, 468, 511, 537, 547, 555, 561, 565, 569, 573, 575, 586, 603,
        609, 612, 627, 654, 656, 661, 665, 670, 671, 675, 690, 705, 717, 734, 751, 757, 779, 802,
        803, 817, 820, 829, 847, 864, 866, 867, 870, 874, 880,
    ],  # fmt: skip
    "watercraft": [403, 472, 484, 510, 554, 576, 625, 628, 694, 724, 780, 814, 833, 871, 913, 914],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Classifier accuracy and per-category neighbour precision@k of an embedder "
        "on a folder with one photo per ImageNet-1k class (file n in sorted order = class n).",
        epilog="groups: " + "; ".join(f"{name} ({len(members)} classes)" for name, members in GROUPS.items()),
    )
    parser.add_argument("corpus", type=Path, help="folder of exactly 1000 images, sorted by name into class order")
    parser.add_argument("--model", default="alexnet", choices=list_embedders(), help="embedder (default: alexnet)")
    parser.add_argument("--weights", default="imagenet", help="imagenet, random, random:SEED or a state-dict file")
    parser.add_argument("--layer", default=None, help="layer to read (default: the model's penultimate layer)")
    parser.add_argument("-k", type=int, default=5, metavar="K", help="neighbours per photo (default: 5)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per forward pass (default: 32)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    return parser.parse_args(argv)


def list_images(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) != NUM_CLASSES:
        raise SystemExit(f"{folder}: expected {NUM_CLASSES} images (one per class), found {len(files)}")
    return files


def embed_all(embedder: Embedder, files: list[Path], batch_size: int) -> np.ndarray:
    parts = []
    with tqdm(total=len(files), unit="img", desc=f"embedding with {embedder.name}") as bar:
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            batch = torch.stack([embedder.preprocess(decode_image(p.read_bytes()).image) for p in chunk])
            parts.append(embedder.embed_batch(batch))
            bar.update(len(chunk))
    return np.concatenate(parts)


def nearest_neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """Indices ``(n, k)`` of each row's k most cosine-similar other rows."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def group_rows(neighbours: np.ndarray) -> list[tuple[str, int, float, float]]:
    """(group, photos, precision@k, chance) per group and for all grouped photos together."""
    n = len(neighbours)
    group_of = np.full(n, -1)
    for g, members in enumerate(GROUPS.values()):
        group_of[members] = g
    same = group_of[neighbours] == group_of[:, None]
    rows, hits, chances = [], [], []
    for name, members in GROUPS.items():
        chance = (len(members) - 1) / (n - 1)
        rows.append((name, len(members), float(same[members].mean()), chance))
        hits.append(same[members].mean(axis=1))
        chances += [chance] * len(members)
    rows.append(("all groups", len(chances), float(np.concatenate(hits).mean()), float(np.mean(chances))))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = list_images(args.corpus)
    try:
        config = EmbedderConfig(args.model, args.layer, WeightsChoice.parse(args.weights))
        embedder = load_embedder(config, device=args.device)
    except EmbedderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    vectors = embed_all(embedder, files, args.batch_size)
    labels = np.arange(len(files))

    print(f"\n{embedder.name}  layer {embedder.layer.name} ({embedder.dim}-d)  weights {config.weights}  "
          f"{len(files)} photos  k={args.k}")
    if embedder.layer.penultimate and embedder.spec.classifier:
        weight, bias = embedder.classifier_weights()
        top5 = np.argsort(-(vectors.astype(np.float64) @ weight.T + bias), axis=1)[:, :5]
        print(f"classifier head: top-1 {np.mean(top5[:, 0] == labels):.3f}  "
              f"top-5 {np.mean((top5 == labels[:, None]).any(axis=1)):.3f}")
    print(f"\n{'group':<24}{'photos':>7}{f'P@{args.k}':>8}{'chance':>8}{'lift':>7}")
    for name, photos, precision, chance in group_rows(nearest_neighbours(vectors, args.k)):
        print(f"{name:<24}{photos:>7}{precision:>8.3f}{chance:>8.3f}{precision / chance:>7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
