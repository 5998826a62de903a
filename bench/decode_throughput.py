"""Decode + preprocess per image, whole JPEG decode against reduced-size decode (Pillow's draft).

Both ways take turns file by file, in one run, so the machine's load falls on both alike; the
table gives the median over repeats of the mean milliseconds per image and how many files the
reduced decode actually shrank. Usage:

    python bench/decode_throughput.py CORPUS [--model efficientnet-lite0] [--limit 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from latentspace.indexer import discover
from latentspace.indexer.images import decode_image
from latentspace.indexer.models import get_spec
from latentspace.indexer.precision import cpu_description


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    preprocessing = get_spec(args.model).preprocessing
    blobs = [e.path.read_bytes() for e in discover(args.corpus)[: args.limit]]
    ways = {"whole decode": None, f"reduced (min side {preprocessing.min_side})": preprocessing.min_side}
    means: dict[str, list[float]] = {name: [] for name in ways}
    shrunk = sum(decode_image(b, min_side=preprocessing.min_side).image.width < decode_image(b).image.width for b in blobs)
    for _ in range(args.repeats):
        spent = dict.fromkeys(ways, 0.0)
        for data in blobs:
            for name, min_side in ways.items():
                started = time.perf_counter()
                preprocessing.prepare(decode_image(data, min_side=min_side).image)
                spent[name] += time.perf_counter() - started
        for name in ways:
            means[name].append(1000 * spent[name] / len(blobs))
    print(f"{len(blobs)} files of {args.corpus.name}, {args.model} preprocessing, {args.repeats} repeats, "
          f"one process; CPU: {cpu_description()}; {shrunk} files reduced at decode")
    base = statistics.median(means["whole decode"])
    print(f"{'decode + prepare':<28} {'ms/image':>9} {'images/s':>9} {'vs whole':>8}")
    for name, values in means.items():
        ms = statistics.median(values)
        print(f"{name:<28} {ms:9.2f} {1000 / ms:9.1f} {base / ms:8.2f}")


if __name__ == "__main__":
    main()
