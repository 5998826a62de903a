"""The items database: one SQLite row per image with its metadata and where its vector lies.

SQLite is the index directory's durable record of which items are live. Every change is one
transaction in WAL mode with ``synchronous=FULL``, so a crash, a kill or a full disk leaves each
committed change whole and each uncommitted one absent. An item's vector is the row ``row`` of
the shard file ``shard`` (see vector_files.py), written before the transaction naming it commits.
The FAISS file is a cache rebuilt from here when it lags.

Indexes made before vectors moved to their own files kept them in a ``vector`` BLOB column;
:meth:`ItemDB.finish_migration` rewrites such a table once their vectors are in shard files.
Indexes made before directions kept their probe's accuracy get the nullable ``accuracy`` column
when opened (their directions read as having none).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Direction", "FileState", "Item", "ItemDB", "NewItem", "disk_full"]

_ITEM_COLUMNS = "id, path, label, sha256, width, height, file_size, mtime_ns, stored_file, added_at"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    path        TEXT    NOT NULL,
    label       TEXT    NOT NULL DEFAULT '',
    sha256      TEXT    NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    file_size   INTEGER,
    mtime_ns    INTEGER,
    stored_file TEXT,
    added_at    REAL    NOT NULL,
    shard       INTEGER NOT NULL,
    row         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_path ON items(path);
CREATE INDEX IF NOT EXISTS items_label ON items(label);
CREATE TABLE IF NOT EXISTS directions (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  REAL NOT NULL,
    vector      BLOB NOT NULL,
    accuracy    REAL
);
"""
_DIRECTION_COLUMNS = "name, kind, description, vector, created_at, accuracy"


@dataclass(frozen=True)
class Item:
    id: int
    path: str
    label: str
    sha256: str
    width: int
    height: int
    stored_file: str | None = None
    """For images added through the server: their copy, relative to the index directory."""


@dataclass(frozen=True)
class NewItem:
    path: str
    label: str
    sha256: str
    width: int
    height: int
    vector: np.ndarray
    file_size: int | None = None
    mtime_ns: int | None = None
    stored_file: str | None = None


@dataclass(frozen=True)
class FileState:
    """What the indexer remembers of a corpus file to notice when it changes."""

    id: int
    sha256: str
    file_size: int | None
    mtime_ns: int | None


@dataclass(frozen=True)
class Direction:
    name: str
    kind: str
    description: str
    vector: np.ndarray
    created_at: float
    accuracy: float | None = None
    """A learned direction's held-out probe accuracy, 0..1; None for the other kinds."""


def disk_full(path: Path, cause: BaseException) -> OSError:
    """SQLite's "database or disk is full" as the OSError (ENOSPC) a file write would raise."""
    return OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (SQLite: {cause})", str(path))


class ItemDB:
    """Thread-safe access to ``items.sqlite``; direction vectors are float32 BLOBs of ``dim`` values."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._add_accuracy_column()
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(items)")}
        self.legacy = "vector" in columns
        """True for a table of the first format, whose vectors are BLOBs in the rows."""

    def _direction_columns(self) -> set[str]:
        return {row[1] for row in self._conn.execute("PRAGMA table_info(directions)")}

    def _add_accuracy_column(self) -> None:
        """Give a directions table of an older index its nullable ``accuracy`` column (its rows kept)."""
        if "accuracy" in self._direction_columns():
            return
        try:
            self._conn.execute("ALTER TABLE directions ADD COLUMN accuracy REAL")
        except sqlite3.OperationalError:
            if "accuracy" not in self._direction_columns():  # not added meanwhile by another process
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _blob(self, vector: np.ndarray) -> bytes:
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        if vector.shape != (self.dim,):
            raise ValueError(f"expected a vector of {self.dim} values, got shape {vector.shape}")
        return vector.tobytes()

    def _vector(self, blob: bytes) -> np.ndarray:
        return np.frombuffer(blob, dtype=np.float32).copy()

    def apply(
        self, *, insert: Sequence[NewItem] = (), delete: Iterable[int] = (),
        locations: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[list[int], list[int]]:
        """Delete then insert in one transaction; returns ``(new ids, ids actually deleted)``.

        ``locations`` are the ``(shards, rows)`` where the inserted items' vectors were written.
        """
        if self.legacy:
            raise RuntimeError(f"{self.path} is in the first index format; open the index for writing to migrate it")
        shards, rows_at = locations if locations is not None else ((), ())
        if len(shards) != len(insert):
            raise ValueError("every inserted item needs the location of its vector")
        rows = [
            (i.path, i.label, i.sha256, i.width, i.height, i.file_size, i.mtime_ns, i.stored_file, time.time(), int(sh), int(r))
            for i, sh, r in zip(insert, shards, rows_at)
        ]
        delete = [int(i) for i in delete]
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                deleted = []
                for item_id in delete:
                    if cur.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount:
                        deleted.append(item_id)
                new_ids = []
                for row in rows:
                    cur.execute(
                        "INSERT INTO items (path, label, sha256, width, height, file_size, mtime_ns, stored_file, added_at, shard, row)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    new_ids.append(int(cur.lastrowid))
                cur.execute("COMMIT")
            except BaseException as exc:
                # SQLite rolls back by itself after some errors (a full disk); a second ROLLBACK
                # would raise "no transaction is active" and hide the real error.
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise disk_full(self.path, exc) from exc
                raise
        return new_ids, deleted

    def touch(self, item_id: int, *, file_size: int, mtime_ns: int) -> None:
        """Record a new modification time for a file whose content did not change."""
        with self._lock:
            self._conn.execute("UPDATE items SET file_size = ?, mtime_ns = ? WHERE id = ?", (file_size, mtime_ns, item_id))

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def items(self, ids: Sequence[int]) -> dict[int, Item]:
        """The items among ``ids`` that exist, by id."""
        out: dict[int, Item] = {}
        ids = [int(i) for i in ids]
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(
                    f"SELECT id, path, label, sha256, width, height, stored_file FROM items WHERE id IN ({marks})", chunk
                ):
                    out[row[0]] = Item(*row)
        return out

    def iter_items(self, batch: int = 10000) -> Iterator[Item]:
        """Every item in id order, read ``batch`` rows at a time (the lock is not held between)."""
        last = -1
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT id, path, label, sha256, width, height, stored_file FROM items WHERE id > ? ORDER BY id LIMIT ?",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield Item(*row)
            last = rows[-1][0]

    def text_lengths(self) -> tuple[int, int]:
        """The longest path and label, in characters (for fixed-width string arrays)."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(LENGTH(path)), MAX(LENGTH(label)) FROM items").fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def locations(self, batch: int = 100000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, shards, rows)`` of every item, ascending by id, read in batches."""
        parts = []
        with self._lock:
            cursor = self._conn.execute("SELECT id, shard, row FROM items ORDER BY id")
            while rows := cursor.fetchmany(batch):
                parts.append(np.asarray(rows, dtype=np.int64).reshape(-1, 3))
        table = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
        return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy()

    def relocate(self, ids: np.ndarray, shards: np.ndarray, rows: np.ndarray) -> None:
        """Record new vector locations of items (after a compaction) in one transaction."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany("UPDATE items SET shard = ?, row = ? WHERE id = ?",
                                zip(np.asarray(shards).tolist(), np.asarray(rows).tolist(), np.asarray(ids).tolist()))
                cur.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise disk_full(self.path, exc) from exc
                raise

    # The first format: vectors as BLOBs in the rows.

    def iter_legacy_vectors(self, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All ``(ids, vectors)`` of a first-format table in id order, ``batch`` rows at a time."""
        last = -1
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT id, vector FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
                ).fetchall()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
            yield ids, vectors.copy()
            last = int(ids[-1])

    def finish_migration(self, ids: np.ndarray, shards: np.ndarray, rows: np.ndarray) -> None:
        """Replace a first-format table by one naming vector locations, in one transaction.

        Ids and the AUTOINCREMENT counter are kept, so no id is ever given out twice.
        """
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                seq = cur.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()
                cur.execute("CREATE TEMP TABLE locations (id INTEGER PRIMARY KEY, shard INTEGER, row INTEGER)")
                cur.executemany("INSERT INTO locations VALUES (?, ?, ?)",
                                zip(np.asarray(ids).tolist(), np.asarray(shards).tolist(), np.asarray(rows).tolist()))
                cur.execute("ALTER TABLE items RENAME TO items_first_format")
                cur.execute("DROP INDEX IF EXISTS items_path")
                cur.execute("DROP INDEX IF EXISTS items_label")
                for statement in _SCHEMA.split("CREATE TABLE IF NOT EXISTS directions")[0].split(";"):
                    if statement.strip():
                        cur.execute(statement)
                cur.execute(
                    f"INSERT INTO items ({_ITEM_COLUMNS}, shard, row) SELECT "
                    + ", ".join(f"i.{c.strip()}" for c in _ITEM_COLUMNS.split(","))
                    + ", l.shard, l.row FROM items_first_format i JOIN locations l ON l.id = i.id"
                )
                cur.execute("DROP TABLE items_first_format")
                cur.execute("DROP TABLE locations")
                if seq is not None:
                    cur.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'items'", (seq[0],))
                cur.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            self.legacy = False
            self._conn.execute("VACUUM")  # give back the space the BLOBs took

    def file_states(self) -> dict[str, FileState]:
        with self._lock:
            rows = self._conn.execute("SELECT path, id, sha256, file_size, mtime_ns FROM items WHERE stored_file IS NULL")
            return {path: FileState(i, sha, size, mtime) for path, i, sha, size, mtime in rows}

    def ids_with_labels(self, labels: Sequence[str]) -> np.ndarray:
        marks = ",".join("?" * len(labels))
        with self._lock:
            rows = self._conn.execute(f"SELECT id FROM items WHERE label IN ({marks}) ORDER BY id", list(labels))
            return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def label_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._conn.execute("SELECT label, COUNT(*) FROM items GROUP BY label ORDER BY label"))

    # Named directions live beside the items so they are saved and backed up with them.

    def put_direction(self, name: str, kind: str, description: str, vector: np.ndarray,
                      accuracy: float | None = None) -> Direction:
        created = time.time()
        accuracy = None if accuracy is None else float(accuracy)
        with self._lock:
            self._conn.execute(
                "INSERT INTO directions (name, kind, description, created_at, vector, accuracy) VALUES (?, ?, ?, ?, ?, ?)",
                (name, kind, description, created, self._blob(vector), accuracy),
            )
        return Direction(name, kind, description, np.asarray(vector, dtype=np.float32).copy(), created, accuracy)

    def get_direction(self, name: str) -> Direction | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_DIRECTION_COLUMNS} FROM directions WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._direction(row)

    def list_directions(self) -> list[Direction]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_DIRECTION_COLUMNS} FROM directions ORDER BY name").fetchall()
        return [self._direction(r) for r in rows]

    def _direction(self, row: tuple) -> Direction:
        return Direction(row[0], row[1], row[2], self._vector(row[3]), row[4], row[5])

    def delete_direction(self, name: str) -> bool:
        with self._lock:
            return self._conn.execute("DELETE FROM directions WHERE name = ?", (name,)).rowcount > 0
