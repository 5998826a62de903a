"""``latentspace import-vectors`` (an index from vectors computed elsewhere) and ``latentspace reindex``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentspace.cli.common import CliError, add_embedder_options, embedder_config
from latentspace.cli.storage_opts import add_storage_options, auto_policy, finish_auto_choice, index_settings, progress_bar


def register(subparsers: argparse._SubParsersAction) -> None:
    imp = subparsers.add_parser(
        "import-vectors",
        help="build or extend an index from vectors computed elsewhere (.npz or Parquet)",
        description="Read arrays or columns `vectors` (n×d) and optional `ids`, `paths`, `labels` (what "
        "`latentspace export` writes, or Parquet with the same columns), streamed in batches, one "
        "transaction each. A rerun skips rows already stored. --model/--layer/--weights name the "
        "embedder the vectors came from so that image queries are embedded the same way; "
        "--model none --dim D makes a vector-only index.",
    )
    imp.add_argument("index", type=Path, metavar="DIR", help="index directory to create or extend")
    imp.add_argument("--vectors", required=True, type=Path, nargs="+", metavar="FILE",
                     help=".npz or .parquet files")
    add_embedder_options(imp, defaults_from_index=True)
    imp.add_argument("--dim", type=int, default=None, help="dimension of a vector-only index (--model none)")
    imp.add_argument("--metric", choices=("cosine", "l2"), default=None, help="for a new index (default cosine)")
    add_storage_options(imp)
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(run=run_import)

    re = subparsers.add_parser(
        "reindex",
        help="rebuild an index's FAISS file from its stored vectors (a running server keeps serving)",
        description="Train and fill a new FAISS index from the stored vectors (a sample to train, chunks "
        "to add) and make it the next generation. If a server has the index open, the new generation "
        "is handed to it and it switches at its next call, adding whatever was stored meanwhile.",
    )
    re.add_argument("index", type=Path, metavar="DIR")
    add_storage_options(re, creating=False)
    re.add_argument("--wait", type=float, default=120.0, metavar="SECONDS",
                    help="with a server running, how long to wait for it to switch (default 120)")
    re.add_argument("--no-progress", action="store_true", help="no progress bar")
    re.set_defaults(run=run_reindex)


def _embedder_info(args: argparse.Namespace, recorded):
    from latentspace.indexer import EmbedderInfo, load_embedder
    from latentspace.indexer.import_vectors import vector_only_embedder

    model = args.model or (recorded.model if recorded else None)
    if model is None:
        raise CliError("name the embedder the vectors came from (--model, --layer, --weights), or --model none --dim D")
    if model == "none":
        dim = args.dim or (recorded.dimension if recorded else None)
        if dim is None:
            raise CliError("--model none needs --dim D, the vectors' dimension")
        return vector_only_embedder(dim)
    if recorded is not None and args.model is None and args.weights is None and args.layer is None:
        return recorded
    return EmbedderInfo.from_embedder(load_embedder(embedder_config(args, recorded), device="cpu"))


def run_import(args: argparse.Namespace) -> int:
    from latentspace.indexer import IndexStore
    from latentspace.indexer.import_vectors import import_vectors
    from latentspace.indexer.manifest import Manifest
    from latentspace.indexer.vector_io import VectorFileError, count_rows

    existing = Manifest.read(args.index / "manifest.json").embedder if IndexStore.exists(args.index) else None
    info = _embedder_info(args, existing)
    if args.dim is not None and args.dim != info.dimension:
        raise CliError(f"--dim {args.dim} but {info.model} vectors have {info.dimension} values")
    try:
        total = sum(count_rows(path) for path in args.vectors)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    store = IndexStore.open(args.index, expect=info) if existing else IndexStore.create(args.index, info, index_settings(args))
    with store:
        from tqdm import tqdm

        store.defer_faiss(len(store) + total, auto_policy(args))
        with tqdm(total=total, desc="importing", unit="vec", disable=args.no_progress, file=sys.stderr) as bar:
            try:
                report = import_vectors(store, args.vectors, on_batch=bar.update)
            except VectorFileError as exc:
                raise CliError(str(exc)) from None
        finish_auto_choice(store, auto_policy(args), progress=not args.no_progress)
        searched = f"FAISS {store.manifest.faiss_factory}" if store.uses_faiss else "exact search"
        print(f"imported {report.added} new, {report.replaced} replaced, {report.unchanged} unchanged; "
              f"{args.index} holds {len(store)} items ({searched})")
    return 0


def run_reindex(args: argparse.Namespace) -> int:
    from latentspace.indexer.reindex import reindex

    report = reindex(args.index, args.faiss, policy=auto_policy(args),
                     progress=progress_bar(not args.no_progress), wait_seconds=args.wait)
    print(f"{report.reason}")
    if report.installed:
        print(f"{args.index}: new FAISS generation {report.factory} over {report.items} items in {report.seconds:.1f} s"
              + (f"; {report.compacted_rows} dead vector rows reclaimed" if report.compacted_rows else ""))
        return 0
    print(f"{args.index}: built {report.factory} in {report.seconds:.1f} s and handed it to the process that has the "
          f"index open; it switches at its next call", file=sys.stderr)
    return 0
