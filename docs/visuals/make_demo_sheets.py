"""Draw the contact sheet and the walk filmstrip of docs/VISUALS.md from an index of the demo corpus.

    python docs/visuals/make_demo_sheets.py out/demo-eff docs/visuals

Both use only the store API and latentspace.render: a search is one row; the walk interpolates
between two items' (unit-length) vectors and searches the neighbours at each step, one row per step.
Pictures over 300 KB are saved with a 256-colour palette so the repository stays small.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from latentspace.indexer import IndexStore
from latentspace.render.sheets import SheetLayout, SheetRow, Tile, render_search_sheet, render_sheet, tiles_for_hits
from latentspace.render.thumbnails import ThumbnailCache

MAX_BYTES = 300_000


def save_small(image: Image.Image, path: Path) -> None:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > MAX_BYTES:
        buffer = io.BytesIO()
        image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(buffer, format="PNG", optimize=True)
    path.write_bytes(buffer.getvalue())
    print(f"wrote {path} ({buffer.tell() / 1000:.0f} KB, {image.width}×{image.height})")


def find(store: IndexStore, name: str) -> int:
    ids = store.ids()
    for item_id, item in store.items(ids.tolist()).items():
        if Path(item.path).stem == name:
            return item_id
    raise SystemExit(f"no item named {name!r} in {store.directory}")


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--query", default="chelsea", help="file stem of the searched item (default chelsea, the cat)")
    parser.add_argument("--walk", nargs=2, default=("chelsea", "rocket"), metavar=("FROM", "TO"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    layout = SheetLayout(tile=96, step_width=72)

    with IndexStore.open(args.index, readonly=True) as store:
        cache = ThumbnailCache(store.directory)

        query_id = find(store, args.query)
        query = store.items([query_id])[query_id]
        scores, ids = store.search(store.vectors([query_id]), args.k + 1, exclude_ids=[[query_id]])
        hits = tiles_for_hits(store, cache, ids[0][: args.k], scores[0][: args.k])
        sheet = render_search_sheet(Tile(cache.tile(query), ("query", f"{query.label} · #{query.id}")), hits,
                                    title=f"nearest neighbours of {Path(query.path).name}", layout=layout)
        save_small(sheet, args.out / "sheet.png")

        start, end = (find(store, name) for name in args.walk)
        a, b = (unit(v) for v in store.vectors([start, end]))
        rows = []
        for step in range(args.steps):
            alpha = step / (args.steps - 1)
            scores, ids = store.search(((1 - alpha) * a + alpha * b)[None], args.k)
            rows.append(SheetRow(neighbours=tiles_for_hits(store, cache, ids[0], scores[0]),
                                 step=f"α = {alpha:.2f}  step {step + 1}/{args.steps}"))
        names = [Path(store.items([i])[i].path).name for i in (start, end)]
        walk = render_sheet(rows, title=f"walk {names[0]} → {names[1]}: (1 − α)·a + α·b", layout=layout)
        save_small(walk, args.out / "walk.png")


if __name__ == "__main__":
    main()
