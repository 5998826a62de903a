"""An index directory: items (SQLite), vectors (shard files), a FAISS index, and a manifest.

Layout of ``DIR``::

    manifest.json        embedder, weights hash, layer, dimension, metric, FAISS factory and search
                         settings, vector dtype, versions, and the name and sha256 of the FAISS file
    items.sqlite         one row per item: id, path, label, content hash, size, where its vector is
    vectors/shard-NNNNNN.bin  the raw vectors (float32 or float16), append-only, memory-mapped
    index-NNNNNN.faiss   the FAISS index over the vectors (a cache of the two above)
    reindex.json         a FAISS generation built by `latentspace reindex` beside a running writer,
                         adopted by that writer at its next call
    images/              copies of images added through the server, under server-chosen names

Writes append vectors to a shard file and fsync it, then commit one SQLite transaction naming
them, so a committed item always has its vector. The FAISS file is written under a new name,
fsynced, and only then named by a new manifest (itself replaced atomically), so a crash at any
moment leaves a manifest that points at a complete file. On open, FAISS is reconciled with SQLite
by ids: ids it lacks are added, ids SQLite no longer has are removed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from latentspace.indexer.atomic import atomic_write_bytes, fsync_directory
from latentspace.indexer.exact import exact_search, exact_search_chunks, rerank
from latentspace.indexer.faiss_build import default_train_size, fill, train_on_sample
from latentspace.indexer.faiss_index import FaissError, FaissIndex, sha256_bytes
from latentspace.indexer.index_choice import AutoPolicy, IndexChoice, choose_index
from latentspace.indexer.item_db import Direction, FileState, Item, ItemDB, NewItem, disk_full
from latentspace.indexer.manifest import (
    FORMAT_VERSION, EmbedderInfo, FileRecord, IndexMismatch, Manifest, Metric, SearchSettings,
)
from latentspace.indexer.rwlock import ReadWriteLock
from latentspace.indexer.vector_files import VectorFiles, check_fits

__all__ = ["DirectionExists", "IndexCorrupt", "IndexLocked", "IndexSettings", "IndexStore", "exact_search"]

MANIFEST = "manifest.json"
ITEMS_DB = "items.sqlite"
VECTORS = "vectors"
PROPOSAL = "reindex.json"
LOCK_FILE = ".lock"
_FAISS_NAME = re.compile(r"^index-(\d{6,})\.faiss$")
_PROPOSED_NAME = re.compile(r"^next-\d+-\d+\.faiss$")
_log = logging.getLogger("latentspace.indexer")


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
    """A FAISS factory string, or ``auto`` (chosen from the item count; see index_choice.py)."""
    vector_dtype: str = "float32"
    search: SearchSettings = field(default_factory=SearchSettings)
    auto: AutoPolicy = field(default_factory=AutoPolicy)


def _id_differences(in_faiss: np.ndarray, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ids FAISS has that are not stored, stored ids FAISS lacks)``; ``stored`` sorted, unique.

    They usually agree (after every clean save, every adopted generation), and one sort finds
    that: the two set differences took 5.8 s for 1M ids at open.
    """
    in_faiss = np.sort(in_faiss)
    if len(in_faiss) == len(stored) and np.array_equal(in_faiss, stored):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return (np.setdiff1d(in_faiss, stored, assume_unique=True),
            np.setdiff1d(stored, in_faiss, assume_unique=True))


def sha256_file(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """sha256 and size of a file, read in chunks (never whole)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def is_exact_factory(factory: str) -> bool:
    return factory.replace(" ", "") == "Flat"


class IndexStore:
    """One open index directory. Searches may run concurrently; writes are serialised."""

    def __init__(self, directory: Path, manifest: Manifest, db: ItemDB, *, lock_fd: int | None) -> None:
        self.directory = directory
        self.manifest = manifest
        self.db = db
        self._lock_fd = lock_fd
        self._rw = ReadWriteLock()
        self._tuned: SearchSettings | None = None  # tune()'s settings for this process, not recorded
        self.vector_files = VectorFiles(directory / VECTORS, manifest.embedder.dimension, manifest.vector_dtype)
        self.vector_files.load(*db.locations(), writable=lock_fd is not None)
        self.faiss = self._load_faiss()
        self.changes_since_save = 0
        self._adopting = threading.Lock()
        self._next_poll = 0.0
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
        if settings.vector_dtype not in ("float32", "float16"):
            raise ValueError(f"vector dtype must be float32 or float16, got {settings.vector_dtype!r}")
        request = settings.faiss_factory
        factory, search = request, settings.search
        if request == "auto":
            choice = choose_index(0, embedder.dimension, settings.auto)
            factory = choice.factory
        FaissIndex.create(embedder.dimension, factory, settings.metric)  # fail fast on bad factories
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = cls._take_lock(directory)
        try:
            db = ItemDB(directory / ITEMS_DB, embedder.dimension)
            (directory / VECTORS).mkdir(exist_ok=True)
            manifest = Manifest(embedder=embedder, metric=settings.metric, faiss_factory=factory,
                                vector_dtype=settings.vector_dtype, faiss_request=request, search=search)
            manifest.write(directory / MANIFEST)
            fsync_directory(directory)
            return cls(directory, manifest, db, lock_fd=lock_fd)
        except BaseException:
            os.close(lock_fd)
            raise

    @classmethod
    def open(cls, directory: Path, *, expect: EmbedderInfo | None = None, readonly: bool = False) -> IndexStore:
        """Open an existing index. ``expect`` fails fast if the embedder differs; ``readonly`` takes no lock.

        An index of the first format (vectors inside items.sqlite) is migrated first, which
        needs the directory's lock even for a read-only open.
        """
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
            if db.legacy or manifest.format_version != FORMAT_VERSION:
                manifest = cls._migrate(directory, manifest, db, lock_fd)
            return cls(directory, manifest, db, lock_fd=lock_fd)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    @classmethod
    def _migrate(cls, directory: Path, manifest: Manifest, db: ItemDB, lock_fd: int | None) -> Manifest:
        """Move the vectors of a first-format index from items.sqlite into shard files.

        Crash-safe: the shard files are written and fsynced first; one transaction then swaps
        the table for one naming them. Until it commits the old table is the record and a rerun
        starts over; after it, only the manifest is left to update.
        """
        own_lock = lock_fd is None
        fd = cls._take_lock(directory) if own_lock else lock_fd
        try:
            if db.legacy:
                _log.warning("migrating %s to index format %d: moving %d vectors from items.sqlite into %s/ "
                             "(once; nothing is lost)", directory, FORMAT_VERSION, db.count(), VECTORS)
                files = VectorFiles(directory / VECTORS, manifest.embedder.dimension, "float32")
                files.folder.mkdir(exist_ok=True)
                for shard in files.shard_numbers():  # left by an interrupted migration
                    files.shard_path(shard).unlink()
                ids, shards, rows = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
                for batch_ids, vectors in db.iter_legacy_vectors():
                    batch_shards, batch_rows = files.append(vectors)
                    ids.append(batch_ids), shards.append(batch_shards), rows.append(batch_rows)
                ids, shards, rows = np.concatenate(ids), np.concatenate(shards), np.concatenate(rows)
                db.finish_migration(ids, shards, rows)
            migrated = manifest.with_update(format_version=FORMAT_VERSION, vector_dtype="float32",
                                            faiss_request=manifest.faiss_request or manifest.faiss_factory)
            migrated.write(directory / MANIFEST)
            return migrated
        finally:
            if own_lock:
                os.close(fd)

    def _load_faiss(self) -> FaissIndex:
        record = self.manifest.faiss_file
        metric, factory = self.manifest.metric, self.manifest.faiss_factory
        if record is None:
            return FaissIndex.create(self.dim, factory, metric)
        index = self._read_faiss_file(self.directory / record.name, record, mmap=self._lock_fd is None)
        self._apply_search_settings(index, self.manifest.search)
        return index

    def _read_faiss_file(self, path: Path, record: FileRecord, *, mmap: bool) -> FaissIndex:
        """Check size and sha256 streaming, then let FAISS read the file (memory-mapped if read-only)."""
        try:
            digest, size = sha256_file(path)
        except FileNotFoundError:
            raise IndexCorrupt(f"{path} is missing, but the manifest names it") from None
        if size != record.size or digest != record.sha256:
            raise IndexCorrupt(
                f"{path} does not match the manifest (size {size} vs {record.size}, or its sha256 differs): "
                f"it is truncated, damaged or not ours, so it is not loaded"
            )
        try:
            # A memory-mapped IVF index cannot be added to, so only read-only stores map it.
            index = FaissIndex.read(path, self.manifest.metric, self.manifest.faiss_factory, mmap=mmap)
        except (RuntimeError, FaissError) as exc:
            raise IndexCorrupt(f"{path} cannot be read by FAISS: {exc}") from None
        if index.dim != self.dim:
            raise IndexCorrupt(f"{path} holds {index.dim}-d vectors, the manifest says {self.dim}")
        return index

    @staticmethod
    def _apply_search_settings(index: FaissIndex, search: SearchSettings) -> None:
        ivf = faiss.try_extract_index_ivf(index.index.index)
        if ivf is not None:
            ivf.nprobe = min(search.nprobe, ivf.nlist)
            quantizer = faiss.downcast_index(ivf.quantizer)
            if hasattr(quantizer, "hnsw"):
                quantizer.hnsw.efSearch = max(search.ef_search, ivf.nprobe)
        inner = faiss.downcast_index(index.index.index)
        if hasattr(inner, "hnsw"):
            inner.hnsw.efSearch = search.ef_search

    def defer_faiss(self, expected_count: int, policy: AutoPolicy = AutoPolicy()) -> bool:
        """With ``--faiss auto``, before adding up to ``expected_count`` items: if that many call for
        another index than the one in use, stop filling this one (searches are exact meanwhile)
        so that a Flat index does not grow in RAM; :func:`reindex.apply_auto_choice` builds the
        right one at the end. True if deferred."""
        if self.manifest.faiss_request != "auto":
            return False
        factory = choose_index(expected_count, self.dim, policy).factory
        if factory == self.manifest.faiss_factory:
            return False
        with self._rw.write():
            self.faiss = FaissIndex.create(self.dim, factory, self.metric)
            self.changes_since_save += 1
        return True

    def _reconcile(self) -> None:
        """Bring FAISS in line with SQLite after a crash between a commit and a FAISS save."""
        if self.faiss.ntotal < len(self.vector_files) and self.defer_faiss(len(self.vector_files)):
            return  # an interrupted large import: the next auto choice builds the index
        extra, missing = _id_differences(self.faiss.ids(), self.vector_files.ids())
        if len(extra):
            try:
                self.faiss.remove(extra)
            except FaissError:
                self._rebuild_faiss()
                return
        if len(missing) and self.faiss.is_trained:
            fill(self.faiss, self.vector_files, missing)
        if len(extra) or len(missing):
            self.changes_since_save += len(extra) + len(missing)

    def _rebuild_faiss(self) -> None:
        self.faiss = self.build_faiss(self.manifest.faiss_factory, self.search_settings)
        self.changes_since_save += 1

    def build_faiss(self, factory: str, search: SearchSettings, *, train_size: int | None = None,
                    use_gpu: bool = False, progress=None) -> FaissIndex:
        """A new FAISS index over the stored vectors: trained on a sample, filled in chunks."""
        fresh = FaissIndex.create(self.dim, factory, self.metric)
        count = len(self.vector_files)
        if not fresh.is_trained and count >= max(fresh.min_training_vectors(), 1):
            size = train_size or default_train_size(fresh, count)
            train_on_sample(fresh, self.vector_files, min(size, count), use_gpu=use_gpu, progress=progress)
        if fresh.is_trained and count:
            fill(fresh, self.vector_files, progress=progress)
        self._apply_search_settings(fresh, search)
        return fresh

    # -- facts ---------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.manifest.embedder.dimension

    @property
    def metric(self) -> Metric:
        return self.manifest.metric

    def __len__(self) -> int:
        return len(self.vector_files)

    @property
    def uses_faiss(self) -> bool:
        """False while an index that needs training has too few vectors: searches are then exact."""
        return self.faiss.is_trained and self.faiss.ntotal == len(self.vector_files)

    @property
    def reranks(self) -> bool:
        """True when FAISS only gathers candidates, re-scored exactly on the stored vectors."""
        return self.uses_faiss and not is_exact_factory(self.manifest.faiss_factory)

    # -- writing -------------------------------------------------------------------------------

    def _require_writable(self) -> None:
        if self._lock_fd is None:
            raise PermissionError(f"index {self.directory} was opened read-only")

    def _stack(self, insert: Sequence[NewItem]) -> np.ndarray:
        vectors = np.zeros((len(insert), self.dim), dtype=np.float32)
        for row, item in enumerate(insert):
            vector = np.asarray(item.vector, dtype=np.float32)
            if vector.shape != (self.dim,):
                raise ValueError(f"expected a vector of {self.dim} values, got shape {vector.shape}")
            vectors[row] = vector
        check_fits(vectors, self.manifest.vector_dtype)
        return vectors

    def apply(self, *, insert: Sequence[NewItem] = (), delete: Collection[int] = ()) -> tuple[list[int], list[int]]:
        """Commit deletions and insertions as one durable transaction, then update the in-memory index.

        The new vectors are written to the shard files and fsynced first; the transaction that
        makes their rows live commits after. Returns ``(new ids, ids deleted)``. When this
        returns, the change is on disk.
        """
        self._require_writable()
        self._poll_proposal()
        vectors = self._stack(insert)
        with self._rw.write():
            shards, rows = self.vector_files.append(vectors)
            new_ids, deleted = self.db.apply(insert=insert, delete=delete, locations=(shards, rows))
            if deleted:
                gone = np.asarray(deleted, dtype=np.int64)
                self.vector_files.remove(gone)
                if self.faiss.is_trained:
                    try:
                        self.faiss.remove(gone)
                    except FaissError:
                        self._rebuild_faiss()
            if new_ids:
                ids = np.asarray(new_ids, dtype=np.int64)
                self.vector_files.commit(ids, shards, rows)
                if self.faiss.is_trained:
                    self.faiss.add(ids, self.vector_files.get(ids))  # as stored (float16 rounds)
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

    def put_direction(self, name: str, kind: str, description: str, vector: np.ndarray,
                      accuracy: float | None = None) -> Direction:
        """Store a new named direction (``accuracy``: a learned one's held-out accuracy);
        :class:`DirectionExists` if the name is taken (also by a concurrent writer), and an
        ``ENOSPC`` OSError when the disk is full."""
        self._require_writable()
        with self._rw.write():
            try:
                return self.db.put_direction(name, kind, description, vector, accuracy)
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
                count = len(self.vector_files)
                if count < max(self.faiss.min_training_vectors(), 1):
                    return False
                train_on_sample(self.faiss, self.vector_files, default_train_size(self.faiss, count), use_gpu=use_gpu)
                fill(self.faiss, self.vector_files)
                self._apply_search_settings(self.faiss, self.search_settings)
                self.changes_since_save += count
            return self.uses_faiss

    def auto_choice(self, policy: AutoPolicy = AutoPolicy()) -> IndexChoice | None:
        """For ``--faiss auto``: the index the current item count calls for, if it is not the one in use."""
        if self.manifest.faiss_request != "auto":
            return None
        choice = choose_index(len(self), self.dim, policy)
        in_use = choice.factory == self.manifest.faiss_factory == self.faiss.factory and self.uses_faiss
        return None if in_use else choice

    def tune(self, search: SearchSettings, *, persist: bool = False) -> None:
        """Search with other settings (nprobe, efSearch, candidates) from now on. Only recall and
        speed change: candidates are re-scored exactly. Without ``persist`` they hold for this
        process only (a save keeps the recorded ones); with it they are recorded in the manifest
        (written atomically, FAISS file untouched) for the next open."""
        if persist:
            self._require_writable()
        with self._rw.write():
            self._apply_search_settings(self.faiss, search)
            if persist:
                self._tuned = None
                self.manifest = self.manifest.with_update(search=search)
                self.manifest.write(self.directory / MANIFEST)
            else:
                self._tuned = search

    @property
    def search_settings(self) -> SearchSettings:
        """The settings searches use: :meth:`tune`'s for this process, else the recorded ones."""
        return self._tuned or self.manifest.search

    def replace_faiss(self, index: FaissIndex, factory: str, request: str, search: SearchSettings) -> None:
        """Install a new FAISS index (built by :meth:`build_faiss`) and save it as the next generation."""
        self._require_writable()
        with self._rw.write():
            extra, missing = _id_differences(index.ids(), self.vector_files.ids())
            if len(extra):
                index.remove(extra)
            if len(missing) and index.is_trained:
                fill(index, self.vector_files, missing)
            self.faiss = index
            self.manifest = self.manifest.with_update(faiss_factory=factory, faiss_request=request, search=search)
            self._apply_search_settings(index, self.search_settings)
            self.changes_since_save += 1
        self.save()

    def compact(self) -> int:
        """Rewrite the shard files without dead rows; returns the rows reclaimed. Crash-safe:
        the new files are unreferenced until one transaction names them, then the old ones go."""
        self._require_writable()
        with self._rw.write():
            dead = self.vector_files.dead_rows
            if not dead:
                return 0
            _, ids, shards, rows = self.vector_files.write_compacted()
            self.db.relocate(ids, shards, rows)
            self.vector_files.adopt_compacted(ids, shards, rows)
            return dead

    def save(self) -> None:
        """Write the FAISS index under a new name, then a manifest naming it; remove the old file.

        Shard files more than half dead are compacted first.
        """
        self._require_writable()
        files = self.vector_files
        if files.dead_rows > max(4096, files.stored_rows // 2):
            self.compact()
        with self._rw.read():
            data = self.faiss.serialize()
            count = len(self.vector_files)
            pending = self.changes_since_save
        name = self._next_faiss_name()
        atomic_write_bytes(self.directory / name, data)
        self._name_faiss_file(name, FileRecord(name, sha256_bytes(data), len(data)), count=count)
        self.changes_since_save -= pending

    def _next_faiss_name(self) -> str:
        old = self.manifest.faiss_file
        generation = int(_FAISS_NAME.match(old.name).group(1)) + 1 if old else 1
        return f"index-{generation:06d}.faiss"

    def _name_faiss_file(self, name: str, record: FileRecord, **changes) -> None:
        manifest = self.manifest.with_update(faiss_file=record, **changes)
        manifest.write(self.directory / MANIFEST)
        self.manifest = manifest
        for path in self.directory.iterdir():  # old generations and leftovers of interrupted saves
            if (_FAISS_NAME.match(path.name) and path.name != name) or path.name.startswith(".index-"):
                path.unlink(missing_ok=True)

    # -- a generation built by `latentspace reindex` beside this writer ------------------------

    def _poll_proposal(self) -> None:
        """Adopt ``reindex.json`` if another process left one (checked at most twice a second)."""
        if self._lock_fd is None or time.monotonic() < self._next_poll:
            return
        self._next_poll = time.monotonic() + 0.5
        path = self.directory / PROPOSAL
        if not path.exists() or not self._adopting.acquire(blocking=False):
            return
        try:
            self._adopt(path)
        finally:
            self._adopting.release()

    def _adopt(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            record = FileRecord(**raw["faiss_file"])
            proposed = self.directory / record.name
            if not _PROPOSED_NAME.match(record.name):
                raise ValueError(f"unexpected file name {record.name!r}")
            index = self._read_faiss_file(proposed, record, mmap=False)  # outside the lock: searches go on
            search = SearchSettings(**raw["search"])
            self._apply_search_settings(index, self._tuned or search)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _log.warning("ignoring %s: %s", path, exc)
            path.unlink(missing_ok=True)
            return
        with self._rw.write():
            extra, missing = _id_differences(index.ids(), self.vector_files.ids())
            if len(extra):
                index.remove(extra)
            if len(missing):
                fill(index, self.vector_files, missing)
            name = self._next_faiss_name()
            os.replace(proposed, self.directory / name)
            fsync_directory(self.directory)
            self.faiss = index
            self._name_faiss_file(name, FileRecord(name, record.sha256, record.size), count=len(self.vector_files),
                                  faiss_factory=raw["factory"],
                                  faiss_request=raw["request"], search=search)
            self.changes_since_save += len(extra) + len(missing)
            path.unlink(missing_ok=True)
        _log.warning("%s now searches the new generation %s (%s)", self.directory, name, raw["factory"])

    def close(self, *, save: bool = True) -> None:
        """Save pending FAISS changes (unless ``save`` is false), then release the directory.

        The database and the lock are released even when the save fails (a full disk, say): the
        error is raised, and every committed item is still in SQLite for the next open.
        """
        try:
            if self._lock_fd is not None and save:
                self._poll_proposal()
                if self.changes_since_save or self.manifest.faiss_file is None:
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

    def ids(self) -> np.ndarray:
        """Every live id, ascending."""
        with self._rw.read():
            return self.vector_files.ids()

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """Raw stored vectors ``(len(ids), d)`` float32, read from the shard files; KeyError for an unknown id."""
        with self._rw.read():
            return self.vector_files.get(np.asarray(ids, dtype=np.int64))

    def iter_vector_chunks(self, rows: int = 16384, *, allowed_ids: np.ndarray | None = None,
                           release: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, vectors)`` of every item (or of those in ``allowed_ids``) in id order, ``rows`` at
        a time: memory for one chunk.

        The ids are fixed when iteration starts; items removed meanwhile are skipped. ``release``
        (for one pass over everything) unmaps each chunk's file pages after use.
        """
        ids = self.ids()
        if allowed_ids is not None:
            ids = ids[np.isin(ids, np.asarray(allowed_ids, dtype=np.int64))]
        for start_ids in np.array_split(ids, max(1, -(-len(ids) // max(rows, 1)))):
            with self._rw.read():
                chunk = start_ids[self.vector_files.live_mask(start_ids)]
                vectors = self.vector_files.get(chunk) if len(chunk) else None
            if vectors is not None:
                yield chunk, vectors
                if release:
                    self.release_vectors(chunk)

    def release_vectors(self, ids: np.ndarray) -> None:
        """Unmap the file pages of these rows from this process (they stay in the page cache)."""
        with self._rw.read():
            live = np.asarray(ids, dtype=np.int64)
            self.vector_files.release(live[self.vector_files.live_mask(live)])

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of ``(ids, vectors)`` of every item, sorted by id: O(n·d) memory, so only for
        small indexes; prefer :meth:`iter_vector_chunks` or :meth:`vectors`."""
        with self._rw.read():
            ids = self.vector_files.ids()
            return ids, self.vector_files.get(ids)

    def range_search(self, query: np.ndarray, radius: float, *,
                     allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """FAISS's ``(scores, ids)`` within ``radius`` of one raw query ``(d,)`` (see
        :meth:`FaissIndex.range_search`), or None when FAISS cannot answer: not trained or
        behind the stored vectors yet, or an index type without range search."""
        query = np.asarray(query, dtype=np.float32)
        if query.shape != (self.dim,):
            raise ValueError(f"query must have shape ({self.dim},), got {query.shape}")
        with self._rw.read():
            if not self.uses_faiss:
                return None
            try:
                return self.faiss.range_search(query, radius, allowed_ids=allowed_ids)
            except FaissError:
                return None

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
        a row with fewer than k results is padded with id ``-1``. An approximate index gathers
        candidates that are re-scored exactly, so scores are always true ones.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (n, {self.dim}), got {queries.shape}")
        self._poll_proposal()
        extra = max((len(e) for e in exclude_ids), default=0) if exclude_ids else 0
        fetch = k + extra
        with self._rw.read():
            if self.reranks and fetch:
                count = min(max(self.search_settings.candidates, 10 * fetch), len(self.vector_files))
                _, candidates = self.faiss.search(queries, count, allowed_ids=allowed_ids)
                scores, ids = rerank(queries, candidates, self.vector_files.get, fetch, self.metric)
            elif self.uses_faiss and fetch:
                scores, ids = self.faiss.search(queries, fetch, allowed_ids=allowed_ids)
            else:
                scores, ids = exact_search_chunks(
                    queries, self.vector_files.iter_chunks(65536, self._allowed(allowed_ids)), fetch, self.metric)
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

    def _allowed(self, allowed_ids: np.ndarray | None) -> np.ndarray | None:
        if allowed_ids is None:
            return None
        live = self.vector_files.ids()
        return live[np.isin(live, np.asarray(allowed_ids, dtype=np.int64))]
