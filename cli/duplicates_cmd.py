"""``latentspace duplicates``: clusters of near-identical items of an index, read in process."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from latentspace.cli.common import CliError

DEFAULT_THRESHOLD = 0.90  # the default of latentspace.indexer.duplicates, without importing faiss for --help


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "duplicates",
        help="list clusters of near-identical images in an index",
        description="Find the items of the index DIR whose vectors have cosine similarity of at least "
        "--threshold with another item and list them as clusters (connected components: a ≈ b and b ≈ c "
        "put a, b and c in one cluster). Works on the index files directly; a running server may keep "
        "serving meanwhile.",
    )
    parser.add_argument("index", type=Path, metavar="DIR", help="index directory")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"cosine similarity in (0, 1] at or above which two items count as "
                             f"near-identical (default {DEFAULT_THRESHOLD}: finds mirrored copies "
                             f"of photos; 0.98 and up finds re-encodings and resizes only)")
    parser.add_argument("--sheet-dir", type=Path, metavar="D",
                        help="also draw one contact sheet per cluster as D/cluster-NNNN.png")
    parser.add_argument("--json", action="store_true", help="print the clusters as JSON instead of text")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_duplicates)


def run_duplicates(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from latentspace.indexer import IndexStore
    from latentspace.indexer.duplicates import near_duplicate_clusters

    if not math.isfinite(args.threshold) or not 0.0 < args.threshold <= 1.0:
        raise CliError(f"--threshold is a cosine similarity in (0, 1], got {args.threshold}")
    started = time.perf_counter()
    with IndexStore.open(args.index, readonly=True) as store:
        ids = store.ids()
        if len(ids) == 0:
            raise CliError(f"{args.index} holds no items; index some images first")
        with tqdm(total=len(ids), unit="item", desc="comparing", file=sys.stderr,
                  disable=args.no_progress or args.json) as bar:  # rows read chunk by chunk, never all
            clusters = near_duplicate_clusters(ids, lambda rows: store.vectors(ids[rows]), threshold=args.threshold,
                                               progress=bar.update)
        seconds = time.perf_counter() - started
        items = store.items([i for c in clusters for i in c.ids])
        rows = []
        for number, cluster in enumerate(clusters, start=1):
            members = np.asarray(cluster.ids)
            v = store.vectors(members).astype(np.float64)
            u = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)
            to_first = u @ u[0]
            rows.append({"cluster": number, "size": len(members), "weakest": cluster.weakest,
                         "items": [{"id": int(i), "cosine_to_first": float(c), "label": items[int(i)].label,
                                    "path": items[int(i)].path} for i, c in zip(members, to_first)]})
        if args.sheet_dir is not None and rows:
            _draw_sheets(store, args.sheet_dir, clusters, rows)
    if args.json:
        json.dump({"index": str(args.index), "items": int(len(ids)), "threshold": args.threshold,
                   "seconds": round(seconds, 3), "clusters": rows,
                   "sheet_dir": str(args.sheet_dir) if args.sheet_dir else None}, sys.stdout, indent=2)
        print()
        return 0
    in_clusters = sum(r["size"] for r in rows)
    print(f"{len(rows)} clusters of near-identical items ({in_clusters} of {len(ids)} items) at cosine "
          f">= {args.threshold:g}, found in {seconds:.1f} s")
    for row in rows:
        print(f"cluster {row['cluster']}: {row['size']} items, weakest link {row['weakest']:.4f}")
        for item in row["items"]:
            print(f"  #{item['id']:<7} {item['cosine_to_first']:.4f}  {item['label'] or '-':<16} {item['path']}")
    if args.sheet_dir is not None and rows:
        print(f"sheets: {args.sheet_dir}/cluster-0001.png … cluster-{len(rows):04d}.png")
    return 0


def _draw_sheets(store, sheet_dir: Path, clusters, rows) -> None:
    import numpy as np

    from latentspace.render.sheets import render_search_sheet, tiles_for_hits
    from latentspace.render.thumbnails import ThumbnailCache

    sheet_dir.mkdir(parents=True, exist_ok=True)
    cache = ThumbnailCache(store.directory)
    for cluster, row in zip(clusters, rows):
        scores = np.array([m["cosine_to_first"] for m in row["items"]])
        tiles = tiles_for_hits(store, cache, np.asarray(cluster.ids), scores)
        title = f"cluster {row['cluster']}: {row['size']} items"
        render_search_sheet(tiles[0], tiles[1:], title=title).save(sheet_dir / f"cluster-{row['cluster']:04d}.png")
