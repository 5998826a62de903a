"""Draw the feature-visualization grids of the README: 8 classes and 8 units of a late layer.

    python docs/visuals/make_featurevis_grids.py --model efficientnet-lite0 --out docs/visuals

Each grid is one batch of 8 objectives (``optimise`` makes them together) with the options given,
drawn as a captioned sheet and saved small (a 256-colour palette past 300 KB). The same command
with ``--model alexnet`` (its ImageNet weights in the torch hub cache) makes AlexNet's; its
default units are those of conv5 (``--layer``, ``--units`` choose others).
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from PIL import Image

from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder
from latentspace.render.featurevis import FeatureNetwork, OptimisationParams, channel_objective, class_objective, optimise
from latentspace.render.sheets import SheetLayout, SheetRow, Tile, render_sheet

CLASSES = ("goldfish", "flamingo", "tabby", "monarch", "castle", "space shuttle", "pizza", "daisy")
LATE_LAYER = {"efficientnet-lite0": "stage6", "alexnet": "conv5"}
MAX_BYTES = 300_000


def save_small(image: Image.Image, path: Path) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > MAX_BYTES:
        buffer = io.BytesIO()
        image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(buffer, format="PNG", optimize=True)
    path.write_bytes(buffer.getvalue())
    print(f"wrote {path} ({buffer.tell() / 1000:.0f} KB, {image.width}×{image.height})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--weights", default="imagenet")
    parser.add_argument("--layer", default=None, help="late layer for the unit grid (default: stage6 / conv5)")
    parser.add_argument("--units", default="0,20,40,60,80,100,120,160", help="comma-separated units of --layer")
    parser.add_argument("--steps", type=int, default=OptimisationParams().steps)
    parser.add_argument("--size", type=int, default=OptimisationParams().size)
    parser.add_argument("--tile", type=int, default=128, help="pixels per picture in the grid")
    parser.add_argument("--out", type=Path, required=True, help="folder for featurevis-classes-MODEL.png and featurevis-units-MODEL.png")
    args = parser.parse_args()

    embedder = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights)))
    network = FeatureNetwork(embedder)
    params = OptimisationParams(steps=args.steps, size=args.size)
    layer = args.layer or LATE_LAYER[embedder.spec.name]
    grids = {
        "classes": [class_objective(network, name) for name in CLASSES],
        "units": [channel_objective(network, layer, int(u)) for u in args.units.split(",")],
    }
    for kind, objectives in grids.items():
        started = time.perf_counter()
        result = optimise(network, objectives, params)
        tiles = [Tile(Image.fromarray(row), (o.description, f"{h[0]:.3g} → {h[1]:.3g}"))
                 for row, o, h in zip(result.images, objectives, zip(result.history[0], result.history[-1]))]
        title = f"{embedder.spec.name}: {kind}, {args.size} px, {args.steps} steps, seed {params.seed}"
        sheet = render_sheet([SheetRow(neighbours=tiles[:4]), SheetRow(neighbours=tiles[4:])], title=title,
                             layout=SheetLayout(tile=args.tile))
        save_small(sheet, args.out / f"featurevis-{kind}-{embedder.spec.name}.png")
        print(f"  {len(objectives)} visualizations in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
