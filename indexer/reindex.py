"""Rebuild or retrain an index's FAISS file from its stored vectors, as a new generation.

With the directory free, the new generation is installed directly. While another process
writes to it (a server), the new file is built from a read-only view and proposed in
``reindex.json``; that writer adopts it at its next call, adding what was stored meanwhile, so
searches never stop and nothing is lost.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from latentspace.indexer.atomic import atomic_write_bytes
from latentspace.indexer.faiss_index import sha256_bytes
from latentspace.indexer.index_choice import AutoPolicy, IndexChoice, choose_index
from latentspace.indexer.store import PROPOSAL, IndexLocked, IndexStore

__all__ = ["ReindexReport", "apply_auto_choice", "plan", "reindex"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ReindexReport:
    factory: str
    reason: str
    items: int
    seconds: float
    installed: bool
    """False: proposed to a running writer that had not adopted it when we stopped waiting."""
    compacted_rows: int = 0


def plan(store: IndexStore, request: str, policy: AutoPolicy) -> IndexChoice:
    """What to build: ``auto`` chooses from the item count; a factory string is taken as given."""
    if request == "auto":
        return choose_index(len(store), store.dim, policy)
    search = store.manifest.search
    return IndexChoice(request, search, 0, f"{request} as asked ({len(store)} items of {store.dim}-d)")


def apply_auto_choice(store: IndexStore, policy: AutoPolicy = AutoPolicy(), *,
                      progress: Progress | None = None, use_gpu: bool = False) -> IndexChoice | None:
    """For ``--faiss auto``: rebuild when the item count now calls for another index."""
    if store.manifest.faiss_request != "auto":
        return None
    choice = choose_index(len(store), store.dim, policy)
    if choice.factory == store.manifest.faiss_factory == store.faiss.factory and store.uses_faiss:
        return None
    index = store.build_faiss(choice.factory, choice.search, train_size=choice.train_size or None,
                              use_gpu=use_gpu, progress=progress)
    store.replace_faiss(index, choice.factory, "auto", choice.search)
    return choice


def reindex(directory: Path, request: str | None = None, *, policy: AutoPolicy = AutoPolicy(),
            progress: Progress | None = None, use_gpu: bool = False, wait_seconds: float = 60.0) -> ReindexReport:
    started = time.monotonic()
    try:
        store = IndexStore.open(directory)
    except IndexLocked:
        return _propose(Path(directory), request, policy, progress, use_gpu, wait_seconds, started)
    with store:
        choice = plan(store, request or store.manifest.faiss_request, policy)
        compacted = store.compact()
        index = store.build_faiss(choice.factory, choice.search, train_size=choice.train_size or None,
                                  use_gpu=use_gpu, progress=progress)
        store.replace_faiss(index, choice.factory, request or store.manifest.faiss_request, choice.search)
        return ReindexReport(choice.factory, choice.reason, len(store), time.monotonic() - started, True, compacted)


def _propose(directory: Path, request: str | None, policy: AutoPolicy, progress: Progress | None, use_gpu: bool,
             wait_seconds: float, started: float) -> ReindexReport:
    with IndexStore.open(directory, readonly=True) as store:
        wanted = request or store.manifest.faiss_request
        choice = plan(store, wanted, policy)
        index = store.build_faiss(choice.factory, choice.search, train_size=choice.train_size or None,
                                  use_gpu=use_gpu, progress=progress)
        items = len(store)
    data = index.serialize()
    name = f"next-{os.getpid()}-{time.time_ns()}.faiss"
    atomic_write_bytes(directory / name, data)
    proposal = {
        "faiss_file": {"name": name, "sha256": sha256_bytes(data), "size": len(data)},
        "factory": choice.factory, "request": wanted, "search": asdict(choice.search),
    }
    atomic_write_bytes(directory / PROPOSAL, (json.dumps(proposal, indent=2) + "\n").encode())
    deadline = time.monotonic() + wait_seconds
    while (directory / PROPOSAL).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    installed = not (directory / PROPOSAL).exists()
    return ReindexReport(choice.factory, choice.reason, items, time.monotonic() - started, installed)

