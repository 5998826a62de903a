"""Vectors in files, streamed: the ``.npz`` that ``export`` writes, and Parquet with its columns.

Both carry ``vectors`` (n×d) and optionally ``ids``, ``paths`` and ``labels``. Reading yields
batches, and writing an ``.npz`` streams each array into the zip member, so neither needs the
whole file in memory.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from latentspace.indexer.atomic import fsync_directory

__all__ = ["VectorBatch", "VectorFileError", "count_rows", "read_vector_file", "write_npz_streamed"]

COLUMNS = ("vectors", "ids", "paths", "labels")


class VectorFileError(ValueError):
    """A vectors file that cannot be read as asked (format, shape, columns)."""


@dataclass(frozen=True)
class VectorBatch:
    vectors: np.ndarray
    """float32 (n, d)"""
    ids: np.ndarray | None
    paths: list[str] | None
    labels: list[str] | None


def _npy_member(archive: zipfile.ZipFile, name: str):
    """An open stream positioned at the data of ``name.npy``, with its shape and dtype."""
    try:
        stream = archive.open(f"{name}.npy")
    except KeyError:
        return None
    version = npy_format.read_magic(stream)
    reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
    shape, fortran, dtype = reader(stream)
    if fortran or dtype.hasobject:
        raise VectorFileError(f"{name} must be a C-ordered array of plain values, not {dtype} (fortran={fortran})")
    return stream, shape, dtype


def _read_rows(stream, dtype: np.dtype, count: int, width: int | None) -> np.ndarray:
    """``count`` rows of ``width`` values (``None``: a 1-d array)."""
    size = count * (width or 1) * dtype.itemsize
    data = stream.read(size)
    if len(data) != size:
        raise VectorFileError("the file ends early: it is truncated")
    values = np.frombuffer(data, dtype=dtype)
    return values.reshape(count, width) if width is not None else values


def _npz_batches(path: Path, rows: int) -> Iterator[VectorBatch]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise VectorFileError(f"{path} is not an .npz file: {exc}") from None
    with archive:
        members = {name: _npy_member(archive, name) for name in COLUMNS}
        if members["vectors"] is None:
            raise VectorFileError(f"{path} has no array 'vectors' (it has {', '.join(archive.namelist())})")
        _, shape, dtype = members["vectors"]
        if len(shape) != 2 or dtype.kind not in "fiu":
            raise VectorFileError(f"{path}: vectors must be a 2-d array of numbers, got shape {shape} of {dtype}")
        n, d = shape
        for name in ("ids", "paths", "labels"):
            if members[name] is not None and members[name][1] != (n,):
                raise VectorFileError(f"{path}: {name} has shape {members[name][1]}, expected ({n},) like vectors")
        for start in range(0, n, rows):
            count = min(rows, n - start)
            out = {}
            for name, member in members.items():
                if member is None:
                    out[name] = None
                    continue
                stream, _, kind = member
                out[name] = _read_rows(stream, kind, count, d if name == "vectors" else None)
            yield VectorBatch(
                out["vectors"].astype(np.float32),
                None if out["ids"] is None else out["ids"].astype(np.int64),
                None if out["paths"] is None else [str(p) for p in out["paths"]],
                None if out["labels"] is None else [str(label) for label in out["labels"]],
            )


def _parquet_batches(path: Path, rows: int) -> Iterator[VectorBatch]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid and OSError kinds
        raise VectorFileError(f"{path} is not a Parquet file: {exc}") from None
    names = set(table.schema_arrow.names)
    if "vectors" not in names:
        raise VectorFileError(f"{path} has no column 'vectors' (it has {', '.join(sorted(names))})")
    columns = [c for c in COLUMNS if c in names]
    for batch in table.iter_batches(batch_size=rows, columns=columns):
        column = batch.column("vectors")
        try:
            flat = column.flatten().to_numpy(zero_copy_only=False)
        except Exception:
            raise VectorFileError(f"{path}: vectors must be a list column of numbers") from None
        if len(column) and len(flat) % len(column):
            raise VectorFileError(f"{path}: the rows of vectors do not all have the same length")
        vectors = flat.astype(np.float32).reshape(len(column), -1) if len(column) else np.zeros((0, 0), np.float32)
        if len(column) and len(flat) != len(column) * vectors.shape[1]:
            raise VectorFileError(f"{path}: the rows of vectors do not all have the same length")
        get = lambda name: batch.column(name).to_pylist() if name in names else None  # noqa: E731
        ids = get("ids")
        yield VectorBatch(vectors, None if ids is None else np.asarray(ids, dtype=np.int64), get("paths"), get("labels"))


def count_rows(path: Path) -> int:
    """Rows in a vectors file, from its header or footer (nothing else is read)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception as exc:  # pyarrow raises its own ArrowInvalid and OSError kinds
            raise VectorFileError(f"{path} is not a Parquet file: {exc}") from None
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise VectorFileError(f"{path} is not an .npz file: {exc}") from None
    with archive:
        member = _npy_member(archive, "vectors")
        if member is None:
            raise VectorFileError(f"{path} has no array 'vectors'")
        return int(member[1][0])


def read_vector_file(path: Path, rows: int = 8192) -> Iterator[VectorBatch]:
    """Batches of at most ``rows`` rows; ``.parquet`` by its suffix, otherwise ``.npz``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such vectors file: {path}")
    if path.suffix.lower() == ".parquet":
        yield from _parquet_batches(path, rows)
    else:
        yield from _npz_batches(path, rows)


def write_npz_streamed(out: Path, arrays: dict[str, tuple[tuple[int, ...], np.dtype, Iterator[np.ndarray]]]) -> None:
    """Write an ``.npz`` whose arrays arrive in chunks: ``name -> (shape, dtype, chunks)``.

    Written beside ``out`` and renamed over it once complete and fsynced, so a reader sees the
    old file or the whole new one. ``np.load`` reads the result as usual.
    """
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            for name, (shape, dtype, chunks) in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    npy_format.write_array_header_2_0(member, {"descr": npy_format.dtype_to_descr(np.dtype(dtype)),
                                                               "fortran_order": False, "shape": shape})
                    for chunk in chunks:
                        member.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, out)
        fsync_directory(out.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
