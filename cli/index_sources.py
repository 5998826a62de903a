"""``latentspace index`` options for where images come from (formats) and for running on Ray."""

from __future__ import annotations

import argparse

from latentspace.cli.common import CliError

__all__ = ["add_ray_options", "add_source_options", "ray_options", "source_options"]


def add_source_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("source formats")
    group.add_argument("--format", default="auto", choices=("auto", "files", "webdataset", "parquet"),
                       help="how to read SOURCE (default auto: *.tar or a brace pattern of them is WebDataset, *.parquet "
                            "is Parquet, a folder holding only .tar or only .parquet files is that, else files)")
    group.add_argument("--wds-image-key", default="jpg,png,jpeg,webp", metavar="EXT[,EXT...]",
                       help="WebDataset: the member extension(s) holding a sample's image, first found wins (default %(default)s)")
    group.add_argument("--wds-label-key", default="cls", metavar="EXT",
                       help="WebDataset: the member holding a sample's label as text (default cls; '' for none)")
    group.add_argument("--parquet-image-column", default="jpg", metavar="NAME",
                       help="Parquet: the column of image bytes (default jpg, as img2dataset writes)")
    group.add_argument("--parquet-label-column", default=None, metavar="NAME",
                       help="Parquet: a column to use as the label (default: none)")


def source_options(args: argparse.Namespace):
    from latentspace.indexer.sources import SourceOptions

    keys = tuple(k.strip() for k in args.wds_image_key.split(",") if k.strip())
    if not keys:
        raise CliError("--wds-image-key needs at least one extension, e.g. jpg")
    return SourceOptions(format=args.format, wds_image_keys=keys, wds_label_key=args.wds_label_key or None,
                         parquet_image_column=args.parquet_image_column, parquet_label_column=args.parquet_label_column)


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Ray cluster (pip install 'latentspace[ray]')")
    group.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="decode and embed on a Ray cluster: 'auto', HOST:PORT of a running cluster, or nothing "
                            "to start a local Ray for the run (put SOURCE before a bare --ray); --workers then counts "
                            "embedding actors (default 1)")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="N",
                       help="GPUs each embedding actor reserves (default 0: embed on CPUs; 1 for one GPU per actor)")
    group.add_argument("--cpus-per-worker", type=float, default=1.0, metavar="N",
                       help="CPUs each embedding actor reserves; its torch threads follow it (default 1)")
    group.add_argument("--decode-cpus", type=float, default=1.0, metavar="N",
                       help="CPUs each decoding task reserves (default 1)")
    group.add_argument("--shard-size", type=int, default=256, metavar="N",
                       help="items per committed shard; a stopped run keeps every committed shard (default 256)")


def ray_options(args: argparse.Namespace):
    from latentspace.indexer.distributed import RayIndexOptions

    try:
        return RayIndexOptions(
            address=args.ray or None, workers=1 if args.workers is None else args.workers,
            gpus_per_worker=args.gpus_per_worker, cpus_per_worker=args.cpus_per_worker, decode_cpus=args.decode_cpus,
            batch_size=args.batch_size, shard_size=args.shard_size, prune=args.prune, progress=not args.no_progress,
        )
    except ValueError as exc:
        raise CliError(f"--{exc}") from None
