"""An index written before vectors moved out of SQLite opens, migrated once, losing nothing."""

from __future__ import annotations

import json
import logging
import sqlite3
import time

import faiss
import numpy as np

from latentspace.indexer import EmbedderInfo, IndexStore, NewItem
from latentspace.indexer.faiss_index import sha256_bytes

DIM = 12
INFO = EmbedderInfo(model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
                    weights_description="test vectors", weights_sha256="0" * 64, pretrained=False)

_FIRST_SCHEMA = """
CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
    sha256 TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, file_size INTEGER,
    mtime_ns INTEGER, stored_file TEXT, added_at REAL NOT NULL, vector BLOB NOT NULL
);
CREATE INDEX items_path ON items(path);
CREATE INDEX items_label ON items(label);
CREATE TABLE directions (name TEXT PRIMARY KEY, kind TEXT NOT NULL, description TEXT NOT NULL,
                         created_at REAL NOT NULL, vector BLOB NOT NULL);
"""


def write_first_format(directory, vectors: np.ndarray, removed: int) -> list[int]:
    """The layout of format 1, written as that version wrote it: vectors as BLOBs, a Flat FAISS file."""
    directory.mkdir()
    conn = sqlite3.connect(directory / "items.sqlite")
    conn.executescript(_FIRST_SCHEMA)
    for i, v in enumerate(vectors):
        conn.execute("INSERT INTO items (path, label, sha256, width, height, file_size, mtime_ns, stored_file, added_at,"
                     " vector) VALUES (?, ?, ?, 5, 6, 100, 7, NULL, ?, ?)", (f"/c/{i}.png", f"l{i % 3}", f"h{i}", time.time(), v.tobytes()))
    conn.execute("INSERT INTO directions VALUES ('up', 'vector', 'a direction', 1.0, ?)", (vectors[0].tobytes(),))
    conn.execute("DELETE FROM items WHERE id > ?", (len(vectors) - removed,))  # the newest ids were removed
    conn.commit()
    ids = [r[0] for r in conn.execute("SELECT id FROM items ORDER BY id")]
    conn.close()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))
    unit = vectors[: len(ids)] / np.linalg.norm(vectors[: len(ids)], axis=1, keepdims=True)
    index.add_with_ids(unit.astype(np.float32), np.asarray(ids, dtype=np.int64))
    data = faiss.serialize_index(index).tobytes()
    (directory / "index-000001.faiss").write_bytes(data)
    manifest = {
        "embedder": INFO.__dict__, "metric": "cosine", "faiss_factory": "Flat", "count": len(ids),
        "faiss_file": {"name": "index-000001.faiss", "sha256": sha256_bytes(data), "size": len(data)},
        "created_at": 1.0, "updated_at": 1.0, "versions": {}, "format_version": 1,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return ids


def test_a_first_format_index_is_migrated_on_open_and_loses_nothing(tmp_path, caplog):
    vectors = np.random.default_rng(0).normal(size=(40, DIM)).astype(np.float32)
    directory = tmp_path / "old"
    ids = write_first_format(directory, vectors, removed=5)
    with caplog.at_level(logging.WARNING, logger="latentspace.indexer"):
        store = IndexStore.open(directory, readonly=True)  # even a read-only open migrates (it takes the lock)
    assert "migrating" in caplog.text and "nothing is lost" in caplog.text
    with store:
        assert store.manifest.format_version == 2 and store.manifest.vector_dtype == "float32"
        assert store.ids().tolist() == ids
        assert store.vectors(ids).tobytes() == vectors[: len(ids)].tobytes()
        item = store.items([ids[3]])[ids[3]]
        assert (item.path, item.label, item.width, item.height) == ("/c/3.png", "l0", 5, 6)
        assert store.db.get_direction("up").vector.tobytes() == vectors[0].tobytes()
        assert store.uses_faiss
        _, found = store.search(vectors[: len(ids)], 1)
        assert found[:, 0].tolist() == ids
    columns = [r[1] for r in sqlite3.connect(directory / "items.sqlite").execute("PRAGMA table_info(items)")]
    assert "vector" not in columns and {"shard", "row"} <= set(columns)
    with IndexStore.open(directory) as store:  # a second open migrates nothing; new ids never reuse removed ones
        (new,) = store.add([NewItem("/c/new.png", "", "n", 1, 1, vectors[39])])
        assert new == 41
        assert store.db.file_states()["/c/3.png"].file_size == 100


def test_a_migration_killed_before_its_commit_starts_over(tmp_path, monkeypatch):
    vectors = np.random.default_rng(1).normal(size=(10, DIM)).astype(np.float32)
    directory = tmp_path / "old"
    ids = write_first_format(directory, vectors, removed=0)
    from latentspace.indexer.item_db import ItemDB

    def killed(self, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(ItemDB, "finish_migration", killed)
    try:
        IndexStore.open(directory)
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    assert (directory / "vectors" / "shard-000001.bin").exists(), "vectors were written, not yet named"
    with IndexStore.open(directory) as store:
        assert store.vectors(ids).tobytes() == vectors.tobytes()
        assert store.vector_files.stored_rows == 10, "the rows of the interrupted attempt were dropped"
