"""The local indexing pipeline: plan items → read, decode and prepare (parallel workers) → embed → commit.

Workers hand over uint8 crops (see :class:`~latentspace.indexer.embedders.Preprocessing`), a
quarter of the bytes of float input; the main process normalises whole batches as it embeds.

Each batch is committed as one SQLite transaction, so an interrupted run keeps every finished
batch and a rerun embeds only files that are new or changed (by size and mtime, then content hash).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from latentspace.indexer.corpus import CorpusEntry
from latentspace.indexer.embedders import Embedder, Preprocess
from latentspace.indexer.report import IndexReport, SkippedFile
from latentspace.indexer.sources.items import SourceItem
from latentspace.indexer.stages import Job, Outcome, commit_prepared, file_states, plan, prepare_item
from latentspace.indexer.store import IndexStore

__all__ = ["IndexOptions", "IndexReport", "SkippedFile", "index_corpus"]


@dataclass(frozen=True)
class IndexOptions:
    batch_size: int = 32
    workers: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    """Decoding processes; 0 decodes in the main process."""
    prune: bool = False
    """Remove items whose files are gone from the corpus."""
    checkpoint_seconds: float = 60.0
    """How often the FAISS file is saved during a long run (SQLite commits every batch)."""
    progress: bool = True


class _DecodeDataset(Dataset):
    """Reads, hashes, decodes and prepares one item; never raises for a bad one."""

    def __init__(self, jobs: Sequence[Job], prepare: Preprocess, min_side: int | None = None) -> None:
        self.jobs = jobs
        self.prepare = prepare
        self.min_side = min_side
        """Passed to decode_image: JPEGs are decoded no larger than the preprocessing needs."""

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> tuple[tuple[Job, Outcome], torch.Tensor | None]:
        job = self.jobs[index]
        outcome, tensor = prepare_item(job.item, job.previous.sha256 if job.previous else None, self.prepare,
                                       min_side=self.min_side)
        return (job, outcome), tensor


def _collate(batch: list[tuple[tuple[Job, Outcome], torch.Tensor | None]]) -> tuple[list[tuple[Job, Outcome]], torch.Tensor | None]:
    """Stack in the worker, so the main process only normalises the batch and runs the model."""
    tensors = [t for _, t in batch if t is not None]
    return [p for p, _ in batch], (torch.stack(tensors) if tensors else None)


def _lower_priority(_worker_id: int) -> None:
    """Decoders yield the cores to the model's threads, which stall whenever one is preempted."""
    os.nice(10)


def _as_item(entry: CorpusEntry | SourceItem) -> SourceItem:
    return entry if isinstance(entry, SourceItem) else SourceItem(str(entry.path), entry.label, str(entry.path))


def index_corpus(
    entries: Sequence[CorpusEntry | SourceItem],
    store: IndexStore,
    embedder: Embedder,
    options: IndexOptions = IndexOptions(),
    *,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> IndexReport:
    """Embed the new and changed items of ``entries`` (files or :class:`SourceItem`s) into ``store``; see :class:`IndexReport`."""
    started = time.perf_counter()
    report = IndexReport()
    states = file_states(store)
    items = [_as_item(e) for e in entries]
    jobs = plan(items, states, report)
    for skipped in report.skipped:
        if on_skip:
            on_skip(skipped)

    if options.prune:
        present = {item.key for item in items}
        gone = [state.id for path, state in states.items() if path not in present and not os.path.exists(path)]
        report.pruned = len(store.remove(gone)) if gone else 0

    loader = DataLoader(
        _DecodeDataset(jobs, embedder.preprocessing.prepare, embedder.preprocessing.min_side),
        batch_size=options.batch_size,
        num_workers=options.workers,
        collate_fn=_collate,
        pin_memory=embedder.device.type == "cuda",
        prefetch_factor=4 if options.workers else None,
        worker_init_fn=_lower_priority if options.workers else None,
    )
    loop_started = time.perf_counter()
    last_checkpoint = loop_started
    with tqdm(total=len(jobs), unit="img", desc="indexing", disable=not options.progress, dynamic_ncols=True) as bar:
        for prepared, tensors in loader:
            vectors = embedder.embed_batch(tensors) if tensors is not None else None
            commit_prepared(store, prepared, vectors, report, on_skip)
            bar.update(len(prepared))
            if time.perf_counter() - last_checkpoint > options.checkpoint_seconds:
                store.save()
                last_checkpoint = time.perf_counter()
    report.embedded_seconds = time.perf_counter() - loop_started
    store.train(use_gpu=embedder.device.type == "cuda")
    if store.changes_since_save or store.manifest.faiss_file is None:
        store.save()
    report.seconds = time.perf_counter() - started
    return report
