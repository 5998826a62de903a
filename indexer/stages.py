"""The steps every indexer shares: plan what to embed, read and prepare one item, commit a batch.

The local indexer (:mod:`latentspace.indexer.pipeline`) runs them in one process with decoding
workers; the Ray indexer (:mod:`latentspace.indexer.distributed`) runs :func:`prepare_item` in
CPU tasks across a cluster and :func:`commit_prepared` on the driver. Both therefore store the
same items with the same keys, and reruns of either are incremental against the other's work.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from latentspace.indexer.embedders import Preprocess
from latentspace.indexer.images import ImageRejected, RejectReason, decode_image
from latentspace.indexer.item_db import FileState, NewItem
from latentspace.indexer.report import IndexReport, SkippedFile
from latentspace.indexer.sources.items import SourceItem, read_item

if TYPE_CHECKING:  # decoding tasks on a cluster import this module; they need no FAISS
    from latentspace.indexer.store import IndexStore

__all__ = ["Job", "Outcome", "commit_prepared", "file_states", "plan", "prepare_item"]


@dataclass(frozen=True)
class Job:
    """An item that is new or whose stamp changed since it was indexed."""

    item: SourceItem
    size: int
    mtime_ns: int
    previous: FileState | None


@dataclass(frozen=True)
class Outcome:
    status: str
    """"ok" (embed it), "same" (content unchanged: only its stamp is updated) or "skip"."""
    sha256: str = ""
    width: int = 0
    height: int = 0
    reason: str = ""
    message: str = ""


def file_states(store: IndexStore) -> dict[str, FileState]:
    """What the index remembers of each stored path, to tell new and changed items from the rest."""
    return store.file_states()


def _stamp(item: SourceItem, stamps: dict[str, tuple[int, int]]) -> tuple[int, int]:
    if item.stamp is not None:
        return item.stamp
    if item.container not in stamps:
        stat = os.stat(item.container)
        stamps[item.container] = (stat.st_size, stat.st_mtime_ns)
    return stamps[item.container]


def plan(items: Sequence[SourceItem], states: dict[str, FileState], report: IndexReport) -> list[Job]:
    """The items to read: new ones and those whose (size, mtime) differ from what is stored.

    For items inside a tar or Parquet file the stamp is the container's, so an unchanged shard
    is not even read again, and a rewritten one is re-read but re-embedded only where the bytes
    changed. Items that cannot be stat'ed are reported as skipped.
    """
    jobs, seen, stamps = [], set(), {}
    for item in items:
        if item.key in seen:
            continue
        seen.add(item.key)
        try:
            size, mtime_ns = _stamp(item, stamps)
        except OSError as exc:
            report.skipped.append(SkippedFile(item.key, RejectReason.UNREADABLE.value, exc.strerror or str(exc)))
            continue
        previous = states.get(item.key)
        if previous and previous.file_size == size and previous.mtime_ns == mtime_ns:
            report.unchanged += 1
            continue
        jobs.append(Job(item, size, mtime_ns, previous))
    return jobs


def prepare_item(item: SourceItem, previous_sha256: str | None, prepare: Preprocess, *,
                 min_side: int | None = None) -> tuple[Outcome, torch.Tensor | None]:
    """Read, hash, decode and prepare one item; a bad item gives a "skip" outcome, never an exception.

    ``min_side`` lets a large JPEG decode at a reduced size (the embedder's ``preprocessing.min_side``).
    """
    try:
        data = read_item(item)
    except OSError as exc:
        return Outcome("skip", reason=RejectReason.UNREADABLE.value, message=exc.strerror or str(exc)), None
    sha = hashlib.sha256(data).hexdigest()
    if previous_sha256 is not None and previous_sha256 == sha:
        return Outcome("same", sha256=sha), None
    try:
        decoded = decode_image(data, min_side=min_side)
        tensor = prepare(decoded.image)
    except ImageRejected as exc:
        return Outcome("skip", reason=exc.reason.value, message=str(exc)), None
    return Outcome("ok", sha256=sha, width=decoded.width, height=decoded.height), tensor


def commit_prepared(
    store: IndexStore,
    rows: Sequence[tuple[Job, Outcome]],
    vectors: np.ndarray | None,
    report: IndexReport,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> None:
    """Store one batch: ``vectors`` holds one row per "ok" outcome, in order; one durable transaction."""
    inserts, replaced, row = [], [], 0
    for job, outcome in rows:
        if outcome.status == "skip":
            skipped = SkippedFile(job.item.key, outcome.reason, outcome.message)
            report.skipped.append(skipped)
            if on_skip:
                on_skip(skipped)
        elif outcome.status == "same":
            assert job.previous is not None
            store.touch(job.previous.id, file_size=job.size, mtime_ns=job.mtime_ns)
            report.unchanged += 1
        else:
            assert vectors is not None
            inserts.append(NewItem(path=job.item.key, label=job.item.label, sha256=outcome.sha256, width=outcome.width,
                                   height=outcome.height, vector=vectors[row], file_size=job.size, mtime_ns=job.mtime_ns))
            row += 1
            if job.previous is not None:
                replaced.append(job.previous.id)
    if inserts or replaced:
        store.apply(insert=inserts, delete=replaced)
    report.indexed += len(inserts) - len(replaced)
    report.updated += len(replaced)
