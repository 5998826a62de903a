"""One image of a source, addressed by a stable key, and reading its bytes back by that key.

An item's key is what the index stores as its path: a file's absolute path, ``SHARD.tar#MEMBER``
for an image inside a WebDataset tar shard (``MEMBER`` is the image file's name in the tar, e.g.
``sample0001.jpg``), or ``FILE.parquet#ROW.COLUMN`` for image bytes in a Parquet file
(``photos.parquet#12.jpg``: row 12, column ``jpg``). The key is stable across runs, so reruns
are incremental, and :func:`read_key` reads the bytes back so thumbnails and sheets can show them.
"""

from __future__ import annotations

import os
import re
import tarfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from latentspace.indexer.corpus import CorpusError

__all__ = ["SourceError", "SourceItem", "read_item", "read_key", "split_key"]


class SourceError(CorpusError):
    """A source names nothing readable, or an item's key points nowhere."""


@dataclass(frozen=True)
class SourceItem:
    """Where one image is and how to tell whether it changed; plain values, so it pickles cheaply."""

    key: str
    """Stored as the item's path (see the module docstring)."""
    label: str
    container: str
    """The file that holds the bytes: the image itself, a tar shard or a Parquet file."""
    kind: str = "file"
    """"file", "tar" or "parquet"."""
    member: str = ""
    """The tar member's name, or the Parquet column."""
    offset: int = 0
    """The member's data offset in the tar, or the Parquet row number."""
    length: int = 0
    """The tar member's size in bytes."""
    stamp: tuple[int, int] | None = None
    """(size, mtime_ns) of the container when it was scanned; None: stat the file when planning."""


_KEY = re.compile(r"^(?P<container>.*\.(?:tar|parquet))#(?P<member>.+)$", re.IGNORECASE)
_PARQUET_MEMBER = re.compile(r"^(?P<row>\d+)\.(?P<column>.+)$")


def split_key(key: str) -> SourceItem:
    """The item a key names (without label or stamp); a plain path is a file."""
    match = _KEY.match(key)
    if match is None or os.path.isfile(key):
        return SourceItem(key, "", key)
    container, member = match["container"], match["member"]
    if container.lower().endswith(".parquet"):
        cell = _PARQUET_MEMBER.match(member)
        if cell is None:
            raise SourceError(f"{key}: a Parquet item's key ends in #ROW.COLUMN")
        return SourceItem(key, "", container, "parquet", cell["column"], int(cell["row"]))
    return SourceItem(key, "", container, "tar", member, -1)


def read_item(item: SourceItem) -> bytes:
    """The item's image bytes; raises OSError (e.g. FileNotFoundError) when they cannot be read."""
    if item.kind == "file":
        return Path(item.container).read_bytes()
    if item.kind == "tar":
        if item.offset < 0:  # from a key alone: find the member by name
            with tarfile.open(item.container, "r:") as tar:
                try:
                    found = tar.getmember(item.member)
                except KeyError:
                    raise FileNotFoundError(f"{item.member} is not in {item.container}") from None
                handle = tar.extractfile(found)
                if handle is None:
                    raise FileNotFoundError(f"{item.member} in {item.container} is not a file")
                return handle.read()
        with open(item.container, "rb") as handle:
            handle.seek(item.offset)
            data = handle.read(item.length)
        if len(data) != item.length:
            raise OSError(f"{item.container} ends inside member {item.member}")
        return data
    if item.kind == "parquet":
        return _ROW_GROUPS.cell(item.container, item.offset, item.member)
    raise SourceError(f"unknown item kind {item.kind!r}")


def read_key(key: str) -> bytes:
    """The bytes of the image stored under ``key`` (a path, ``SHARD.tar#MEMBER`` or ``FILE.parquet#ROW.COLUMN``)."""
    return read_item(split_key(key))


class _RowGroupCache:
    """The last few Parquet row groups read, per process: consecutive rows share one read."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._groups: OrderedDict[tuple, tuple[int, list]] = OrderedDict()
        self._lock = threading.Lock()

    def cell(self, path: str, row: int, column: str) -> bytes:
        import pyarrow.parquet as pq

        stat = os.stat(path)  # a rewritten file is read afresh
        try:
            file = pq.ParquetFile(path)
        except FileNotFoundError:
            raise
        except Exception as exc:  # pyarrow raises ArrowInvalid for a file that is not Parquet
            raise OSError(f"{path} is not a readable Parquet file ({exc})") from None
        with file:
            meta = file.metadata
            if not 0 <= row < meta.num_rows:
                raise FileNotFoundError(f"{path} has {meta.num_rows} rows, not row {row}")
            start, group = 0, 0
            while start + meta.row_group(group).num_rows <= row:
                start += meta.row_group(group).num_rows
                group += 1
            cache_key = (path, stat.st_size, stat.st_mtime_ns, group, column)
            with self._lock:
                hit = self._groups.get(cache_key)
            if hit is None:
                if column not in file.schema_arrow.names:
                    raise FileNotFoundError(f"{path} has no column {column!r}")
                hit = (start, file.read_row_group(group, columns=[column]).column(0).to_pylist())
                with self._lock:
                    self._groups[cache_key] = hit
                    while len(self._groups) > self.size:
                        self._groups.popitem(last=False)
        value = hit[1][row - hit[0]]
        if value is None:
            return b""
        if isinstance(value, dict):  # an image struct such as {"bytes": ..., "path": ...}
            value = value.get("bytes") or b""
        if not isinstance(value, (bytes, bytearray)):
            raise OSError(f"{path} row {row} column {column!r} holds {type(value).__name__}, not image bytes")
        return bytes(value)


_ROW_GROUPS = _RowGroupCache()
