"""How close does `latentspace index` come to the bare model's speed, and what does bf16 give?

Measures, in one run per network, with the same batch size and torch threads:
  1. the bare model's forward rate on pre-made input tensors (no decoding at all);
  2. the end-to-end indexing rate on the corpus's files (read, hash, decode, preprocess in
     worker processes, embed, commit to SQLite), into a fresh temporary index;
and prints both with their ratio. With ``--precision bf16`` both are measured in fp32 and in
bf16, and the vectors of the two indexes are compared: the mean and least cosine between each
image's fp32 and bf16 vector, and the overlap of their top-10 neighbour lists. On a CPU without
AVX512-BF16 or AMX, bf16 is emulated (slow) and run only so that its vectors can be compared.
With ``--ray`` it also indexes the same files in fp32 with the Ray indexer on a local Ray started
for the run (one embedding actor with the same torch threads, decoding in Ray tasks) and prints
its rate beside the local indexer's.
Usage:

    python bench/index_throughput.py CORPUS [--model alexnet efficientnet-lite0] [--precision fp32|bf16]
                                     [--weights random] [--batch-size 32] [--workers 2] [--limit 1000] [--ray]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from latentspace.cli.openmp import prefer_sleeping_openmp_threads

OMP_WAIT_POLICY = prefer_sleeping_openmp_threads()  # as `latentspace index` does, before torch and faiss load

import numpy as np
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
from latentspace.indexer.precision import cpu_bf16_native, cpu_description

DEFAULT_WEIGHTS = {"efficientnet-lite0": "imagenet"}
"""Pretrained where the weights ship offline, so that neighbour overlap means something; else random."""


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


def measure(model: str, weights: str, precision: str, entries, args) -> dict:
    """Model and end-to-end rates of one precision, and the vectors indexed (by path)."""
    config = EmbedderConfig(model=model, weights=WeightsChoice.parse(weights), precision=precision)
    embedder = load_embedder(config, device="cpu", allow_emulated_bf16=True)
    options = IndexOptions(batch_size=args.batch_size, progress=False,
                           **({} if args.workers is None else {"workers": args.workers}))
    model_rate = forward_rate(embedder, args.batch_size, len(entries))
    with tempfile.TemporaryDirectory() as tmp:
        with IndexStore.create(Path(tmp) / "idx", EmbedderInfo.from_embedder(embedder)) as store:
            report = index_corpus(entries, store, embedder, options)
            ids, vectors = store.snapshot()
            items = store.items(ids.tolist())
            paths = [items[i].path for i in ids.tolist()]
    order = np.argsort(paths)
    return {"model": model_rate, "e2e": report.images_per_second, "done": report.indexed + report.updated,
            "skipped": len(report.skipped), "seconds": report.embedded_seconds, "workers": options.workers,
            "paths": [paths[i] for i in order], "vectors": vectors[order].astype(np.float64)}


def agreement(a: np.ndarray, b: np.ndarray, k: int = 10) -> tuple[float, float, float]:
    """Mean and least cosine of matching rows, and the mean overlap of their top-k cosine neighbours."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cosine = (a * b).sum(1)

    def neighbours(x: np.ndarray) -> np.ndarray:
        scores = x @ x.T
        np.fill_diagonal(scores, -np.inf)  # an image is not its own neighbour
        return np.argsort(-scores, axis=1)[:, :k]

    na, nb = neighbours(a), neighbours(b)
    overlap = np.mean([len(set(r) & set(s)) / k for r, s in zip(na, nb)])
    return float(cosine.mean()), float(cosine.min()), float(overlap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--model", nargs="+", default=["alexnet"], help="one or more networks (default alexnet)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                        help="bf16: measure fp32 and bf16 and compare their vectors (default fp32 only)")
    parser.add_argument("--weights", default=None,
                        help="default: imagenet for efficientnet-lite0 (shipped offline), random otherwise; "
                             "speed does not depend on the weights, neighbour overlap does")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default as `index`)")
    parser.add_argument("--limit", type=int, default=1000, help="use at most this many files (default 1000)")
    parser.add_argument("--ray", action="store_true", help="also index with the Ray indexer on a local Ray and compare")
    args = parser.parse_args()

    entries = discover(args.corpus)[: args.limit]
    precisions = ("fp32", "bf16") if args.precision == "bf16" else ("fp32",)
    native = cpu_bf16_native()
    print(f"CPU: {cpu_description()}; bf16 {'native' if native else 'EMULATED (slow; compared for its vectors only)'}")
    print(f"batch {args.batch_size}, torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY={OMP_WAIT_POLICY}, "
          f"{len(entries)} files of {args.corpus.name}")
    print(f"{'network':<20} {'weights':<9} {'prec':<5} {'model img/s':>11} {'e2e img/s':>10} {'e2e/model':>9}  notes")
    for model in args.model:
        weights = args.weights or DEFAULT_WEIGHTS.get(model, "random")
        runs = {}
        for precision in precisions:
            run = runs[precision] = measure(model, weights, precision, entries, args)
            print(f"{model:<20} {weights:<9} {precision:<5} {run['model']:11.1f} {run['e2e']:10.1f} "
                  f"{run['e2e'] / run['model']:9.2f}  {run['done']} indexed, {run['skipped']} skipped, "
                  f"{run['seconds']:.1f} s, {run['workers']} decode workers", flush=True)
        if "bf16" in runs:
            fp32, bf16 = runs["fp32"], runs["bf16"]
            assert fp32["paths"] == bf16["paths"], "both runs index the same files"
            mean, least, overlap = agreement(fp32["vectors"], bf16["vectors"])
            print(f"{model:<20} bf16/fp32: model {bf16['model'] / fp32['model']:.2f}x, end to end "
                  f"{bf16['e2e'] / fp32['e2e']:.2f}x; cosine mean {mean:.6f} min {least:.6f}; "
                  f"top-10 neighbour overlap {overlap:.3f}"
                  + ("" if native else "  (bf16 emulated: speed targets not checkable on this CPU)"), flush=True)
    if args.ray:
        model = args.model[0]
        embedder = load_embedder(EmbedderConfig(model=model, weights=WeightsChoice.parse(args.weights or DEFAULT_WEIGHTS.get(model, "random"))), device="cpu")
        local = measure(model, args.weights or DEFAULT_WEIGHTS.get(model, "random"), "fp32", entries, args)
        ray_report = ray_rate(entries, embedder, args.batch_size)
        print(f"{model:<20} local indexer {local['e2e']:.1f} img/s; Ray indexer on a local Ray {ray_report.images_per_second:.1f} img/s "
              f"({ray_report.indexed} indexed, {ray_report.seconds:.1f} s with Ray's start); "
              f"ratio Ray / local {ray_report.images_per_second / local['e2e']:.2f} (target >= 0.70)", flush=True)


if __name__ == "__main__":
    main()
