"""How close does `latentspace index` come to the bare model's speed?

Measures, in one run with the same batch size, dtype (float32) and torch threads:
  1. the bare model's forward rate on pre-made input tensors (no decoding at all);
  2. the end-to-end indexing rate on the corpus's files (read, hash, decode, preprocess in
     worker processes, embed, commit to SQLite), into a fresh temporary index;
and prints both with their ratio. With ``--ray`` it also indexes the same files with the Ray
indexer on a local Ray started for the run (one embedding actor with the same torch threads,
decoding in Ray tasks) and prints its rate beside the local indexer's. Usage:

    python bench/index_throughput.py CORPUS [--model alexnet] [--weights random] [--batch-size 32] [--workers 2] [--ray]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from latentspace.cli.openmp import prefer_sleeping_openmp_threads

OMP_WAIT_POLICY = prefer_sleeping_openmp_threads()  # as `latentspace index` does, before torch and faiss load

import torch

from latentspace.indexer import (
    EmbedderConfig,
    EmbedderInfo,
    IndexOptions,
    IndexStore,
    WeightsChoice,
    discover,
    index_corpus,
    load_embedder,
)


def forward_rate(embedder, batch_size: int, images: int) -> float:
    """Images per second of embed_batch on random pre-made tensors, after one warm-up batch."""
    batch = torch.randn(batch_size, 3, 224, 224)
    embedder.embed_batch(batch)
    batches = max(1, images // batch_size)
    started = time.perf_counter()
    for _ in range(batches):
        embedder.embed_batch(batch)
    return batches * batch_size / (time.perf_counter() - started)


def ray_rate(entries, embedder, batch_size: int):
    """The Ray indexer on the same files: a local Ray with this machine's CPUs, one actor with torch's threads."""
    from latentspace.indexer.distributed import RayIndexOptions, index_on_ray
    from latentspace.indexer.sources import SourceItem

    items = [SourceItem(str(e.path), e.label, str(e.path)) for e in entries]
    options = RayIndexOptions(workers=1, cpus_per_worker=1, decode_cpus=1, threads_per_worker=torch.get_num_threads(),
                              batch_size=batch_size, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        with IndexStore.create(Path(tmp) / "idx", EmbedderInfo.from_embedder(embedder)) as store:
            return index_on_ray(items, store, embedder, options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--model", default="alexnet")
    parser.add_argument("--weights", default="random", help="speed does not depend on the weights (default random)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default as `index`)")
    parser.add_argument("--limit", type=int, default=1000, help="use at most this many files (default 1000)")
    parser.add_argument("--ray", action="store_true", help="also index with the Ray indexer on a local Ray and compare")
    args = parser.parse_args()

    embedder = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights)), device="cpu")
    entries = discover(args.corpus)[: args.limit]
    options = IndexOptions(batch_size=args.batch_size, progress=False,
                           **({} if args.workers is None else {"workers": args.workers}))
    print(f"{embedder.spec.name} {embedder.layer.name}, batch {args.batch_size}, float32, "
          f"torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY={OMP_WAIT_POLICY}, decode workers {options.workers}, "
          f"{len(entries)} files")

    model_rate = forward_rate(embedder, args.batch_size, len(entries))
    with tempfile.TemporaryDirectory() as tmp:
        with IndexStore.create(Path(tmp) / "idx", EmbedderInfo.from_embedder(embedder)) as store:
            report = index_corpus(entries, store, embedder, options)
    done = report.indexed + report.updated

    rows = [
        ("bare model forward (pre-made tensors)", f"{model_rate:8.1f}", ""),
        ("end-to-end index (JPEG files → SQLite)", f"{report.images_per_second:8.1f}",
         f"{done} indexed, {len(report.skipped)} skipped, {report.embedded_seconds:.1f} s"),
        ("ratio end-to-end / model", f"{report.images_per_second / model_rate:8.2f}", "target ≥ 0.80"),
    ]
    if args.ray:
        ray_report = ray_rate(entries, embedder, args.batch_size)
        rows += [
            ("Ray indexer, local Ray (files → SQLite)", f"{ray_report.images_per_second:8.1f}",
             f"{ray_report.indexed} indexed, {ray_report.embedded_seconds:.1f} s, {ray_report.seconds:.1f} s with Ray's start"),
            ("ratio Ray / local indexer", f"{ray_report.images_per_second / report.images_per_second:8.2f}", "target ≥ 0.70"),
        ]
    print(f"{'measure':<42} {'images/s':>8}  notes")
    for name, value, note in rows:
        print(f"{name:<42} {value}  {note}")


if __name__ == "__main__":
    main()
