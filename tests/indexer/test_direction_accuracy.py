"""A learned direction's held-out accuracy is stored with it; an index whose directions table
predates that column opens with its directions whole and stores accuracies from then on."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from latentspace.indexer import EmbedderInfo, IndexStore

DIM = 8
INFO = EmbedderInfo(model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
                    weights_description="test vectors", weights_sha256="0" * 64, pretrained=False)
UP = np.arange(1, DIM + 1, dtype=np.float32)


def _drop_accuracy_column(path) -> None:
    """Rewrite the directions table as indexes made before the column wrote it."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE old_directions (name TEXT PRIMARY KEY, kind TEXT NOT NULL, description TEXT NOT NULL,
                                     created_at REAL NOT NULL, vector BLOB NOT NULL);
        INSERT INTO old_directions SELECT name, kind, description, created_at, vector FROM directions;
        DROP TABLE directions;
        ALTER TABLE old_directions RENAME TO directions;
    """)
    conn.close()


def test_accuracy_round_trips_and_other_kinds_have_none(tmp_path):
    with IndexStore.create(tmp_path / "idx", INFO) as store:
        store.put_direction("learned", "learned", "a probe", UP, accuracy=0.875)
        store.put_direction("plain", "vector", "a vector", -UP)
    with IndexStore.open(tmp_path / "idx", readonly=True) as store:
        assert store.get_direction("learned").accuracy == pytest.approx(0.875)
        assert [(d.name, d.accuracy) for d in store.list_directions()] == [("learned", pytest.approx(0.875)),
                                                                           ("plain", None)]


@pytest.mark.parametrize("readonly", [True, False])
def test_an_index_from_before_the_column_opens_and_loses_nothing(tmp_path, readonly):
    directory = tmp_path / "idx"
    with IndexStore.create(directory, INFO) as store:
        before = store.put_direction("up", "sets", "made earlier", UP)
    _drop_accuracy_column(directory / "items.sqlite")
    columns = [r[1] for r in sqlite3.connect(directory / "items.sqlite").execute("PRAGMA table_info(directions)")]
    assert "accuracy" not in columns
    with IndexStore.open(directory, readonly=readonly) as store:
        (found,) = store.list_directions()
        assert (found.name, found.kind, found.description, found.created_at, found.accuracy) == \
            ("up", "sets", "made earlier", before.created_at, None)
        assert found.vector.tobytes() == UP.tobytes()
    with IndexStore.open(directory) as store:  # a second open adds nothing; new rows keep their accuracy
        store.put_direction("probe", "learned", "a probe", -UP, accuracy=0.5)
        assert store.get_direction("probe").accuracy == 0.5 and store.get_direction("up").accuracy is None
