"""A full disk during ``latentspace index`` ends the run with one clear line, keeps every batch
committed before it, and a rerun with space again completes as if nothing had happened.

SQLite runs out of room for real: ``PRAGMA max_page_count`` makes it answer SQLITE_FULL ("database
or disk is full") exactly as a full file system does. The vector shard files and the FAISS file
fail like the save tests make them fail: half written, then ENOSPC.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentspace.indexer import IndexStore, atomic, vector_files
from latentspace.indexer.item_db import ItemDB

BATCH = 4


@pytest.fixture(scope="module")
def corpus24(tmp_path_factory, draw) -> Path:
    root = tmp_path_factory.mktemp("corpus24")
    for li, (label, colour) in enumerate({"red": (200, 40, 30), "blue": (30, 60, 200)}.items()):
        (root / label).mkdir()
        for i in range(12):
            draw(500 * li + i, colour, (64, 48)).save(root / label / f"{label}_{i:02d}.png")
    return root.resolve()


@pytest.fixture(scope="module")
def clean(corpus24, tmp_path_factory, index_run, export) -> dict[str, np.ndarray]:
    index = tmp_path_factory.mktemp("clean") / "idx"
    assert index_run(corpus24, index, "--batch-size", BATCH).code == 0
    return export(index)


def _small_disk(monkeypatch) -> None:
    """512-byte pages, and room for a few beyond the empty schema: full after a few batches."""
    real_init = ItemDB.__init__

    def init(self, path, dim):
        if not Path(path).exists():
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA page_size = 512")
                conn.execute("CREATE TABLE scratch (x)")
                conn.execute("DROP TABLE scratch")
        real_init(self, path, dim)
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        self._conn.execute(f"PRAGMA max_page_count = {pages + 6}")

    monkeypatch.setattr(ItemDB, "__init__", init)


def _count(index: Path) -> int:
    with sqlite3.connect(index / "items.sqlite") as conn:
        return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])


def _assert_same_as(index: Path, clean: dict[str, np.ndarray], export) -> None:
    data = export(index)
    assert sorted(data["paths"].tolist()) == sorted(clean["paths"].tolist())
    assert len(set(data["paths"].tolist())) == len(data["paths"]), "an image is stored twice"
    mine = dict(zip(data["paths"].tolist(), data["vectors"]))
    for path, vector in zip(clean["paths"].tolist(), clean["vectors"]):
        assert np.abs(mine[path] - vector).max() <= 1e-5, path
    with IndexStore.open(index, readonly=True) as store:  # the manifest vouches for a complete FAISS file
        assert store.uses_faiss and sorted(store.faiss.ids().tolist()) == data["ids"].tolist()


def test_sqlite_full_mid_run_is_a_clear_error_and_a_rerun_completes(corpus24, clean, tmp_path, monkeypatch,
                                                                     index_run, export):
    index = tmp_path / "idx"
    _small_disk(monkeypatch)
    full = index_run(corpus24, index, "--batch-size", BATCH)
    monkeypatch.undo()

    assert full.code == 1, full.text
    assert "Traceback" not in full.err
    assert "error: No space left on device" in full.err and "database or disk is full" in full.err
    assert str(index / "items.sqlite") in full.err and "everything committed before it is kept" in full.err
    committed = _count(index)
    assert 0 < committed < 24 and committed % BATCH == 0, committed  # whole batches only

    with IndexStore.open(index) as store:  # loads, unlocked; SQLite, the vectors and FAISS agree
        assert len(store) == committed and sorted(store.faiss.ids().tolist()) == store.snapshot()[0].tolist()

    again = index_run(corpus24, index, "--batch-size", BATCH)
    assert again.code == 0, again.text
    assert f"indexed {24 - committed} new, 0 changed, {committed} unchanged" in again.out
    _assert_same_as(index, clean, export)


def test_full_disk_while_saving_faiss_keeps_every_item(corpus24, clean, tmp_path, monkeypatch, index_run, export):
    index = tmp_path / "idx"

    def full_disk_open(path, mode="r", *args, **kwargs):
        if Path(path).name.startswith(".index-") and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic, "open", full_disk_open, raising=False)
    full = index_run(corpus24, index, "--batch-size", BATCH)
    monkeypatch.undo()

    assert full.code == 1, full.text
    assert "Traceback" not in full.err and "error: No space left on device" in full.err
    assert _count(index) == 24, "every batch was committed before the FAISS file was written"
    assert [p.name for p in index.iterdir() if p.name.startswith(".index-")] == []

    again = index_run(corpus24, index, "--batch-size", BATCH)
    assert again.code == 0, again.text
    assert "indexed 0 new, 0 changed, 24 unchanged" in again.out
    _assert_same_as(index, clean, export)


def test_full_disk_while_writing_vectors_keeps_every_committed_batch(corpus24, clean, tmp_path, monkeypatch,
                                                                     index_run, export):
    index = tmp_path / "idx"
    real_write, calls = vector_files._write_all, []

    def fills_up(fd, view):
        calls.append(len(view))
        if len(calls) > 3:  # the fourth batch: half its rows reach the disk, then no more room
            os.write(fd, view[: len(view) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fd, view)

    monkeypatch.setattr(vector_files, "_write_all", fills_up)
    full = index_run(corpus24, index, "--batch-size", BATCH)
    monkeypatch.undo()

    assert full.code == 1, full.text
    assert "Traceback" not in full.err and "error: No space left on device" in full.err
    assert str(index / "vectors" / "shard-000001.bin") in full.err
    assert _count(index) == 3 * BATCH, "the batch whose vectors did not fit is not committed"
    shard = index / "vectors" / "shard-000001.bin"
    assert shard.stat().st_size == 3 * BATCH * 4096 * 4, "the half-written rows were cut off"

    again = index_run(corpus24, index, "--batch-size", BATCH)
    assert again.code == 0, again.text
    assert f"indexed {24 - 3 * BATCH} new, 0 changed, {3 * BATCH} unchanged" in again.out
    _assert_same_as(index, clean, export)
