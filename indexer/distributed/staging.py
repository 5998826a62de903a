"""Embedded shards on their way into the index: ``DIR/staging/``.

The driver writes each finished shard as ``shard-ID.npy`` (the vectors of its embedded rows, in
order, as clip-retrieval's ``img_emb_N.npy``) and ``shard-ID.parquet`` (one metadata row per item,
skipped ones included), each fsynced and renamed into place, the Parquet file last: a shard
exists once its Parquet file does. :func:`commit_shard` then stores it and appends its ID to
``committed.txt``. Committing is idempotent: a shard already listed adds nothing, and one whose
commit was cut short between the store's transaction and the list (a kill) is recognised by its
items' content hashes, so a rerun neither loses nor duplicates an item.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from latentspace.indexer.atomic import atomic_write_bytes, fsync_directory
from latentspace.indexer.item_db import FileState
from latentspace.indexer.report import IndexReport, SkippedFile
from latentspace.indexer.sources.items import SourceItem
from latentspace.indexer.stages import Job, Outcome, commit_prepared
from latentspace.indexer.store import IndexStore

__all__ = ["META_COLUMNS", "Staging", "commit_shard"]

STAGING_FOLDER = "staging"
COMMITTED = "committed.txt"
META_COLUMNS = ("key", "label", "size", "mtime_ns", "status", "sha256", "width", "height", "reason", "message")


class Staging:
    """The staging folder of one index directory."""

    def __init__(self, index_dir: Path) -> None:
        self.directory = Path(index_dir) / STAGING_FOLDER

    def _paths(self, shard_id: str) -> tuple[Path, Path]:
        return self.directory / f"shard-{shard_id}.npy", self.directory / f"shard-{shard_id}.parquet"

    def committed(self) -> set[str]:
        try:
            return {line.strip() for line in (self.directory / COMMITTED).read_text().splitlines() if line.strip()}
        except FileNotFoundError:
            return set()

    def pending(self) -> list[str]:
        """IDs of shards written whole but not (known to be) committed, oldest first."""
        if not self.directory.is_dir():
            return []
        done = self.committed()
        found = sorted(self.directory.glob("shard-*.parquet"), key=lambda p: p.stat().st_mtime_ns)
        return [p.name[len("shard-"):-len(".parquet")] for p in found if p.name[len("shard-"):-len(".parquet")] not in done]

    def write(self, shard_id: str, meta: dict[str, list], vectors: np.ndarray) -> None:
        """Write one shard durably: vectors first, the metadata (which makes it exist) last."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.directory.mkdir(parents=True, exist_ok=True)
        npy, parquet = self._paths(shard_id)
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(vectors, dtype=np.float32))
        atomic_write_bytes(npy, buffer.getbuffer())
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({name: meta[name] for name in META_COLUMNS}), sink)
        atomic_write_bytes(parquet, sink.getvalue().to_pybytes())

    def read(self, shard_id: str) -> tuple[dict[str, list], np.ndarray]:
        import pyarrow.parquet as pq

        npy, parquet = self._paths(shard_id)
        meta = pq.read_table(parquet).to_pydict()
        return meta, np.load(npy, allow_pickle=False)

    def mark_committed(self, shard_id: str) -> None:
        with open(self.directory / COMMITTED, "a", encoding="ascii") as handle:
            handle.write(shard_id + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def discard(self, shard_id: str) -> None:
        for path in self._paths(shard_id):
            path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove the folder once a run has committed every shard."""
        if self.directory.is_dir():
            shutil.rmtree(self.directory)
            fsync_directory(self.directory.parent)


def commit_shard(
    store: IndexStore,
    staging: Staging,
    shard_id: str,
    states: dict[str, FileState],
    report: IndexReport,
    on_skip: Callable[[SkippedFile], None] | None = None,
) -> bool:
    """Store a staged shard in one transaction; False (and nothing changed) if it was committed before.

    ``states`` is what the store held for each path when the run planned its work; an embedded
    row whose path already holds the same content is one this shard stored before a kill, and is
    left out. This is the only place staged vectors enter the index.
    """
    if shard_id in staging.committed():
        staging.discard(shard_id)
        return False
    meta, vectors = staging.read(shard_id)
    rows, keep, vector_row = [], [], 0
    for i, key in enumerate(meta["key"]):
        previous = states.get(key)
        outcome = Outcome(meta["status"][i], meta["sha256"][i], int(meta["width"][i]), int(meta["height"][i]),
                          meta["reason"][i], meta["message"][i])
        if outcome.status == "ok":
            vector_row += 1
            if previous is not None and previous.sha256 == outcome.sha256:
                continue  # stored by an earlier, interrupted commit of this shard
            keep.append(vector_row - 1)
        if outcome.status == "same" and previous is None:
            continue
        item = SourceItem(key, meta["label"][i], key)
        rows.append((Job(item, int(meta["size"][i]), int(meta["mtime_ns"][i]), previous), outcome))
    commit_prepared(store, rows, vectors[keep] if keep else None, report, on_skip)
    staging.mark_committed(shard_id)
    staging.discard(shard_id)
    return True
