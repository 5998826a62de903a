"""An index directory survives SIGKILL, lagging or damaged FAISS files and failed writes.

SQLite is the durable record (one transaction per batch); the FAISS file is a cache the manifest
vouches for by size and hash. These tests kill real processes and fail real writes.
"""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from latentspace.indexer import EmbedderInfo, IndexCorrupt, IndexSettings, IndexStore, NewItem
from latentspace.indexer import atomic
from latentspace.indexer.faiss_index import FaissIndex

DIM = 8
INFO = EmbedderInfo(
    model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
    weights_description="test vectors", weights_sha256="0" * 64, pretrained=False,
)


def seeded_items(n: int, seed: int = 0) -> list[NewItem]:
    vectors = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return [NewItem(f"/corpus/{seed}-{i}.png", "x", f"sha{i}", 10, 10, vectors[i]) for i in range(n)]


def count_items(db: Path) -> int | None:
    try:
        with sqlite3.connect(db, timeout=0.5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0])
    except sqlite3.Error:  # not created yet, schema not written yet, or busy
        return None


def stored(index: Path) -> dict[str, np.ndarray]:
    with IndexStore.open(index, readonly=True) as store:
        ids, vectors = store.snapshot()
        items = store.items(ids.tolist())
    return {items[i].path: v for i, v in zip(ids.tolist(), vectors)}


def assert_faiss_serves_every_item(index: Path, count: int) -> None:
    with IndexStore.open(index, readonly=True) as store:
        assert len(store) == count
        assert store.uses_faiss and store.faiss.ntotal == count
        ids, vectors = store.snapshot()
        _, found = store.search(vectors, k=1)
        np.testing.assert_array_equal(found[:, 0], ids)


# -- SIGKILL during `latentspace index` ----------------------------------------------------------


@pytest.fixture(scope="module")
def corpus60(tmp_path_factory, draw) -> Path:
    root = tmp_path_factory.mktemp("corpus60")
    colours = {"red": (200, 40, 30), "green": (40, 170, 60), "blue": (30, 60, 200)}
    for li, (label, colour) in enumerate(colours.items()):
        (root / label).mkdir()
        for i in range(20):
            draw(1000 * li + i, colour, (64, 48)).save(root / label / f"{label}_{i:02d}.png")
    return root.resolve()


def test_sigkill_mid_run_then_rerun_equals_an_uninterrupted_run(corpus60, tmp_path, index_run):
    index = tmp_path / "killed"
    db = index / "items.sqlite"
    log = tmp_path / "killed.log"
    command = [
        sys.executable, "-m", "latentspace.cli.main", "index", str(corpus60), "--index", str(index),
        "--batch-size", "4", "--workers", "0", "--weights", "random", "--no-progress",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 120
            seen = None
            while proc.poll() is None and time.monotonic() < deadline:
                seen = count_items(db) if db.exists() else None
                if seen is not None and seen >= 4:
                    break
                time.sleep(0.005)
            still_running = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert still_running, f"the run ended before it could be killed (saw {seen} items):\n{log.read_text()}"
    assert proc.returncode == -signal.SIGKILL
    committed = count_items(db)
    assert committed is not None and 4 <= committed < 60, committed
    assert committed % 4 == 0, "every committed batch is whole"

    resumed = index_run(corpus60, index, "--batch-size", "4")
    assert resumed.code == 0, resumed.text
    assert f"indexed {60 - committed} new, 0 changed, {committed} unchanged" in resumed.out

    clean = tmp_path / "clean"
    assert index_run(corpus60, clean, "--batch-size", "4").code == 0

    with sqlite3.connect(db) as conn:
        duplicates = conn.execute("SELECT path, COUNT(*) FROM items GROUP BY path HAVING COUNT(*) > 1").fetchall()
    assert duplicates == []
    after_kill, reference = stored(index), stored(clean)
    assert set(after_kill) == set(reference) == {str(p) for p in corpus60.rglob("*.png")}
    for path, vector in reference.items():
        assert np.abs(after_kill[path] - vector).max() <= 1e-6, path
    assert_faiss_serves_every_item(index, 60)


# -- the FAISS file lags SQLite ------------------------------------------------------------------

_KILL_BEFORE_SAVE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import numpy as np
    from latentspace.indexer import EmbedderInfo, IndexStore, NewItem

    info = EmbedderInfo("alexnet", "fc7", 8, "random:0", "test vectors", "0" * 64, False)  # INFO
    vectors = np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32)  # seeded_items(8)
    items = [NewItem(f"/corpus/0-{i}.png", "x", f"sha{i}", 10, 10, vectors[i]) for i in range(8)]
    store = IndexStore.create(Path(sys.argv[1]), info)
    ids = store.add(items[:5])
    store.save()
    store.add(items[5:])
    store.remove([ids[0]])
    os.kill(os.getpid(), signal.SIGKILL)  # committed to SQLite, never saved to FAISS
    """
)


def test_reopen_reconciles_faiss_with_sqlite_after_a_kill(tmp_path):
    index = tmp_path / "idx"
    proc = subprocess.run(
        [sys.executable, "-c", _KILL_BEFORE_SAVE, str(index)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    with IndexStore.open(index, readonly=True) as store:
        on_disk = FaissIndex.deserialize((index / store.manifest.faiss_file.name).read_bytes(), "cosine", "Flat")
    assert sorted(on_disk.ids().tolist()) == [1, 2, 3, 4, 5], "the FAISS file really lags"

    items = seeded_items(8)
    with IndexStore.open(index) as store:  # a writer reconciles on open
        assert len(store) == 7 and store.uses_faiss
        assert sorted(store.faiss.ids().tolist()) == [2, 3, 4, 5, 6, 7, 8]
        queries = np.stack([i.vector for i in items])
        _, found = store.search(queries, k=1)
        assert found[:, 0].tolist()[1:] == [2, 3, 4, 5, 6, 7, 8]
        assert found[0, 0] != 1, "the deleted item is gone from FAISS too"
    assert_faiss_serves_every_item(index, 7)  # and the reconciled FAISS file was saved on close


def test_readonly_open_of_a_lagging_index_searches_exactly(tmp_path):
    index = tmp_path / "idx"
    items = seeded_items(6)
    store = IndexStore.create(index, INFO)
    store.add(items[:3])
    store.save()
    store.add(items[3:])
    store.close(save=False)  # as if killed before the save
    with IndexStore.open(index, readonly=True) as reader:
        assert len(reader) == 6 and not reader.uses_faiss
        _, found = reader.search(np.stack([i.vector for i in items]), k=1)
        assert found[:, 0].tolist() == [1, 2, 3, 4, 5, 6]


# -- damaged FAISS files -------------------------------------------------------------------------


@pytest.fixture
def saved_index(tmp_path) -> tuple[Path, Path]:
    index = tmp_path / "idx"
    with IndexStore.create(index, INFO) as store:
        store.add(seeded_items(20))
    with IndexStore.open(index, readonly=True) as store:
        faiss_file = index / store.manifest.faiss_file.name
    return index, faiss_file


@pytest.mark.parametrize("damage", ["truncate", "bit-flip", "append", "missing"])
@pytest.mark.parametrize("readonly", [False, True])
def test_damaged_faiss_file_is_refused(damage, readonly, saved_index):
    index, faiss_file = saved_index
    original = faiss_file.read_bytes()
    data = bytearray(original)
    if damage == "truncate":
        faiss_file.write_bytes(data[: len(data) // 2])
    elif damage == "bit-flip":
        data[len(data) // 2] ^= 0x10
        faiss_file.write_bytes(data)
    elif damage == "append":
        faiss_file.write_bytes(data + b"\x00")
    else:
        faiss_file.unlink()
    with pytest.raises(IndexCorrupt) as caught:
        IndexStore.open(index, readonly=readonly)
    assert str(faiss_file) in str(caught.value)
    faiss_file.write_bytes(original)  # the refusal released the writer's lock: repaired, it opens
    with IndexStore.open(index) as store:
        assert len(store) == 20 and store.uses_faiss


def test_damaged_manifest_is_refused(saved_index):
    index, _ = saved_index
    (index / "manifest.json").write_text('{"format_version": 1, "embedder": ')
    with pytest.raises(IndexCorrupt) as caught:
        IndexStore.open(index)
    assert "manifest" in str(caught.value)


# -- a save that fails part-way ------------------------------------------------------------------


class _DiskFullAfterHalf:
    """A file handle that writes half of what it is given, then fails like a full disk."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, data):
        view = memoryview(data)
        self._handle.write(view[: len(view) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.mark.parametrize("failing", ["faiss", "manifest"])
def test_interrupted_save_keeps_the_previous_version(failing, tmp_path, monkeypatch):
    index = tmp_path / "idx"
    items = seeded_items(12)
    store = IndexStore.create(index, INFO)
    store.add(items[:8])
    store.save()
    previous = store.manifest.faiss_file
    store.add(items[8:])

    def full_disk_open(path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)
        hit = Path(path).name.startswith(".index-" if failing == "faiss" else ".manifest.json")
        return _DiskFullAfterHalf(handle) if hit and "w" in mode else handle

    monkeypatch.setattr(atomic, "open", full_disk_open, raising=False)
    with pytest.raises(OSError) as caught:
        store.save()
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()
    store.close(save=False)  # the process gives up here

    leftovers = [p.name for p in index.iterdir() if ".tmp-" in p.name]
    assert leftovers == [], "failed writes remove their temporary files"
    with IndexStore.open(index, readonly=True) as reader:
        assert reader.manifest.faiss_file == previous, "the manifest still names the last complete file"
        assert reader.faiss.ntotal == 8 and len(reader) == 12
    with IndexStore.open(index) as store:  # every committed item is back in FAISS
        assert store.uses_faiss and store.faiss.ntotal == 12
    assert_faiss_serves_every_item(index, 12)
    faiss_files = sorted(p.name for p in index.glob("index-*.faiss"))
    assert len(faiss_files) == 1, faiss_files


def test_damaged_manifest_is_a_clear_command_error(small_index, photo_corpus, index_run):
    (small_index / "manifest.json").write_text('{"format_version": 1, "embedder": ')
    result = index_run(photo_corpus, small_index)
    assert result.code == 1
    assert "Traceback" not in result.err
    assert "error: cannot read the index manifest" in result.err and str(small_index / "manifest.json") in result.err


def test_reconcile_rebuilds_an_index_that_cannot_remove(tmp_path):
    """The FAISS file still holds deleted items, and HNSW cannot remove them: rebuilt on open."""
    index = tmp_path / "idx"
    items = seeded_items(30)
    store = IndexStore.create(index, INFO, IndexSettings(faiss_factory="HNSW8"))
    ids = store.add(items)
    store.save()
    store.remove(ids[:5])
    store.close(save=False)  # as if killed before the save
    with IndexStore.open(index) as store:
        assert store.uses_faiss and sorted(store.faiss.ids().tolist()) == ids[5:]
    assert_faiss_serves_every_item(index, 25)


def test_close_releases_the_directory_even_when_its_save_fails(tmp_path, monkeypatch):
    index = tmp_path / "idx"
    store = IndexStore.create(index, INFO)
    store.add(seeded_items(4))

    def full_disk(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("latentspace.indexer.store.atomic_write_bytes", full_disk)
    with pytest.raises(OSError):
        store.close()
    monkeypatch.undo()
    with IndexStore.open(index) as again:  # no IndexLocked: the lock went with the failed close
        assert len(again) == 4 and again.uses_faiss
