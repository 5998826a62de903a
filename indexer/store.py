"""An index directory: items and vectors (SQLite), a FAISS index, and a manifest that explains them.

Layout of ``DIR``::

    manifest.json        embedder, weights hash, layer, dimension, metric, FAISS factory, versions,
                         and the name and sha256 of the FAISS file it vouches for
    items.sqlite         one row per item: id, path, label, content hash, size, raw float32 vector
    index-NNNNNN.faiss   the FAISS index over the vectors (a cache of items.sqlite)
    images/              copies of images added through the server, under server-chosen names

Writes go to SQLite first, one transaction per change. The FAISS file is written under a new name,
fsynced, and only then named by a new manifest (itself replaced atomically), so a crash at any
moment leaves a manifest that points at a complete file. On open, FAISS is reconciled with SQLite:
ids it lacks are added, ids SQLite no longer has are removed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentspace.indexer.atomic import atomic_write_bytes, fsync_directory
from latentspace.indexer.faiss_index import FaissError, FaissIndex, normalize_rows, sha256_bytes
from latentspace.indexer.item_db import Direction, FileState, Item, ItemDB, NewItem, disk_full
from latentspace.indexer.manifest import EmbedderInfo, FileRecord, IndexMismatch, Manifest, Metric
from latentspace.indexer.rwlock import ReadWriteLock
from latentspace.indexer.vector_table import VectorTable

__all__ = ["DirectionExists", "IndexCorrupt", "IndexLocked", "IndexSettings", "IndexStore", "exact_search"]

MANIFEST = "manifest.json"
ITEMS_DB = "items.sqlite"
LOCK_FILE = ".lock"
_FAISS_NAME = re.compile(r"^index-(\d{6,})\.faiss$")


class IndexLocked(RuntimeError):
    """Another process is writing to the index directory."""


class IndexCorrupt(ValueError):
    """A file of the index directory does not match its manifest."""


class DirectionExists(KeyError):
    """A named direction of that name is already stored."""


@dataclass(frozen=True)
class IndexSettings:
    metric: Metric = "cosine"
    faiss_factory: str = "Flat"


def exact_search(
    queries: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """Brute-force top-k with FAISS's conventions; rows with id ``-1`` are never returned.

    ``queries (n, d)``, ``vectors (m, d)`` raw float32. Cosine: scores are cosines, descending.
    L2: squared distances, ascending. Ties go to the smaller id. Missing results are ``-1``.
    """
    queries = np.asarray(queries, dtype=np.float32)
    n = len(queries)
    out_scores = np.full((n, k), -np.inf if metric == "cosine" else np.inf, dtype=np.float32)
    out_ids = np.full((n, k), -1, dtype=np.int64)
    live = ids >= 0
    if not live.any() or k == 0:
        return out_scores, out_ids
    ids, vectors = ids[live], vectors[live]
    if metric == "cosine":
        scores = normalize_rows(queries) @ normalize_rows(vectors).T
        keys = -scores.astype(np.float64)
    else:
        scores = (
            (queries.astype(np.float64) ** 2).sum(1)[:, None]
            - 2.0 * queries.astype(np.float64) @ vectors.T.astype(np.float64)
            + (vectors.astype(np.float64) ** 2).sum(1)[None, :]
        ).clip(min=0)
        keys = scores
    take = min(k, len(ids))
    for row in range(n):
        order = np.lexsort((ids, keys[row]))[:take]
        out_ids[row, :take] = ids[order]
        out_scores[row, :take] = scores[row, order]
    return out_scores, out_ids


class IndexStore:
    """One open index directory. Searches may run concurrently; writes are serialised."""

    def __init__(self, directory: Path, manifest: Manifest, db: ItemDB, *, lock_fd: int | None) -> None:
        self.directory = directory
        self.manifest = manifest
        self.db = db
        self._lock_fd = lock_fd
        self._rw = ReadWriteLock()
        self.table = VectorTable(manifest.embedder.dimension)
        for ids, vectors in db.iter_vectors():
            self.table.add(ids, vectors)
        self.faiss = self._load_faiss()
        self.changes_since_save = 0
        if lock_fd is not None:
            self._reconcile()

    # -- opening -------------------------------------------------------------------------------

    @staticmethod
    def _take_lock(directory: Path) -> int:
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise IndexLocked(
                    f"index {directory} is in use by another latentspace process (indexer or server); "
                    f"stop it or use another --index directory"
                ) from None
            raise
        return fd

    @classmethod
    def exists(cls, directory: Path) -> bool:
        return (Path(directory) / MANIFEST).is_file()

    @classmethod
    def create(cls, directory: Path, embedder: EmbedderInfo, settings: IndexSettings = IndexSettings()) -> IndexStore:
        """Create a new, empty index directory (it may exist but must not hold an index)."""
        directory = Path(directory)
        if cls.exists(directory):
            raise FileExistsError(f"{directory} already holds an index; open it instead")
        FaissIndex.create(embedder.dimension, settings.faiss_factory, settings.metric)  # fail fast on bad factories
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = cls._take_lock(directory)
        try:
            db = ItemDB(directory / ITEMS_DB, embedder.dimension)
            manifest = Manifest(embedder=embedder, metric=settings.metric, faiss_factory=settings.faiss_factory)
            manifest.write(directory / MANIFEST)
            fsync_directory(directory)
            return cls(directory, manifest, db, lock_fd=lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def open(cls, directory: Path, *, expect: EmbedderInfo | None = None, readonly: bool = False) -> IndexStore:
        """Open an existing index. ``expect`` fails fast if the embedder differs; ``readonly`` takes no lock."""
        directory = Path(directory)
        if not cls.exists(directory):
            raise FileNotFoundError(f"{directory} is not a latentspace index (no {MANIFEST}); build one with `latentspace index`")
        try:
            manifest = Manifest.read(directory / MANIFEST)
        except ValueError as exc:
            raise IndexCorrupt(str(exc)) from None
        if expect is not None:
            differences = manifest.embedder.differences(expect)
            if differences:
                raise IndexMismatch(f"index {directory} was built with another embedder: " + "; ".join(differences))
        lock_fd = None if readonly else cls._take_lock(directory)
        try:
            db = ItemDB(directory / ITEMS_DB, manifest.embedder.dimension)
            return cls(directory, manifest, db, lock_fd=lock_fd)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    def _load_faiss(self) -> FaissIndex:
        record = self.manifest.faiss_file
        metric, factory = self.manifest.metric, self.manifest.faiss_factory
        if record is None:
            return FaissIndex.create(self.dim, factory, metric)
        path = self.directory / record.name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise IndexCorrupt(f"{path} is missing, but the manifest names it") from None
        if len(data) != record.size or sha256_bytes(data) != record.sha256:
            raise IndexCorrupt(
                f"{path} does not match the manifest (size {len(data)} vs {record.size}, or its sha256 differs): "
                f"it is truncated, damaged or not ours, so it is not loaded"
            )
        try:
            index = FaissIndex.deserialize(data, metric, factory)
        except (RuntimeError, FaissError) as exc:
            raise IndexCorrupt(f"{path} cannot be read by FAISS: {exc}") from None
        if index.dim != self.dim:
            raise IndexCorrupt(f"{path} holds {index.dim}-d vectors, the manifest says {self.dim}")
        return index

    def _reconcile(self) -> None:
        """Bring FAISS in line with SQLite after a crash between a commit and a FAISS save."""
        stored, _ = self.table.live()
        stored = set(stored[stored >= 0].tolist())
        in_faiss = set(self.faiss.ids().tolist())
        extra = np.fromiter(in_faiss - stored, dtype=np.int64)
        missing = np.fromiter(sorted(stored - in_faiss), dtype=np.int64)
        if len(extra):
            try:
                self.faiss.remove(extra)
            except FaissError:
                self._rebuild_faiss()
                return
        if len(missing) and self.faiss.is_trained:
            self.faiss.add(missing, self.table.get(missing))
        if len(extra) or len(missing):
            self.changes_since_save += len(extra) + len(missing)

    def _rebuild_faiss(self) -> None:
        fresh = FaissIndex.create(self.dim, self.manifest.faiss_factory, self.manifest.metric)
        ids, vectors = self.table.compact()
        if not fresh.is_trained and len(ids) >= max(fresh.min_training_vectors(), 1):
            fresh.train(vectors)
        if fresh.is_trained and len(ids):
            fresh.add(ids, vectors)
        self.faiss = fresh
        self.changes_since_save += 1

    # -- facts ---------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.manifest.embedder.dimension

    @property
    def metric(self) -> Metric:
        return self.manifest.metric

    def __len__(self) -> int:
        return len(self.table)

    @property
    def uses_faiss(self) -> bool:
        """False while an index that needs training has too few vectors: searches are then exact."""
        return self.faiss.is_trained and self.faiss.ntotal == len(self.table)

    # -- writing -------------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if self._lock_fd is None:
            raise PermissionError(f"index {self.directory} was opened read-only")

    def apply(self, *, insert: Sequence[NewItem] = (), delete: Collection[int] = ()) -> tuple[list[int], list[int]]:
        """Commit deletions and insertions as one durable transaction, then update the in-memory index.

        Returns ``(new ids, ids deleted)``. When this returns, the change is on disk.
        """
        self._require_writable()
        with self._rw.write():
            new_ids, deleted = self.db.apply(insert=insert, delete=delete)
            if deleted:
                gone = np.asarray(deleted, dtype=np.int64)
                self.table.remove(gone)
                if self.faiss.is_trained:
                    try:
                        self.faiss.remove(gone)
                    except FaissError:
                        self._rebuild_faiss()
            if new_ids:
                ids = np.asarray(new_ids, dtype=np.int64)
                vectors = np.stack([np.asarray(i.vector, dtype=np.float32) for i in insert])
                self.table.add(ids, vectors)
                if self.faiss.is_trained:
                    self.faiss.add(ids, vectors)
            self.changes_since_save += len(new_ids) + len(deleted)
        return new_ids, deleted

    def add(self, items: Sequence[NewItem]) -> list[int]:
        return self.apply(insert=items)[0]

    def remove(self, ids: Collection[int]) -> list[int]:
        return self.apply(delete=ids)[1]

    def touch(self, item_id: int, *, file_size: int, mtime_ns: int) -> None:
        """Record a new size and modification time for a file whose content did not change."""
        self._require_writable()
        with self._rw.write():
            self.db.touch(item_id, file_size=file_size, mtime_ns=mtime_ns)

    def put_direction(self, name: str, kind: str, description: str, vector: np.ndarray) -> Direction:
        """Store a new named direction; :class:`DirectionExists` if the name is taken (also by a
        concurrent writer), and an ``ENOSPC`` OSError when the disk is full."""
        self._require_writable()
        with self._rw.write():
            try:
                return self.db.put_direction(name, kind, description, vector)
            except sqlite3.IntegrityError:
                raise DirectionExists(name) from None
            except sqlite3.Error as exc:
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise disk_full(self.db.path, exc) from exc
                raise

    def delete_direction(self, name: str) -> bool:
        """Remove a named direction; False if there was none."""
        self._require_writable()
        with self._rw.write():
            return self.db.delete_direction(name)

    def train(self, *, use_gpu: bool = False) -> bool:
        """Train an index that needs it once enough vectors are stored; True if it is now in use."""
        self._require_writable()
        with self._rw.write():
            if not self.faiss.is_trained:
                ids, vectors = self.table.compact()
                if len(ids) < max(self.faiss.min_training_vectors(), 1):
                    return False
                self.faiss.train(vectors, use_gpu=use_gpu)
                self.faiss.add(ids, vectors)
                self.changes_since_save += len(ids)
            return self.uses_faiss

    def save(self) -> None:
        """Write the FAISS index under a new name, then a manifest naming it; remove the old file."""
        self._require_writable()
        with self._rw.read():
            data = self.faiss.serialize()
            count = len(self.table)
            pending = self.changes_since_save
        old = self.manifest.faiss_file
        generation = int(_FAISS_NAME.match(old.name).group(1)) + 1 if old else 1
        name = f"index-{generation:06d}.faiss"
        atomic_write_bytes(self.directory / name, data)
        manifest = self.manifest.with_update(count=count, faiss_file=FileRecord(name, sha256_bytes(data), len(data)))
        manifest.write(self.directory / MANIFEST)
        self.manifest = manifest
        self.changes_since_save -= pending
        for path in self.directory.iterdir():  # old generations and leftovers of interrupted saves
            if (_FAISS_NAME.match(path.name) and path.name != name) or path.name.startswith(".index-"):
                path.unlink(missing_ok=True)

    def close(self, *, save: bool = True) -> None:
        """Save pending FAISS changes (unless ``save`` is false), then release the directory.

        The database and the lock are released even when the save fails (a full disk, say): the
        error is raised, and every committed item is still in SQLite for the next open.
        """
        try:
            if self._lock_fd is not None and save and (self.changes_since_save or self.manifest.faiss_file is None):
                self.save()
        finally:
            self.db.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(save=exc[0] is None)

    # -- reading -------------------------------------------------------------------------------

    def items(self, ids: Sequence[int]) -> dict[int, Item]:
        """The items among ``ids`` that exist, by id."""
        with self._rw.read():
            return self.db.items(ids)

    def iter_items(self) -> Iterator[Item]:
        """Every item in id order, as stored when the call was made."""
        with self._rw.read():
            items = list(self.db.iter_items())
        return iter(items)

    def ids_with_labels(self, labels: Sequence[str]) -> np.ndarray:
        """Ids (sorted) of the items whose label is one of ``labels``."""
        with self._rw.read():
            return self.db.ids_with_labels(labels)

    def label_counts(self) -> dict[str, int]:
        """How many items carry each label, by label."""
        with self._rw.read():
            return self.db.label_counts()

    def file_states(self) -> dict[str, FileState]:
        """What the indexer recorded of each corpus file (size, mtime, hash), by path."""
        with self._rw.read():
            return self.db.file_states()

    def get_direction(self, name: str) -> Direction | None:
        with self._rw.read():
            return self.db.get_direction(name)

    def list_directions(self) -> list[Direction]:
        """Every named direction, by name."""
        with self._rw.read():
            return self.db.list_directions()

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Raw stored vectors ``(len(ids), d)``; KeyError for an unknown id."""
        with self._rw.read():
            return self.table.get(np.asarray(ids, dtype=np.int64))

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of ``(ids, vectors)`` of every item, sorted by id."""
        with self._rw.read():
            return self.table.compact()

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed_ids: np.ndarray | None = None,
        exclude_ids: Sequence[Collection[int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores (n, k), ids (n, k))`` for raw query vectors ``(n, d)``.

        ``allowed_ids`` keeps only those items; ``exclude_ids[i]`` drops items from query i's
        results. Cosine scores are descending cosines, L2 scores ascending squared distances;
        a row with fewer than k results is padded with id ``-1``.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (n, {self.dim}), got {queries.shape}")
        extra = max((len(e) for e in exclude_ids), default=0) if exclude_ids else 0
        fetch = k + extra
        with self._rw.read():
            if self.uses_faiss and fetch:
                scores, ids = self.faiss.search(queries, fetch, allowed_ids=allowed_ids)
            else:
                table_ids, table_vectors = self.table.live()
                if allowed_ids is not None:
                    table_ids = np.where(np.isin(table_ids, allowed_ids), table_ids, -1)
                scores, ids = exact_search(queries, table_ids, table_vectors, fetch, self.metric)
        if not extra:
            return scores[:, :k], ids[:, :k]
        out_scores = np.full((len(queries), k), scores.dtype.type(0), dtype=scores.dtype)
        out_ids = np.full((len(queries), k), -1, dtype=np.int64)
        for row, excluded in enumerate(exclude_ids):
            keep = (ids[row] >= 0) & ~np.isin(ids[row], np.fromiter(excluded, dtype=np.int64))
            kept_ids, kept_scores = ids[row][keep][:k], scores[row][keep][:k]
            out_ids[row, : len(kept_ids)] = kept_ids
            out_scores[row, : len(kept_ids)] = kept_scores
        return out_scores, out_ids
