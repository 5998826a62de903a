"""The server under a full disk, a save that fails at shutdown, a damaged index, and client deadlines.

A full disk is simulated where the bytes go: the image copy's write fails with ENOSPC, or SQLite
itself answers SQLITE_FULL (``PRAGMA max_page_count``). Deadlines are tested with a model whose
preprocessing is slow, so the server's own checks (not only gRPC's) must stop the work.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from support import REPO
from support.cli import export_arrays
from support.photos import photo_bytes


def _snapshot(index_dir: Path, out: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    images = index_dir / "images"
    return export_arrays(index_dir, out), sorted(p.name for p in images.iterdir()) if images.exists() else []


def _assert_unchanged(before, after) -> None:
    (b, b_files), (a, a_files) = before, after
    assert a_files == b_files
    for key in ("ids", "vectors", "paths", "labels"):
        np.testing.assert_array_equal(a[key], b[key])


# -- a full disk during AddImages ----------------------------------------------------------------


def _sqlite_full_error() -> sqlite3.Error:
    """The error SQLite raises when it has no room for a page (SQLITE_FULL), made for real."""
    capped = sqlite3.connect(":memory:")
    capped.execute("CREATE TABLE t (b BLOB)")
    capped.execute(f"PRAGMA max_page_count = {capped.execute('PRAGMA page_count').fetchone()[0]}")
    try:
        capped.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.Error as exc:
        assert exc.sqlite_errorcode == sqlite3.SQLITE_FULL
        return exc
    finally:
        capped.close()
    raise AssertionError("a capped database took a row it has no room for")


class _FullConnection:
    """A SQLite connection whose writes fail with SQLITE_FULL; reads and transactions go through."""

    _WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")

    def __init__(self, real, error: sqlite3.Error) -> None:
        self._real, self._error = real, error

    def _check(self, sql: str) -> None:
        if sql.lstrip().upper().startswith(self._WRITES):
            raise self._error

    def execute(self, sql, *args):
        self._check(sql)
        return self._real.execute(sql, *args)

    def executemany(self, sql, *args):
        self._check(sql)
        return self._real.executemany(sql, *args)

    def cursor(self):
        return _FullConnection(self._real.cursor(), self._error)

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.parametrize("where", ["image-copy", "sqlite"])
def test_add_on_a_full_disk_is_resource_exhausted_and_stores_nothing(where, start_server, small_index, tmp_path,
                                                                     monkeypatch):
    from latentspace import client as ls
    from latentspace.client import Client, NewImage
    from latentspace.indexer import atomic
    from latentspace.server.search import engine as engine_module

    running = start_server(small_index)
    images = [NewImage(photo_bytes(300 + i), f"full/{i}.png", "full") for i in range(3)]
    with Client(running.address) as client:
        client.add_images([NewImage(photo_bytes(299), "first.png")])  # images/ exists and holds one copy
        before = _snapshot(small_index, tmp_path / "before.npz")
        db = running.engine.store.db
        if where == "image-copy":
            writes = []

            def full_after_one(path, data):
                writes.append(path)
                if len(writes) > 1:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                atomic.atomic_write_bytes(path, data)

            monkeypatch.setattr(engine_module, "atomic_write_bytes", full_after_one)
        else:
            # Rows no longer carry their vectors (those are in the shard files), so three small
            # rows fit in pages SQLite already has and a page cap no longer fills it. The items
            # database's connection is wrapped instead, to answer its writes with a real
            # SQLITE_FULL error taken from a capped in-memory database.
            full = _sqlite_full_error()
            real = db._conn
            db._conn = _FullConnection(real, full)
        with pytest.raises(ls.ResourceExhausted) as caught:
            client.add_images(images)
        assert "disk is full" in caught.value.message and "nothing of this request was stored" in caught.value.message
        if where == "sqlite":
            assert "database or disk is full" in caught.value.message
        assert str(small_index) not in caught.value.message, "server paths stay on the server"
        assert client.health() == "SERVING"
        assert client.info().item_count == 13
        _assert_unchanged(before, _snapshot(small_index, tmp_path / "after.npz"))

        monkeypatch.undo()  # space again: the same request succeeds
        if where == "sqlite":
            db._conn = real
        added = client.add_images(images)
        assert [i.path for i in added] == ["full/0.png", "full/1.png", "full/2.png"]
        assert client.search(images[1].data, k=1).ids == [added[1].id]


# -- the save at shutdown fails ------------------------------------------------------------------


def test_a_failed_save_at_shutdown_keeps_the_previous_version(start_server, small_index, monkeypatch):
    from latentspace.client import Client, NewImage
    from latentspace.indexer import IndexStore, atomic

    with IndexStore.open(small_index, readonly=True) as reader:
        previous = reader.manifest.faiss_file
    running = start_server(small_index)
    with Client(running.address) as client:
        added = client.add_images([NewImage(photo_bytes(310 + i), f"late/{i}.png") for i in range(2)])

    real_open = open

    def half_then_full(path, mode="r", *args, **kwargs):
        handle = real_open(path, mode, *args, **kwargs)
        if "w" not in mode or not Path(path).name.startswith(".index-"):
            return handle
        handle.write(b"\0" * 100)
        handle.close()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic, "open", half_then_full, raising=False)
    with pytest.raises(OSError) as caught:
        running.stop(grace=1.0)
    assert caught.value.errno == errno.ENOSPC
    monkeypatch.undo()

    assert [p.name for p in small_index.iterdir() if ".tmp-" in p.name] == []
    with IndexStore.open(small_index, readonly=True) as reader:  # loads: the manifest still names the old file
        assert reader.manifest.faiss_file == previous
        assert len(reader) == 14 and reader.faiss.ntotal == 12
    with IndexStore.open(small_index) as store:  # unlocked; the committed adds return to FAISS
        assert store.uses_faiss and store.faiss.ntotal == 14
        ids, vectors = store.snapshot()
        _, found = store.search(vectors, k=1)
        np.testing.assert_array_equal(found[:, 0], ids)
        assert {i.id for i in added} <= set(ids.tolist())


# -- a damaged index is never served -------------------------------------------------------------


def _damage(index: Path, how: str) -> Path:
    from latentspace.indexer import IndexStore

    with IndexStore.open(index, readonly=True) as reader:
        faiss_file = index / reader.manifest.faiss_file.name
    if how == "manifest":
        (index / "manifest.json").write_text('{"format_version": 1, "embedder": ')
        return index / "manifest.json"
    if how == "missing":
        faiss_file.unlink()
        return faiss_file
    data = bytearray(faiss_file.read_bytes())
    if how == "bit-flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) - 7]
    faiss_file.write_bytes(bytes(data))
    return faiss_file


@pytest.mark.parametrize("how", ["bit-flip", "truncated", "missing", "manifest"])
def test_serve_refuses_a_damaged_index_with_a_clear_error(how, small_index):
    named = _damage(small_index, how)
    proc = subprocess.run(
        [sys.executable, "-m", "latentspace.cli.main", "serve", str(small_index), "--port", "0", "--device", "cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("latentspace serve: error: ") and str(named) in line, line
    assert "serving" not in proc.stdout


# -- client deadlines ----------------------------------------------------------------------------


class _SlowPreprocess:
    """The real embedder, but preprocessing an image takes ``seconds`` and is counted."""

    def __init__(self, inner, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds
        self._lock = threading.Lock()
        self.preprocessed = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def prepare(self, image):
        time.sleep(self._seconds)
        with self._lock:
            self.preprocessed += 1
        return self._inner.prepare(image)


@pytest.mark.parametrize("rpc", ["add", "batch-search"])
def test_a_passed_deadline_stops_the_work_between_stages(rpc, small_index, random_embedder, tmp_path):
    from latentspace import client as ls
    from latentspace.client import Client, NewImage
    from latentspace.server.app import create_server

    from support.servers import server_config

    slow = _SlowPreprocess(random_embedder, 0.1)
    running = create_server(small_index, server_config(max_add_images=64, max_batch_queries=64), embedder=slow)
    try:
        before = _snapshot(small_index, tmp_path / "before.npz")
        images = [photo_bytes(400 + i) for i in range(30)]  # 3 s of preprocessing if nothing stopped it
        passes = random_embedder.forward_calls
        started = time.monotonic()
        with Client(running.address) as client, pytest.raises(ls.DeadlineExceeded):
            if rpc == "add":
                client.add_images([NewImage(data, f"slow/{i}.png") for i, data in enumerate(images)], timeout=0.5)
            else:
                client.batch_search(images, k=3, timeout=0.5)
        assert time.monotonic() - started < 2.0
        assert running.service.in_flight.wait_idle(10), "the handler kept running"
        assert slow.preprocessed < 15, f"{slow.preprocessed} of 30 images were still preprocessed"
        assert random_embedder.forward_calls == passes, "no forward pass for a request nobody waits for"
        with Client(running.address) as client:
            assert client.health() == "SERVING" and client.info().item_count == 12
            assert len(client.batch_search(images[:2], k=3, timeout=30)) == 2  # with time enough, it answers
        _assert_unchanged(before, _snapshot(small_index, tmp_path / "after.npz"))
    finally:
        running.stop(grace=1.0)


def test_deadline_check_raises_the_core_error():
    from latentspace.server.search.deadline import NO_DEADLINE, Deadline
    from latentspace.server.errors import DeadlineExceeded

    NO_DEADLINE.check("anywhere")
    assert Deadline.after(float("inf")) is NO_DEADLINE and Deadline.after(None) is NO_DEADLINE
    Deadline.after(60).check("early")
    with pytest.raises(DeadlineExceeded, match="before the index search"):
        Deadline.after(0).check("before the index search")
