"""Kill loops (slow): SIGKILL ``latentspace index`` and ``latentspace serve`` at random moments,
restart each time, and check after every kill that nothing acknowledged was lost or duplicated.

After each kill the index must load; SQLite rows, the vector table, FAISS ids and the export must
be the same ids (checked on a copy by :func:`check_whole`); every committed batch or acknowledged
add must be there exactly once, every acknowledged remove gone; an add or remove whose answer never
came must be all or nothing; and every stored vector must equal the one this process computes
from the same image bytes with the same embedder. The moments come from a seeded generator;
``LATENTSPACE_KILL_TRIALS`` (default 10) sets the kills per loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support import REPO
from support.cli import export_arrays
from support.load import Load, check_whole
from support.photos import draw_photo, photo_bytes
from support.servers import ServeProcess

KILLS = int(os.environ.get("LATENTSPACE_KILL_TRIALS", "10"))
TOLERANCE = 1e-5  # the same picture in forward passes of other batch sizes differs by ~1e-8


def _embed(embedder, blobs: list[bytes]) -> list[np.ndarray]:
    from latentspace.indexer import decode_image

    return list(embedder.embed_images([decode_image(b).image for b in blobs]))


# Counted in a child process: a reader of a WAL database maps its -shm file, and when the
# indexer it watches is killed and restarted, SQLite's recovery can truncate that file under the
# mapping, which is SIGBUS in the reader. That must end the probe, not the test run.
_COUNT_ROWS = """
import sqlite3, sys
for line in sys.stdin:
    try:
        with sqlite3.connect(f"file:{line.strip()}?mode=ro", uri=True, timeout=0.5) as conn:
            print(int(conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]), flush=True)
    except sqlite3.Error:  # not created yet, no schema yet, or busy
        print("", flush=True)
"""
_counter: subprocess.Popen | None = None


def _rows(db: Path) -> int | None:
    """Committed rows of ``db`` as a separate reader sees them, or None if it cannot tell now."""
    global _counter
    if _counter is None or _counter.poll() is not None:
        _counter = subprocess.Popen([sys.executable, "-c", _COUNT_ROWS], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
    try:
        _counter.stdin.write(f"{db}\n")
        _counter.stdin.flush()
        answer = _counter.stdout.readline().strip()
    except BrokenPipeError:
        answer = ""
    return int(answer) if answer else None


@pytest.fixture(scope="module", autouse=True)
def _stop_the_row_counter():
    yield
    if _counter is not None and _counter.poll() is None:
        _counter.kill()
        _counter.wait()


# -- the indexer ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, random_embedder) -> tuple[Path, dict[str, np.ndarray]]:
    """64 small pictures in two labelled folders, and the vector of each computed here."""
    root = tmp_path_factory.mktemp("kill-corpus")
    files = []
    for li, (label, colour) in enumerate({"red": (200, 40, 30), "blue": (30, 60, 200)}.items()):
        (root / label).mkdir()
        for i in range(32):
            path = root / label / f"{label}_{i:03d}.png"
            draw_photo(2000 * li + i, colour, (48, 40)).save(path)
            files.append(path.resolve())
    vectors = _embed(random_embedder, [p.read_bytes() for p in files])
    return root.resolve(), {str(p): v for p, v in zip(files, vectors)}


@pytest.mark.slow
def test_kill_the_indexer_at_random_moments(corpus, tmp_path):
    from latentspace.indexer import IndexStore

    root, reference = corpus
    rng = np.random.default_rng(20240601)
    index = tmp_path / "idx"
    db = index / "items.sqlite"
    command = [sys.executable, "-m", "latentspace.cli.main", "index", str(root), "--index", str(index),
               "--batch-size", "2", "--workers", "0", "--weights", "random:0", "--no-progress"]
    kills, finished, log = [], False, tmp_path / "index.log"
    for attempt in range(KILLS + 3):
        before = _rows(db) or 0
        with open(log, "ab") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            if len(kills) < KILLS:
                roll = rng.random()
                if roll < 0.2:  # while starting: importing, creating the index, opening it
                    moment = "starting"
                    deadline = time.monotonic() + rng.uniform(0.5, 4.0)
                    while proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.01)
                else:  # while committing batches, or once all are committed: training and saving FAISS
                    moment = "indexing" if roll < 0.8 else "saving"
                    wanted = before + 1 if moment == "indexing" else len(reference)
                    deadline = time.monotonic() + 120
                    while proc.poll() is None and (_rows(db) or 0) < wanted and time.monotonic() < deadline:
                        time.sleep(0.005)
                    pause = time.monotonic() + rng.uniform(0.0, 0.4)
                    while proc.poll() is None and time.monotonic() < pause:
                        time.sleep(0.005)
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    kills.append((moment, before, _rows(db)))
            if proc.wait(timeout=300) == 0:
                finished = True
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

        # What the restart will find.
        if not IndexStore.exists(index):
            assert (_rows(db) or 0) == 0, "rows were committed before the manifest existed"
            continue
        exported = check_whole(index, tmp_path / "check")
        paths = exported["paths"].tolist()
        assert set(paths) <= set(reference) and len(paths) >= before, "a committed batch went missing"
        for path, vector in zip(paths, exported["vectors"]):
            assert np.abs(vector - reference[path]).max() <= TOLERANCE, path
        if finished:
            break

    assert finished, f"the run never completed:\n{log.read_text()[-3000:]}"
    assert len(kills) >= min(KILLS, 5), kills
    assert sorted(paths) == sorted(reference)
    print(f"\nindexer kill loop: {len(kills)} kills (moment, rows before, rows after): {kills}")


# -- the server ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_the_server_at_random_moments(small_index, random_embedder, tmp_path):
    from latentspace.client import Client

    base = export_arrays(small_index, tmp_path / "base.npz")
    base_rows = dict(zip(base["ids"].tolist(), base["vectors"]))
    pool = [photo_bytes(3000 + i) for i in range(6)]
    reference = dict(zip(pool, _embed(random_embedder, pool)))
    rng = np.random.default_rng(20240602)
    present: dict[int, tuple[str, bytes]] = {}  # acknowledged adds not removed since
    removed: set[int] = set()
    summary = []

    for trial in range(KILLS):
        child = ServeProcess(small_index, "--weights", "random:0")
        try:
            with Client(child.address, timeout=30) as client:  # after the restart, over gRPC
                assert client.info().item_count == len(base_rows) + len(present)
                if present:
                    got = client.get_items(sorted(present), with_vectors=True)
                    assert [i.path for i in got] == [present[i][0] for i in sorted(present)]
            load = Load(child.address, clients=3, seconds=60, max_calls=10_000, images=pool[:2], add_images=pool,
                        base_ids=sorted(base_rows), dim=base["vectors"].shape[1], seed=trial, write_share=0.6,
                        stop_on_unavailable=True, tag=f"t{trial}").start()
            deadline = time.monotonic() + 60
            while load.finished() < 3:
                assert time.monotonic() < deadline, "the load never started"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.5))  # the random moment
            how = "SIGKILL"
            if rng.random() < 0.3:  # while draining and saving after SIGTERM
                how = "SIGTERM then SIGKILL"
                child.proc.send_signal(signal.SIGTERM)
                time.sleep(rng.uniform(0.0, 0.4))
            child.proc.send_signal(signal.SIGKILL)
            child.proc.wait(timeout=30)
            load.stop()
            load.join(60)
        finally:
            child.close()
        assert load.unexpected == [], load.unexpected[:5]

        acks = load.acks
        present.update(acks.added)
        for item_id in acks.removed:
            present.pop(item_id)
            removed.add(item_id)
        exported = check_whole(small_index, tmp_path / "check")
        stored = dict(zip(exported["ids"].tolist(), exported["paths"].tolist()))
        for item_id, (path, _) in present.items():
            if item_id not in acks.unanswered_removes:
                assert stored.get(item_id) == path, f"acknowledged add {item_id} ({path}) is missing"
        assert not set(stored) & removed, "an acknowledged remove came back"
        for item_id in acks.unanswered_removes:  # all or nothing, then settled
            if item_id not in stored:
                present.pop(item_id, None)
                removed.add(item_id)
        extra = set(stored) - set(base_rows) - set(present)
        doubtful = acks.unanswered_adds
        assert {stored[i] for i in extra} <= set(doubtful), "an item nobody added"
        for item_id in extra:
            present[item_id] = (stored[item_id], doubtful[stored[item_id]])
        assert set(stored) == set(base_rows) | set(present)
        rows = dict(zip(exported["ids"].tolist(), exported["vectors"]))
        for item_id, vector in base_rows.items():
            np.testing.assert_array_equal(rows[item_id], vector)
        for item_id, (_, data) in present.items():
            assert np.abs(rows[item_id] - reference[data]).max() <= TOLERANCE, item_id
        summary.append((how, len(acks.added), len(acks.removed), len(doubtful) + len(acks.unanswered_removes)))

    child = ServeProcess(small_index, "--weights", "random:0")
    try:
        with Client(child.address, timeout=30) as client:
            assert client.info().item_count == len(base_rows) + len(present)
        assert child.terminate() == 0
    finally:
        child.close()
    print(f"\nserver kill loop: {len(summary)} kills; (how, adds, removes, unanswered) per trial: {summary}")
