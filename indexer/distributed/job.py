"""``latentspace index --ray``: the local indexer's job, with decoding and embedding on a Ray cluster.

The driver plans the work exactly as the local indexer does (:func:`~latentspace.indexer.stages.plan`),
cuts it into shards, and hands Ray Data one row per item: CPU tasks read and prepare the images
(:func:`~latentspace.indexer.distributed.workers.decode_batch`), an actor pool embeds them with
one model per actor. The driver gathers each shard's rows, stages the shard in the index
directory and commits it (:mod:`~latentspace.indexer.distributed.staging`); it is the only
process that writes the index. Ray retries tasks and restarts actors lost with a node; a row
seen twice is counted once, and a run that ends with a shard incomplete says so and changes
nothing of it. The cluster's nodes read the source by the same paths as the driver (a shared
file system or the same copy on each node).
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from latentspace.indexer.distributed.cluster import RayUnavailable, connect
from latentspace.indexer.distributed.staging import META_COLUMNS, Staging, commit_shard
from latentspace.indexer.distributed.workers import EmbedWorker, decode_batch
from latentspace.indexer.embedders import Embedder
from latentspace.indexer.report import IndexReport, SkippedFile
from latentspace.indexer.sources.items import SourceItem
from latentspace.indexer.stages import Job, file_states, plan
from latentspace.indexer.store import IndexStore

__all__ = ["RayIndexOptions", "RayUnavailable", "index_on_ray"]


@dataclass(frozen=True)
class RayIndexOptions:
    address: str | None = None
    """``auto``, ``HOST:PORT`` of a running cluster, or None to start a local Ray for the run."""
    workers: int = 1
    """Embedding actors, each with its own copy of the model."""
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    memory_per_worker: int = 3 << 29
    """Bytes of memory each actor reserves (the model, its activations, a few batches): an AlexNet
    actor was measured at up to 0.9 GiB with batches of 32."""
    decode_cpus: float = 1.0
    """CPUs reserved by each decoding task."""
    threads_per_worker: int | None = None
    """torch threads in each actor; None keeps Ray's choice (its CPU reservation, rounded up)."""
    batch_size: int = 32
    shard_size: int = 256
    """Items per committed shard: a killed driver loses at most the shards not yet committed."""
    prune: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("workers", "batch_size", "shard_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        for name in ("gpus_per_worker", "cpus_per_worker", "decode_cpus", "memory_per_worker"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', '-')} must not be negative")


def _shards(jobs: Sequence[Job], size: int) -> list[tuple[str, list[Job]]]:
    """Consecutive runs of ``size`` jobs, each named by a hash of what it holds (key and stamp)."""
    shards = []
    for start in range(0, len(jobs), size):
        part = list(jobs[start:start + size])
        digest = hashlib.sha256("\n".join(f"{j.item.key}\t{j.size}\t{j.mtime_ns}" for j in part).encode()).hexdigest()
        shards.append((digest[:20], part))
    return shards


def _rows(shards: list[tuple[str, list[Job]]]) -> list[dict]:
    return [
        {"key": j.item.key, "label": j.item.label, "container": j.item.container, "kind": j.item.kind,
         "member": j.item.member, "offset": j.item.offset, "length": j.item.length, "size": j.size,
         "mtime_ns": j.mtime_ns, "previous_sha256": j.previous.sha256 if j.previous else "", "shard": number}
        for number, (_, part) in enumerate(shards) for j in part
    ]


def _dataset(rows: list[dict], embedder: Embedder, options: RayIndexOptions):
    import ray.data

    blocks = max(1, min(len(rows), math.ceil(len(rows) / options.batch_size)))
    device = "cuda" if options.gpus_per_worker > 0 else "cpu"
    ds = ray.data.from_items(rows, override_num_blocks=blocks)
    ds = ds.map_batches(decode_batch, fn_kwargs={"preprocessing": embedder.preprocessing}, batch_size=options.batch_size,
                        num_cpus=options.decode_cpus)
    # The actors' memory reservation also keeps Ray Data from fusing the decoding into them (it
    # fuses only stages with equal resources), so decoding stays in tasks spread over the cluster.
    # Ray Data restarts lost actors and retries their batches by default.
    return ds.map_batches(
        EmbedWorker,
        fn_constructor_kwargs={"config": embedder.config, "device": device, "expected_sha256": embedder.identity.sha256,
                               "threads": options.threads_per_worker},
        batch_size=options.batch_size, compute=ray.data.ActorPoolStrategy(size=options.workers),
        num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker, memory=options.memory_per_worker or None,
    )


class _Gatherer:
    """Collects rows per shard (each key once) and says when a shard is whole."""

    def __init__(self, shards: list[tuple[str, list[Job]]]) -> None:
        self.expected = [len(part) for _, part in shards]
        self.rows: dict[int, dict[str, tuple[dict, np.ndarray]]] = {}

    def add(self, batch: dict[str, np.ndarray]) -> tuple[list[int], int]:
        """Take a batch; return (shards now complete, rows new to us)."""
        complete, fresh = [], 0
        for i in range(len(batch["key"])):
            shard = int(batch["shard"][i])
            if shard >= len(self.expected) or self.expected[shard] < 0:
                continue  # a shard already written: a retried task's second answer
            held = self.rows.setdefault(shard, {})
            key = str(batch["key"][i])
            if key in held:
                continue
            held[key] = ({name: batch[name][i] for name in META_COLUMNS}, batch["vector"][i])
            fresh += 1
            if len(held) == self.expected[shard]:
                complete.append(shard)
        return complete, fresh

    def take(self, shard: int) -> tuple[dict[str, list], np.ndarray]:
        held = self.rows.pop(shard)
        self.expected[shard] = -1
        meta = {name: [_plain(row[name]) for row, _ in held.values()] for name in META_COLUMNS}
        vectors = [vector for row, vector in held.values() if row["status"] == "ok"]
        dim = len(next(iter(held.values()))[1])
        return meta, (np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32))

    def missing(self) -> int:
        return sum(n - len(self.rows.get(s, {})) for s, n in enumerate(self.expected) if n >= 0)


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def index_on_ray(
    items: Sequence[SourceItem],
    store: IndexStore,
    embedder: Embedder,
    options: RayIndexOptions = RayIndexOptions(),
    *,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> IndexReport:
    """Embed the new and changed items into ``store`` on Ray; the report is the local indexer's."""
    started = time.perf_counter()
    report = IndexReport()
    staging = Staging(store.directory)
    recovered = staging.pending()
    if recovered:  # a previous driver staged these and was stopped before committing them
        states = file_states(store)
        for shard_id in recovered:
            commit_shard(store, staging, shard_id, states, report, on_skip)
    states = file_states(store)
    jobs = plan(items, states, report)
    for skipped in report.skipped:
        if on_skip:
            on_skip(skipped)
    if options.prune:
        present = {item.key for item in items}
        gone = [state.id for path, state in states.items() if path not in present and not os.path.exists(path)]
        report.pruned = len(store.remove(gone)) if gone else 0

    loop_started = time.perf_counter()
    if jobs:
        connect(options.address)
        loop_started = time.perf_counter()  # as the local indexer's, the rate leaves out starting up (here: Ray)
        shards = _shards(jobs, options.shard_size)
        gatherer = _Gatherer(shards)
        import ray.exceptions

        with tqdm(total=len(jobs), unit="img", desc="indexing on ray", disable=not options.progress, dynamic_ncols=True) as bar:
            try:
                for batch in _dataset(_rows(shards), embedder, options).iter_batches(batch_size=None, batch_format="numpy"):
                    complete, fresh = gatherer.add(batch)
                    for shard in complete:
                        shard_id = shards[shard][0]
                        meta, vectors = gatherer.take(shard)
                        staging.write(shard_id, meta, vectors)
                        commit_shard(store, staging, shard_id, states, report, on_skip)
                    bar.update(fresh)
            except ray.exceptions.RayError as exc:  # e.g. an actor that cannot load the model on its node
                raise RayUnavailable(f"the Ray job failed: {(str(exc).strip().splitlines() or [type(exc).__name__])[-1]}; everything committed "
                                     "is kept: fix the cause and run the command again") from exc
        missing = gatherer.missing()
        if missing:
            raise RayUnavailable(f"the cluster returned no result for {missing} items; everything committed is kept: "
                                 "run the command again to finish")
    staging.clear()
    report.embedded_seconds = time.perf_counter() - loop_started
    store.train(use_gpu=options.gpus_per_worker > 0)
    if store.changes_since_save or store.manifest.faiss_file is None:
        store.save()
    report.seconds = time.perf_counter() - started
    return report
