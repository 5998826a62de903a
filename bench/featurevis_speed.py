"""Seconds per feature visualization, alone and in a batch, and whether each came out as its class.

Each run optimises class-logit visualizations (the classes below, in order) at ``--size`` for
``--steps``: first ``--alone`` of them one at a time, then ``--batch`` of them as one batch, and
prints a table of seconds per visualization and the share classified top-1 as their class by the
network (through its own preprocessing). Example::

    python bench/featurevis_speed.py --model efficientnet-lite0 --alone 2 --batch 4
"""

from __future__ import annotations

import argparse
import time

import torch
from PIL import Image

from latentspace.indexer.embedders import EmbedderConfig, WeightsChoice, load_embedder
from latentspace.render.featurevis import FeatureNetwork, OptimisationParams, class_objective, optimise

CLASSES = ("goldfish", "tree frog", "flamingo", "tabby", "monarch", "castle", "space shuttle", "pizza",
           "volcano", "daisy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=OptimisationParams().steps)
    parser.add_argument("--size", type=int, default=OptimisationParams().size)
    parser.add_argument("--alone", type=int, default=2, help="visualizations made one at a time")
    parser.add_argument("--batch", type=int, default=4, help="visualizations made as one batch (0: none)")
    args = parser.parse_args()

    embedder = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights)), device=args.device)
    network = FeatureNetwork(embedder)
    params = OptimisationParams(steps=args.steps, size=args.size)
    rows = []

    def run(names: tuple[str, ...]) -> tuple[float, int]:
        objectives = [class_objective(network, name) for name in names]
        started = time.perf_counter()
        result = optimise(network, objectives, params)
        seconds = time.perf_counter() - started
        top = embedder.classify(embedder.embed_images([Image.fromarray(row) for row in result.images]), top=1)
        return seconds, sum(best[0][0] == o.name for best, o in zip(top, objectives))

    if args.alone:
        times, hits = [], 0
        for name in CLASSES[: args.alone]:
            seconds, hit = run((name,))
            times.append(seconds)
            hits += hit
        rows.append(("one at a time", args.alone, sum(times) / len(times), hits))
    if args.batch:
        seconds, hits = run(CLASSES[: args.batch])
        rows.append((f"batch of {args.batch}", args.batch, seconds / args.batch, hits))

    print(f"{args.model} on {args.device} ({torch.get_num_threads()} threads), {args.size} px, {args.steps} steps")
    print(f"{'mode':<16} {'n':>3} {'s / visualization':>18} {'top-1 as class':>15}")
    for mode, n, per, hits in rows:
        print(f"{mode:<16} {n:>3} {per:>18.1f} {hits:>11}/{n:<3}")


if __name__ == "__main__":
    main()
