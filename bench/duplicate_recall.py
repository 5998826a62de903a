"""Does ``latentspace duplicates`` find mirrored copies, and only them? Recall, false pairs, time.

``flip SRC DST`` writes DST holding every photo of SRC (linked) and its horizontal mirror
(``NAME_flip.JPEG``); index DST with ``latentspace index``, then ``check INDEX`` clusters it at
the default threshold and prints how many original–mirror pairs share a cluster, how many
clusters join different photos, the closest distinct pair, and the time the search took.

Example::

    python bench/duplicate_recall.py flip imagenet-samples /tmp/flipped
    latentspace index --index /tmp/flipped-index --model efficientnet-lite0 /tmp/flipped
    python bench/duplicate_recall.py check /tmp/flipped-index
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

FLIP = "_flip"


def write_flips(src: Path, dst: Path) -> None:
    from PIL import Image, ImageOps

    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in src.iterdir() if p.is_file()):
        link = dst / path.name
        if not link.exists():
            link.symlink_to(path.resolve())
        with Image.open(path) as image:
            mirrored = ImageOps.exif_transpose(image).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        mirrored.save(dst / f"{path.stem}{FLIP}{path.suffix}", quality=95)


def check(index: Path, threshold: float | None) -> None:
    from latentspace.indexer.duplicates import DEFAULT_THRESHOLD, near_duplicate_clusters
    from latentspace.indexer.store import IndexStore

    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    with IndexStore.open(index, readonly=True) as store:
        ids, vectors = store.snapshot()
        items = store.items(ids.tolist())
    photo = {int(i): os.path.basename(items[int(i)].path).replace(FLIP, "") for i in ids}
    started = time.perf_counter()
    clusters = near_duplicate_clusters(ids, vectors, threshold=threshold)
    seconds = time.perf_counter() - started
    cluster_of = {i: n for n, c in enumerate(clusters) for i in c.ids}
    by_photo: dict[str, list[int]] = {}
    for i, name in photo.items():
        by_photo.setdefault(name, []).append(i)
    pairs = [members for members in by_photo.values() if len(members) == 2]
    found = sum(1 for a, b in pairs if a in cluster_of and cluster_of.get(a) == cluster_of.get(b))
    mixed = sum(1 for c in clusters if len({photo[i] for i in c.ids}) > 1)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    originals = np.array([FLIP not in os.path.basename(items[int(i)].path) for i in ids])
    sims = unit[originals] @ unit[originals].T
    np.fill_diagonal(sims, -1.0)
    mirrored = [float(unit[ids.tolist().index(a)] @ unit[ids.tolist().index(b)]) for a, b in pairs]
    print(f"{len(ids)} items, {len(pairs)} original-mirror pairs, threshold {threshold:g}")
    print(f"{'pairs found':<34} {found} of {len(pairs)}")
    print(f"{'clusters joining different photos':<34} {mixed}")
    print(f"{'least original-mirror cosine':<34} {min(mirrored):.4f}")
    print(f"{'greatest cosine of two originals':<34} {sims.max():.4f}")
    print(f"{'search time':<34} {seconds:.2f} s (range search and components; loading not counted)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    flip = sub.add_parser("flip", help="write originals and their mirrors into DST")
    flip.add_argument("src", type=Path)
    flip.add_argument("dst", type=Path)
    chk = sub.add_parser("check", help="cluster an index of originals and mirrors")
    chk.add_argument("index", type=Path)
    chk.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()
    if args.step == "flip":
        write_flips(args.src, args.dst)
    else:
        check(args.index, args.threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
