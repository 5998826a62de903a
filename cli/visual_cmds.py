"""``latentspace kernels``, ``latentspace units`` and ``latentspace atlas``: pictures of the space."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from latentspace.cli.common import CliError


def _add_network_options(parser: argparse.ArgumentParser, *, from_index: bool) -> None:
    note = " (default: as recorded in the index)" if from_index else " (default: %s)"
    group = parser.add_argument_group("network")
    group.add_argument("--model", default=None if from_index else "alexnet",
                       help="alexnet or efficientnet-lite0" + (note if from_index else note % "alexnet"))
    group.add_argument("--weights", default=None if from_index else "imagenet", metavar="imagenet|random[:SEED]|PATH",
                       help="pretrained ImageNet weights, seeded untrained weights, or a state-dict file"
                            + (note if from_index else note % "imagenet"))
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                       help="where the network runs (default: auto, a GPU when there is one)")


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise CliError(f"{name} must be at least 1")


def register(subparsers: argparse._SubParsersAction) -> None:
    kernels = subparsers.add_parser(
        "kernels",
        help="draw the first convolution layer's kernels as a grid",
        description="Draw every kernel of the network's first convolution as a small RGB picture, each "
        "stretched to its own min..max and enlarged with nearest-neighbour (AlexNet: 64 kernels of 11×11 "
        "in an 8×8 grid). Trained kernels show edges and colour blobs; untrained ones look like noise.",
    )
    _add_network_options(kernels, from_index=False)
    kernels.add_argument("--out", required=True, type=Path, metavar="FILE.png", help="picture to write")
    kernels.add_argument("--scale", type=int, default=None,
                         help="pixels per weight (default: enough to make each kernel about 48 pixels wide)")
    kernels.set_defaults(run=run_kernels)

    units = subparsers.add_parser(
        "units",
        help="list and draw the indexed images that activate one unit most",
        description="Compute one layer's activations for every image of the index DIR (convolution layers: "
        "each unit's maximum over positions), cache them in DIR/activations/, and list the TOP images with "
        "the largest activation of UNIT. Layers: conv1..conv5, fc6, fc7 for alexnet; stem, stage1..stage7, "
        "head, pool for efficientnet-lite0.",
    )
    units.add_argument("index", type=Path, metavar="DIR", help="index directory")
    units.add_argument("--layer", required=True, help="layer whose unit to show, e.g. conv5")
    units.add_argument("--unit", required=True, type=int, metavar="N", help="unit (channel) number, from 0")
    units.add_argument("--top", type=int, default=16, help="how many images (default 16)")
    units.add_argument("--out", type=Path, metavar="FILE.png", help="also draw them as a contact sheet")
    units.add_argument("--json", action="store_true", help="print the list as JSON instead of text")
    _add_network_options(units, from_index=True)
    units.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default 32)")
    units.add_argument("--refresh", action="store_true", help="recompute the activations even if cached")
    units.add_argument("--no-progress", action="store_true", help="no progress bar")
    units.set_defaults(run=run_units)

    atlas = subparsers.add_parser(
        "atlas",
        help="lay the index out in 2-D and draw a picture per grid cell",
        description="Project the stored vectors of DIR to 2-D (PCA to 50-d, then UMAP fitted on at most "
        "--sample points, the rest placed by UMAP's transform), cover the map with a GRID×GRID grid and draw "
        "in each non-empty cell the image whose point is nearest the cell's centre. An index of more than "
        "--max-points items is drawn from a seeded sample of that many (the grid shows one image per cell).",
    )
    atlas.add_argument("index", type=Path, metavar="DIR", help="index directory")
    atlas.add_argument("--out", type=Path, metavar="FILE.png", help="picture to write")
    atlas.add_argument("--html", type=Path, metavar="FILE.html",
                       help="also write one self-contained page: zoom with the wheel, hover for label and path")
    atlas.add_argument("--grid", type=int, default=24, help="cells along the longer side of the map (default 24)")
    atlas.add_argument("--tile", type=int, default=64, help="pixels per cell in the PNG (default 64)")
    atlas.add_argument("--projection", choices=("umap", "pca"), default="umap",
                       help="umap (default) or pca (first two principal components: instant, cruder)")
    atlas.add_argument("--sample", type=int, default=20_000,
                       help="fit UMAP on at most this many points; the rest are transformed (default 20000)")
    atlas.add_argument("--max-points", type=int, default=50_000,
                       help="project at most this many items, a seeded sample of a larger index (default 50000)")
    atlas.add_argument("--seed", type=int, default=0, help="seed of the sample, of UMAP and of synthesised icons (default 0)")
    icons = atlas.add_argument_group("icons")
    icons.add_argument("--icons", choices=("photos", "synthesised", "both"), default="photos",
                       help="photos (default): the photo nearest each cell's centre; synthesised: an image optimised "
                       "for the cell's mean vector (feature visualization; cached in DIR/featurevis/); both: the two "
                       "atlases side by side")
    icons.add_argument("--icon-steps", type=int, default=128, help="optimisation steps per synthesised icon (default 128)")
    icons.add_argument("--icon-size", type=int, default=128, help="pixels of a synthesised icon as optimised (default 128)")
    icons.add_argument("--icon-batch", type=int, default=8, help="icons optimised together in one batch (default 8)")
    _add_network_options(atlas, from_index=True)
    atlas.add_argument("--no-progress", action="store_true", help="no progress bars")
    atlas.set_defaults(run=run_atlas)


def run_kernels(args: argparse.Namespace) -> int:
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder
    from latentspace.render.kernels import first_conv_weight, kernel_grid, kernel_grid_geometry

    if args.scale is not None:
        _positive("--scale", args.scale)
    embedder = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights)), device=args.device)
    weight = first_conv_weight(embedder)
    picture = kernel_grid(weight, scale=args.scale)
    picture.save(args.out)
    n, c, kh, kw = weight.shape
    columns, rows, _ = kernel_grid_geometry(n, kh, kw, scale=1, pad=0)
    print(f"wrote {args.out}: {n} kernels of {kh}×{kw}×{c} from {embedder.spec.name} {embedder.spec.first_conv} "
          f"({embedder.identity.description}), a {columns}×{rows} grid, {picture.width}×{picture.height} px")
    return 0


def _network_for_index(args: argparse.Namespace, store):
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    recorded = store.manifest.embedder
    model = args.model or recorded.model
    weights = args.weights or (recorded.weights if model == recorded.model else "imagenet")
    return load_embedder(EmbedderConfig(model=model, weights=WeightsChoice.parse(weights)), device=args.device)


def run_units(args: argparse.Namespace) -> int:
    from latentspace.indexer import IndexStore
    from latentspace.render.index_pictures import unit_sheet
    from latentspace.render.thumbnails import ThumbnailCache, item_image_path
    from latentspace.render.units import index_activations, top_items, unit_layer

    _positive("--top", args.top)
    _positive("--batch-size", args.batch_size)
    with IndexStore.open(args.index, readonly=True) as store:
        if len(store) == 0:
            raise CliError(f"{args.index} holds no items; index some images first")
        embedder = _network_for_index(args, store)
        layer = unit_layer(embedder.spec, args.layer)
        started = time.perf_counter()
        acts = index_activations(store, embedder, layer, batch_size=args.batch_size,
                                 progress=not args.no_progress and not args.json, use_cache=not args.refresh)
        if not 0 <= args.unit < acts.units:
            raise CliError(f"--unit {args.unit}: {embedder.spec.name} {layer.name} has units 0..{acts.units - 1}")
        ids, values = top_items(acts, args.unit, args.top)
        items = store.items(ids.tolist())
        if args.out is not None:
            cache = ThumbnailCache(store.directory)
            title = f"{embedder.spec.name} {layer.name} unit {args.unit}: top {len(ids)} of {len(acts.ids)} images"
            sheet, _, _ = unit_sheet(store, cache, acts, args.unit, top=args.top, title=title)
            sheet.save(args.out)
        rows = [
            {"rank": rank, "id": int(i), "activation": float(v), "label": items[int(i)].label,
             "path": str(item_image_path(store.directory, items[int(i)]))}
            for rank, (i, v) in enumerate(zip(ids.tolist(), values.tolist()), start=1) if int(i) in items
        ]
        source = "cached" if acts.from_cache else f"computed in {time.perf_counter() - started:.1f} s"
        missing = acts.missing.tolist()
    if args.json:
        json.dump({"model": embedder.spec.name, "layer": layer.name, "node": layer.node, "unit": args.unit,
                   "units": acts.units, "items": len(acts.ids), "missing": missing, "top": rows,
                   "cache": str(acts.path) if acts.path else None, "sheet": str(args.out) if args.out else None},
                  sys.stdout, indent=2)
        print()
        return 0
    print(f"{embedder.spec.name} {layer.name} ({layer.description}) unit {args.unit} of {acts.units}; "
          f"activations of {len(acts.ids)} images {source}")
    if missing:
        print(f"note: {len(missing)} images could not be read and are left out (ids {missing[:10]}"
              f"{' …' if len(missing) > 10 else ''})", file=sys.stderr)
    for row in rows:
        print(f"{row['rank']:>4}  #{row['id']:<7} {row['activation']:>10.4g}  {row['label'] or '-':<16} {row['path']}")
    if args.out is not None:
        print(f"wrote {args.out}")
    return 0


def run_atlas(args: argparse.Namespace) -> int:
    from latentspace.indexer import IndexStore
    from latentspace.render.index_pictures import index_atlas
    from latentspace.render.thumbnails import ThumbnailCache

    if args.out is None and args.html is None:
        raise CliError("say where the atlas goes: --out FILE.png, --html FILE.html, or both")
    for name, value in (("--grid", args.grid), ("--tile", args.tile), ("--sample", args.sample),
                        ("--max-points", args.max_points)):
        _positive(name, value)
    if args.sample < 20:
        raise CliError("--sample must be at least 20 so that UMAP has neighbours to learn from")
    if args.icons != "photos" and args.html is not None:
        raise CliError("--html shows photos; draw synthesised icons with --out only")
    for name, value in (("--icon-steps", args.icon_steps), ("--icon-size", args.icon_size), ("--icon-batch", args.icon_batch)):
        _positive(name, value)
    started = time.perf_counter()
    with IndexStore.open(args.index, readonly=True) as store:
        if len(store) == 0:
            raise CliError(f"{args.index} holds no items; index some images first")
        atlas = index_atlas(store, ThumbnailCache(store.directory), grid=args.grid, tile=args.tile,
                            method=args.projection, sample=args.sample, seed=args.seed, progress=not args.no_progress,
                            max_points=args.max_points)
        info = store.manifest.embedder
        picture = atlas.image
        if args.icons != "photos":
            picture = _synthesised(args, store, atlas)
    if args.out is not None:
        picture.save(args.out)
    if args.html is not None:
        title = f"{args.index.name}: {len(atlas.ids):,} images, {info.model} {info.layer}, {args.projection}"
        args.html.write_text(atlas.html(title=title), encoding="utf-8")
    written = " and ".join(str(p) for p in (args.out, args.html) if p is not None)
    print(f"wrote {written}: {len(atlas.ids):,} items, {len(atlas.layout.cells)} of "
          f"{atlas.layout.rows}×{atlas.layout.columns} cells drawn, {time.perf_counter() - started:.1f} s")
    return 0


def _synthesised(args: argparse.Namespace, store, atlas):
    """The atlas of synthesised icons over the photo atlas's layout (beside it for ``--icons both``)."""
    from PIL import Image

    from latentspace.render.featurevis import FeatureNetwork, FeatureVisError, OptimisationParams
    from latentspace.render.synthesised_atlas import synthesised_atlas

    try:
        params = OptimisationParams(steps=args.icon_steps, size=args.icon_size, seed=args.seed)
    except FeatureVisError as exc:
        raise CliError(f"--icon-steps/--icon-size: {exc}") from None
    network = FeatureNetwork(_network_for_index(args, store))
    drawn = synthesised_atlas(store, network, atlas.layout, ids=atlas.ids, params=params, tile=args.tile, gap=atlas.gap,
                              batch=args.icon_batch, progress=not args.no_progress).image
    if args.icons == "synthesised":
        return drawn
    both = Image.new("RGB", (atlas.image.width * 2 + args.tile // 4, atlas.image.height), (0, 0, 0))
    both.paste(atlas.image, (0, 0))
    both.paste(drawn, (atlas.image.width + args.tile // 4, 0))
    return both
