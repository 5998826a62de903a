"""The stored vectors on disk: append-only shard files, memory-mapped, addressed by item id.

``DIR/vectors/shard-NNNNNN.bin`` holds raw rows of ``d`` values (float32 or float16, as the
manifest says), one after another. SQLite names each item's ``(shard, row)``; a row no live
item names is dead (a tombstone, or an append whose transaction never committed) and is
reclaimed by :meth:`VectorFiles.compact`. Rows are written and fsynced *before* the SQLite
transaction that names them commits, so a committed item always has its vector on disk.

Reading maps the shards instead of loading them: memory holds only the sorted ids and their
packed locations (16 bytes per item); the page cache holds the rows that are read.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from latentspace.indexer.atomic import fsync_directory

__all__ = ["FLOAT16_MAX", "VECTOR_DTYPES", "VectorFiles", "check_fits"]

VECTOR_DTYPES = ("float32", "float16")
FLOAT16_MAX = float(np.finfo(np.float16).max)
SHARD_BYTES = 1 << 30
_SHARD = re.compile(r"^shard-(\d{6,})\.bin$")
_WIDEN_BLOCK = 32768
"""Values per float16 → float32 cast: torch's grain size, so one cast never wakes a second thread."""


def _widen(rows: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = rows`` as float32. float16 is cast by torch, which uses the CPU's F16C: a
    thousand 4096-d rows (one re-ranking) take about 2 ms that way and 20-40 with NumPy's
    ``astype``, which does not. In small blocks, on the calling thread: a server runs many
    re-rankings at once, and on a busy machine a cast split over two threads was 4x slower."""
    if rows.dtype != np.float16:
        out[...] = rows
        return
    import torch

    source, target = torch.from_numpy(np.ascontiguousarray(rows)).reshape(-1), torch.from_numpy(out).reshape(-1)
    for start in range(0, source.numel(), _WIDEN_BLOCK):
        target[start : start + _WIDEN_BLOCK].copy_(source[start : start + _WIDEN_BLOCK])


def check_fits(vectors: np.ndarray, dtype: str) -> None:
    """float16 stores only values up to 65504; refuse rather than store infinities."""
    if dtype == "float16" and len(vectors) and float(np.abs(vectors).max()) > FLOAT16_MAX:
        raise ValueError(
            f"a vector has a value of magnitude {float(np.abs(vectors).max()):.6g}, beyond float16's "
            f"{FLOAT16_MAX:.0f}; this index stores float16 (create it with float32 vectors instead)"
        )


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


class VectorFiles:
    """Shard files of one index directory plus the id → location map of its live items.

    Not thread-safe: the store takes its read/write lock around every call.
    """

    def __init__(self, folder: Path, dim: int, dtype: str, *, shard_bytes: int = SHARD_BYTES) -> None:
        if dtype not in VECTOR_DTYPES:
            raise ValueError(f"vector dtype must be one of {VECTOR_DTYPES}, got {dtype!r}")
        self.folder = folder
        self.dim = dim
        self.dtype = np.dtype(dtype)
        self.row_bytes = dim * self.dtype.itemsize
        self.rows_per_shard = max(1, shard_bytes // self.row_bytes)
        self._ids = np.zeros(0, dtype=np.int64)
        self._locs = np.zeros(0, dtype=np.int64)  # shard << 32 | row; -1: removed
        self._n = 0
        self._live = 0
        self._maps: dict[int, np.ndarray] = {}
        self._buffers: dict[int, mmap.mmap] = {}
        self._rows: dict[int, int] = {}  # rows in each shard file (live or dead)

    # -- opening -------------------------------------------------------------------------------

    def shard_path(self, shard: int) -> Path:
        return self.folder / f"shard-{shard:06d}.bin"

    def shard_numbers(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := _SHARD.match(p.name)))

    def load(self, ids: np.ndarray, shards: np.ndarray, rows: np.ndarray, *, writable: bool) -> None:
        """Take the live locations from SQLite (sorted by id) and map the shards they name.

        A writer also deletes shard files no live item names (left by an interrupted
        compaction). Rows past the last referenced one (an append whose transaction never
        committed) stay as dead rows, and a half-written row is overwritten by the next append:
        files are never cut shorter here, because another process may have them mapped.
        """
        self._ids = np.asarray(ids, dtype=np.int64).copy()
        self._locs = (np.asarray(shards, dtype=np.int64) << 32) | np.asarray(rows, dtype=np.int64)
        self._n = self._live = len(self._ids)
        used: dict[int, int] = {}
        if len(shards):
            order = np.asarray(shards, dtype=np.int64)
            for shard in np.unique(order).tolist():
                used[shard] = int(np.asarray(rows)[order == shard].max()) + 1
        if writable:
            self.folder.mkdir(exist_ok=True)
            for shard in self.shard_numbers():
                if shard not in used:
                    self.shard_path(shard).unlink()
            fsync_directory(self.folder)
        for shard, count in used.items():
            path = self.shard_path(shard)
            size = path.stat().st_size if path.exists() else 0
            if size < count * self.row_bytes:
                raise FileNotFoundError(
                    f"{path} holds {size // self.row_bytes} vectors, but items.sqlite names row {count - 1} of it: "
                    f"the vector file is missing or truncated"
                )
            self._rows[shard] = size // self.row_bytes
            self._map(shard)

    def _map(self, shard: int) -> None:
        rows = self._rows.get(shard, 0)
        if rows == 0:
            self._maps.pop(shard, None)
            self._buffers.pop(shard, None)
            return
        with open(self.shard_path(shard), "rb") as handle:
            buffer = mmap.mmap(handle.fileno(), rows * self.row_bytes, access=mmap.ACCESS_READ)
        self._maps[shard] = np.frombuffer(buffer, dtype=self.dtype).reshape(rows, self.dim)
        self._buffers[shard] = buffer

    # -- facts ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._live

    @property
    def stored_rows(self) -> int:
        """Rows in the files, live and dead."""
        return sum(self._rows.values())

    @property
    def dead_rows(self) -> int:
        return self.stored_rows - self._live

    def disk_bytes(self) -> int:
        return self.stored_rows * self.row_bytes

    def ids(self) -> np.ndarray:
        """Live ids, ascending (a copy)."""
        ids, locs = self._ids[: self._n], self._locs[: self._n]
        return ids[locs >= 0].copy()

    def live_mask(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` are live."""
        ids = np.asarray(ids, dtype=np.int64)
        if not self._n:
            return np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self._ids[: self._n], ids).clip(max=self._n - 1)
        return (self._ids[pos] == ids) & (self._locs[pos] >= 0)

    def __contains__(self, item_id: int) -> bool:
        pos = int(np.searchsorted(self._ids[: self._n], int(item_id)))
        return pos < self._n and self._ids[pos] == int(item_id) and self._locs[pos] >= 0

    # -- writing -------------------------------------------------------------------------------

    def _append_shard(self) -> int:
        numbers = self.shard_numbers()
        last = numbers[-1] if numbers else 0
        if numbers and self._rows.get(last, 0) < self.rows_per_shard:
            return last
        return last + 1

    def append(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Write rows at the end of the shard files and fsync them; returns ``(shards, rows)``.

        The rows are dead until :meth:`commit` records the ids SQLite gave them. On failure (a
        full disk) the files are cut back to what they held and the error is raised.
        """
        data = np.ascontiguousarray(vectors, dtype=self.dtype)
        if data.ndim != 2 or data.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {data.shape}")
        self.folder.mkdir(exist_ok=True)
        shards, rows = [], []
        done = 0
        while done < len(data):
            shard = self._append_shard()
            start = self._rows.get(shard, 0)
            take = min(len(data) - done, self.rows_per_shard - start)
            path = self.shard_path(shard)
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                try:
                    os.lseek(fd, start * self.row_bytes, os.SEEK_SET)
                    _write_all(fd, memoryview(data[done : done + take]).cast("B"))
                    os.fsync(fd)
                except BaseException as exc:
                    os.ftruncate(fd, start * self.row_bytes)
                    if isinstance(exc, OSError) and exc.filename is None:
                        raise OSError(exc.errno, exc.strerror, str(path)) from exc
                    raise
            finally:
                os.close(fd)
            if created:
                fsync_directory(self.folder)
            self._rows[shard] = start + take
            self._map(shard)
            shards.append(np.full(take, shard, dtype=np.int64))
            rows.append(np.arange(start, start + take, dtype=np.int64))
            done += take
        if not shards:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(shards), np.concatenate(rows)

    def commit(self, ids: np.ndarray, shards: np.ndarray, rows: np.ndarray) -> None:
        """Record committed rows; SQLite's ids only grow, so they go at the end."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        if self._n and ids.min() <= self._ids[self._n - 1]:
            raise ValueError("new item ids must be larger than every stored id")
        needed = self._n + len(ids)
        if needed > len(self._ids):
            capacity = max(needed, 2 * len(self._ids), 1024)
            self._ids = np.resize(self._ids, capacity)
            self._locs = np.resize(self._locs, capacity)
        self._ids[self._n : needed] = ids
        self._locs[self._n : needed] = (np.asarray(shards, np.int64) << 32) | np.asarray(rows, np.int64)
        self._n = needed
        self._live += len(ids)

    def remove(self, ids: np.ndarray) -> int:
        """Tombstone the rows of ``ids`` (their space is reclaimed by :meth:`compact`)."""
        removed = 0
        for item_id in np.asarray(ids, dtype=np.int64).tolist():
            pos = int(np.searchsorted(self._ids[: self._n], item_id))
            if pos < self._n and self._ids[pos] == item_id and self._locs[pos] >= 0:
                self._locs[pos] = -1
                removed += 1
        self._live -= removed
        if self._n > 1024 and self._live < self._n // 2:  # drop tombstoned entries from memory
            keep = self._locs[: self._n] >= 0
            self._ids, self._locs = self._ids[: self._n][keep].copy(), self._locs[: self._n][keep].copy()
            self._n = len(self._ids)
        return removed

    # -- reading -------------------------------------------------------------------------------

    def _locations(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        n = self._n
        if n == 0:
            if len(ids):
                raise KeyError(int(ids[0]))
            return np.zeros(0, np.int64)
        pos = np.searchsorted(self._ids[:n], ids).clip(max=n - 1)
        locs = np.where(self._ids[pos] == ids, self._locs[pos], -1)
        if (locs < 0).any():
            raise KeyError(int(ids[np.argmax(locs < 0)]))
        return locs

    def get(self, ids: np.ndarray) -> np.ndarray:
        """float32 copies ``(len(ids), d)`` in the order asked; KeyError names an unknown id."""
        locs = self._locations(ids)
        out = np.empty((len(locs), self.dim), dtype=np.float32)
        shards = locs >> 32
        if len(shards) and (shards[1:] >= shards[:-1]).all():  # ids in storage order: one slice per shard
            bounds = np.flatnonzero(np.diff(shards)) + 1
            for start, end in zip([0, *bounds.tolist()], [*bounds.tolist(), len(shards)]):
                rows = np.take(self._maps[int(shards[start])], locs[start:end] & 0xFFFFFFFF, axis=0)
                _widen(rows, out[start:end])
            return out
        for shard in np.unique(shards).tolist():
            where = np.flatnonzero(shards == shard)
            block = np.empty((len(where), self.dim), dtype=np.float32)
            _widen(np.take(self._maps[shard], locs[where] & 0xFFFFFFFF, axis=0), block)
            out[where] = block
        return out

    def iter_chunks(self, rows: int, ids: np.ndarray | None = None, *,
                    release: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(ids, float32 vectors)`` of live items (or of ``ids``) in id order, ``rows`` at a time.

        ``release`` is for one pass over many rows (building an index, exporting): each chunk's
        pages are unmapped from this process once the next is asked for (see :meth:`release`).
        """
        ids = self.ids() if ids is None else np.sort(np.asarray(ids, dtype=np.int64))
        for start in range(0, len(ids), max(rows, 1)):
            chunk = ids[start : start + rows]
            yield chunk, self.get(chunk)
            if release:
                self.release(chunk)

    def release(self, ids: np.ndarray) -> None:
        """Drop the pages holding these rows from this process's memory map (``MADV_DONTNEED``).

        The data stay in the page cache and on disk; a later read maps them again. Without this, a
        pass over 1M float16 rows of 4096 leaves all 8 GB of them resident in the process (counted
        in its RSS, and pinned while mapped) long after each chunk was used.
        """
        if not len(ids):
            return
        locs = self._locations(np.asarray(ids, dtype=np.int64))
        shards = locs >> 32
        page = mmap.PAGESIZE
        for shard in np.unique(shards).tolist():
            buffer = self._buffers.get(shard)
            if buffer is None:
                continue
            rows = locs[shards == shard] & 0xFFFFFFFF
            start = int(rows.min()) * self.row_bytes // page * page
            end = min(len(buffer), -(-(int(rows.max()) + 1) * self.row_bytes // page) * page)
            buffer.madvise(mmap.MADV_DONTNEED, start, end - start)

    # -- compaction ----------------------------------------------------------------------------

    def write_compacted(self, chunk_rows: int = 16384) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Copy live rows, in id order, into new shard files (fsynced); returns their locations.

        Nothing changes for readers until SQLite records the new locations and
        :meth:`adopt_compacted` switches to them; until then the new files are unreferenced,
        and a writer that opens the directory deletes them.
        """
        first = (self.shard_numbers() or [0])[-1] + 1
        ids = self.ids()
        shards = (first + np.arange(len(ids)) // self.rows_per_shard).astype(np.int64)
        rows = (np.arange(len(ids)) % self.rows_per_shard).astype(np.int64)
        written: list[int] = []
        try:
            for shard in np.unique(shards).tolist():
                written.append(shard)
                with open(self.shard_path(shard), "wb") as handle:
                    members = ids[shards == shard]
                    for start in range(0, len(members), chunk_rows):
                        handle.write(np.ascontiguousarray(self.get(members[start : start + chunk_rows]), dtype=self.dtype).tobytes())
                    handle.flush()
                    os.fsync(handle.fileno())
            fsync_directory(self.folder)
        except BaseException:
            for shard in written:
                self.shard_path(shard).unlink(missing_ok=True)
            raise
        return written, ids, shards, rows

    def adopt_compacted(self, ids: np.ndarray, shards: np.ndarray, rows: np.ndarray) -> None:
        """Switch to the compacted files (SQLite names them now) and delete the old ones."""
        old = [s for s in self.shard_numbers() if s not in set(np.unique(shards).tolist())]
        self._maps.clear()
        self._buffers.clear()
        self._rows.clear()
        self._ids = np.asarray(ids, np.int64).copy()
        self._locs = (np.asarray(shards, np.int64) << 32) | np.asarray(rows, np.int64)
        self._n = self._live = len(self._ids)
        for shard in np.unique(shards).tolist():
            self._rows[shard] = int((shards == shard).sum())
            self._map(shard)
        for shard in old:
            try:
                self.shard_path(shard).unlink()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
        fsync_directory(self.folder)
