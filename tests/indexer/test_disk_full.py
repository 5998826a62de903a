"""A full disk during ``latentspace index`` ends the run with one clear line, keeps every batch
committed before it, and a rerun with space again completes as if nothing had happened.

SQLite runs out of room for real: ``PRAGMA max_page_count`` makes it answer SQLITE_FULL ("database
or disk is full") exactly as a full file system does. The FAISS file's write fails like the
existing save tests make it fail: half written, then ENOSPC.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentspace.indexer import IndexStore, atomic
from latentspace.indexer.item_db import ItemDB

BATCH = 4
PAGES_FOR_ABOUT_TEN_ITEMS = 64  # a 4096-d float32 vector is 16 KiB: four 4-KiB pages and change


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


def _small_disk(monkeypatch, pages: int) -> None:
    real_init = ItemDB.__init__

    def init(self, path, dim):
        real_init(self, path, dim)
        self._conn.execute(f"PRAGMA max_page_count = {pages}")

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
    _small_disk(monkeypatch, PAGES_FOR_ABOUT_TEN_ITEMS)
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
