"""``latentspace index`` and ``latentspace export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentspace.cli.common import CliError, add_embedder_options, add_precision_option, embedder_config
from latentspace.cli.index_sources import add_ray_options, add_source_options, ray_options, source_options
from latentspace.cli.storage_opts import add_storage_options, auto_policy, finish_auto_choice, index_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    index = subparsers.add_parser(
        "index",
        help="embed a corpus of images into an index directory (incremental)",
        description="Embed every image of SOURCE into the index directory DIR. Reruns embed only new or "
        "changed files; an interrupted run keeps every committed batch.",
    )
    index.add_argument("corpus", metavar="SOURCE",
                       help="a folder (searched recursively; labels are folder names), a text file of paths, WebDataset "
                            "tar shards (shards/{00000..00099}.tar) or Parquet files with image bytes")
    index.add_argument("--index", required=True, type=Path, metavar="DIR", help="index directory to create or update")
    add_embedder_options(index, defaults_from_index=True)
    add_precision_option(index)
    index.add_argument("--metric", choices=("cosine", "l2"), default=None,
                       help="cosine (L2-normalised vectors, inner product) or l2 (Euclidean); default cosine")
    add_storage_options(index)
    index.add_argument("--batch-size", type=int, default=32, help="images per model forward pass (default 32)")
    index.add_argument("--workers", type=int, default=None, help="decoding processes (default: min(2, CPUs); 0 = none); with --ray, embedding actors (default 1)")
    index.add_argument("--prune", action="store_true", help="remove items whose files are gone from the corpus")
    index.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_source_options(index)
    add_ray_options(index)
    index.set_defaults(run=run_index)

    export = subparsers.add_parser(
        "export",
        help="write an index's vectors and metadata to a .npz file",
        description="Write arrays ids (int64), vectors (float32, n×d, exactly as stored), paths and labels.",
    )
    export.add_argument("index", type=Path, metavar="DIR")
    export.add_argument("--out", required=True, type=Path, metavar="FILE.npz")
    export.set_defaults(run=run_export)


def run_index(args: argparse.Namespace) -> int:
    from latentspace.indexer import (
        EmbedderInfo,
        IndexCorrupt,
        IndexOptions,
        IndexStore,
        index_corpus,
        load_embedder,
    )
    from latentspace.indexer.manifest import Manifest
    from latentspace.indexer.store import MANIFEST

    if args.batch_size < 1:
        raise CliError("--batch-size must be at least 1")
    if args.workers is not None and args.workers < 0:
        raise CliError("--workers must be 0 or more")
    from latentspace.indexer.sources import open_source

    entries = open_source(args.corpus, source_options(args))
    on_ray = ray_options(args) if args.ray is not None else None
    try:
        existing = Manifest.read(args.index / MANIFEST) if IndexStore.exists(args.index) else None
    except ValueError as exc:  # the same refusal IndexStore.open gives, not a traceback
        raise IndexCorrupt(str(exc)) from None
    if existing is not None:
        for flag, wanted, recorded in (("--metric", args.metric, existing.metric),
                                       ("--faiss", args.faiss, existing.faiss_request or existing.faiss_factory),
                                       ("--vector-dtype", args.vector_dtype, existing.vector_dtype)):
            if wanted is not None and wanted != recorded:
                raise CliError(f"{args.index} was built with {flag} {recorded}; use that, or a new --index directory")
    embedder = load_embedder(embedder_config(args, existing.embedder if existing else None), device=args.device)
    info = EmbedderInfo.from_embedder(embedder)
    if not info.pretrained:
        print(f"note: indexing with UNTRAINED weights ({embedder.identity.description}); "
              "neighbours will not be semantically meaningful", file=sys.stderr)
    if existing is not None:
        store = IndexStore.open(args.index, expect=info)
    else:
        store = IndexStore.create(args.index, info, index_settings(args))
    options = IndexOptions(batch_size=args.batch_size, prune=args.prune, progress=not args.no_progress,
                           **({} if args.workers is None else {"workers": args.workers}))

    def on_skip(skipped) -> None:
        from tqdm import tqdm

        tqdm.write(f"skipped {skipped.path}: {skipped.reason}: {skipped.message}", file=sys.stderr)

    with store:
        store.defer_faiss(len(store) + len(entries), auto_policy(args))
        print(f"{len(entries)} files in {args.corpus}; {embedder.spec.name} {embedder.layer.name} "
              f"({embedder.dim}-d, {embedder.config.precision}) on {embedder.device.type}", file=sys.stderr)
        if on_ray is not None:
            from latentspace.indexer.distributed import RayUnavailable, index_on_ray

            try:
                report = index_on_ray(entries, store, embedder, on_ray, on_skip=on_skip)
            except RayUnavailable as exc:
                raise CliError(str(exc)) from None
        else:
            report = index_corpus(entries, store, embedder, options, on_skip=on_skip)
        finish_auto_choice(store, auto_policy(args), progress=not args.no_progress)
        total = len(store)
        searched = "FAISS " + store.manifest.faiss_factory if store.uses_faiss else "exact search (too few vectors to train FAISS yet)"
    reasons = ", ".join(f"{reason}: {n}" for reason, n in report.skipped_by_reason().items())
    print(f"indexed {report.indexed} new, {report.updated} changed, {report.unchanged} unchanged, "
          f"{report.pruned} pruned; skipped {len(report.skipped)}" + (f" ({reasons})" if reasons else ""))
    print(f"{report.seconds:.1f} s in all, {report.images_per_second:.1f} images/s while embedding; "
          f"{args.index} holds {total} items ({searched})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from latentspace.indexer import IndexStore, export_npz

    with IndexStore.open(args.index, readonly=True) as store:
        count = export_npz(store, args.out)
    print(f"wrote {count} items to {args.out}")
    return 0
