"""The indexing pipeline: find files → decode and prepare (parallel workers) → embed → commit.

Workers hand over uint8 crops (see :class:`~latentspace.indexer.embedders.Preprocessing`), a
quarter of the bytes of float input; the main process normalises whole batches as it embeds.

Each batch is committed as one SQLite transaction, so an interrupted run keeps every finished
batch and a rerun embeds only files that are new or changed (by size and mtime, then content hash).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from latentspace.indexer.corpus import CorpusEntry
from latentspace.indexer.embedders import Embedder, Preprocess
from latentspace.indexer.images import ImageRejected, RejectReason, decode_image
from latentspace.indexer.item_db import FileState, NewItem
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


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
    message: str


@dataclass
class IndexReport:
    indexed: int = 0
    """New files embedded and committed."""
    updated: int = 0
    """Files whose content changed, re-embedded (their old item replaced)."""
    unchanged: int = 0
    pruned: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0
    embedded_seconds: float = 0.0
    """Wall time of the decode+embed+commit loop only (excludes model loading and the final save)."""

    @property
    def images_per_second(self) -> float:
        done = self.indexed + self.updated
        return done / self.embedded_seconds if self.embedded_seconds > 0 else 0.0

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))


@dataclass(frozen=True)
class _Job:
    entry: CorpusEntry
    size: int
    mtime_ns: int
    previous: FileState | None


@dataclass
class _Prepared:
    job: _Job
    status: str  # "ok", "same" or "skip"
    sha256: str = ""
    width: int = 0
    height: int = 0
    reason: str = ""
    message: str = ""


class _DecodeDataset(Dataset):
    """Reads, hashes, decodes and prepares one file; never raises for a bad file."""

    def __init__(self, jobs: Sequence[_Job], prepare: Preprocess, min_side: int | None = None) -> None:
        self.jobs = jobs
        self.prepare = prepare
        self.min_side = min_side
        """Passed to decode_image: JPEGs are decoded no larger than the preprocessing needs."""

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> tuple[_Prepared, torch.Tensor | None]:
        job = self.jobs[index]
        try:
            data = job.entry.path.read_bytes()
        except OSError as exc:
            return _Prepared(job, "skip", reason=RejectReason.UNREADABLE.value, message=exc.strerror or str(exc)), None
        sha = hashlib.sha256(data).hexdigest()
        if job.previous is not None and job.previous.sha256 == sha:
            return _Prepared(job, "same", sha256=sha), None
        try:
            decoded = decode_image(data, min_side=self.min_side)
            tensor = self.prepare(decoded.image)
        except ImageRejected as exc:
            return _Prepared(job, "skip", reason=exc.reason.value, message=str(exc)), None
        return _Prepared(job, "ok", sha256=sha, width=decoded.width, height=decoded.height), tensor


def _collate(batch: list[tuple[_Prepared, torch.Tensor | None]]) -> tuple[list[_Prepared], torch.Tensor | None]:
    """Stack in the worker, so the main process only normalises the batch and runs the model."""
    tensors = [t for _, t in batch if t is not None]
    return [p for p, _ in batch], (torch.stack(tensors) if tensors else None)


def _lower_priority(_worker_id: int) -> None:
    """Decoders yield the cores to the model's threads, which stall whenever one is preempted."""
    os.nice(10)


def _plan(entries: Sequence[CorpusEntry], states: dict[str, FileState], report: IndexReport) -> list[_Job]:
    jobs, seen = [], set()
    for entry in entries:
        key = str(entry.path)
        if key in seen:
            continue
        seen.add(key)
        try:
            stat = entry.path.stat()
        except OSError as exc:
            report.skipped.append(SkippedFile(key, RejectReason.UNREADABLE.value, exc.strerror or str(exc)))
            continue
        previous = states.get(key)
        if previous and previous.file_size == stat.st_size and previous.mtime_ns == stat.st_mtime_ns:
            report.unchanged += 1
            continue
        jobs.append(_Job(entry, stat.st_size, stat.st_mtime_ns, previous))
    return jobs


def index_corpus(
    entries: Sequence[CorpusEntry],
    store: IndexStore,
    embedder: Embedder,
    options: IndexOptions = IndexOptions(),
    *,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> IndexReport:
    """Embed the new and changed files of ``entries`` into ``store``; see :class:`IndexReport`."""
    started = time.perf_counter()
    report = IndexReport()
    states = store.file_states()
    jobs = _plan(entries, states, report)
    for skipped in report.skipped:
        if on_skip:
            on_skip(skipped)

    if options.prune:
        present = {str(e.path) for e in entries}
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
            inserts, replaced, row = [], [], 0
            for p in prepared:
                if p.status == "skip":
                    skipped = SkippedFile(str(p.job.entry.path), p.reason, p.message)
                    report.skipped.append(skipped)
                    if on_skip:
                        on_skip(skipped)
                elif p.status == "same":
                    assert p.job.previous is not None
                    store.touch(p.job.previous.id, file_size=p.job.size, mtime_ns=p.job.mtime_ns)
                    report.unchanged += 1
                else:
                    assert vectors is not None
                    inserts.append(
                        NewItem(
                            path=str(p.job.entry.path),
                            label=p.job.entry.label,
                            sha256=p.sha256,
                            width=p.width,
                            height=p.height,
                            vector=vectors[row],
                            file_size=p.job.size,
                            mtime_ns=p.job.mtime_ns,
                        )
                    )
                    row += 1
                    if p.job.previous is not None:
                        replaced.append(p.job.previous.id)
            if inserts or replaced:
                store.apply(insert=inserts, delete=replaced)
            report.indexed += len(inserts) - len(replaced)
            report.updated += len(replaced)
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
