"""Writing a corpus as the data sets users have: WebDataset tar shards and img2dataset-style Parquet."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from support.photos import draw_photo, write_corpus

__all__ = ["BROKEN_JPEG", "add_member", "assert_same_index", "draw_photo", "index_contents", "write_corpus", "write_parquet",
           "write_webdataset"]


def _broken_jpeg() -> bytes:
    """A real JPEG cut off in the middle of its picture data: the decoder's "truncated" case."""
    buffer = io.BytesIO()
    draw_photo(999, (120, 120, 120)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()[: buffer.tell() // 2]


BROKEN_JPEG = _broken_jpeg()


def add_member(tar: tarfile.TarFile, name: str, data: bytes, mtime: int = 1_700_000_000) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = mtime
    tar.addfile(info, io.BytesIO(data))


def write_webdataset(files: Sequence[Path], folder: Path, *, shards: int = 3, corrupt_in: int | None = None) -> list[Path]:
    """``folder/{00000..}.tar``: each image as ``NNNNN.jpg``/``.png`` with its folder name in ``NNNNN.cls``.

    ``corrupt_in`` adds a sample with a broken JPEG to that shard.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{s:05d}.tar" for s in range(shards)]
    tars = [tarfile.open(p, "w") for p in paths]
    for i, file in enumerate(files):
        tar = tars[i % shards]
        add_member(tar, f"{i:05d}{file.suffix}", file.read_bytes())
        add_member(tar, f"{i:05d}.cls", file.parent.name.encode())
    if corrupt_in is not None:
        add_member(tars[corrupt_in], "broken.jpg", BROKEN_JPEG)
        add_member(tars[corrupt_in], "broken.cls", b"red")
    for tar in tars:
        tar.close()
    return paths


def write_parquet(files: Sequence[Path], path: Path, *, row_group_size: int = 5, corrupt_at: int | None = None) -> Path:
    """One row per image: ``key``, ``jpg`` (the file's bytes), ``label`` (its folder name), as img2dataset writes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    images = [f.read_bytes() for f in files]
    labels = [f.parent.name for f in files]
    if corrupt_at is not None:
        images.insert(corrupt_at, BROKEN_JPEG)
        labels.insert(corrupt_at, "red")
    table = pa.table({"key": [f"{i:09d}" for i in range(len(images))], "jpg": pa.array(images, pa.binary()), "label": labels})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def index_contents(directory: Path) -> dict[str, tuple[str, str, np.ndarray]]:
    """path → (label, sha256, vector) of every item of an index."""
    from latentspace.indexer import IndexStore

    with IndexStore.open(directory, readonly=True) as store:
        ids, vectors = store.snapshot()
        items = store.items(ids.tolist())
        return {items[i].path: (items[i].label, items[i].sha256, vectors[row]) for row, i in enumerate(ids.tolist())}


def assert_same_index(left: dict, right: dict, *, atol: float = 1e-5) -> None:
    assert sorted(left) == sorted(right)
    for path, (label, sha, vector) in left.items():
        other = right[path]
        assert (label, sha) == other[:2], path
        np.testing.assert_allclose(vector, other[2], rtol=0, atol=atol, err_msg=path)
