"""Vectors in shard files: read back exactly, tombstoned, compacted crash-safely, float16 rounded."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.indexer import EmbedderInfo, IndexSettings, IndexStore, NewItem
from latentspace.indexer.vector_files import VectorFiles

DIM = 16
INFO = EmbedderInfo(model="alexnet", layer="fc7", dimension=DIM, weights="random:0",
                    weights_description="test vectors", weights_sha256="0" * 64, pretrained=False)


def items(vectors: np.ndarray, tag: str = "a") -> list[NewItem]:
    return [NewItem(f"/c/{tag}{i}.png", "x", f"s{i}", 1, 1, v) for i, v in enumerate(vectors)]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_stored_vectors_read_back_exactly_or_within_float16_rounding(tmp_path, dtype):
    vectors = (np.random.default_rng(1).normal(size=(300, DIM)) * 3).astype(np.float32)
    with IndexStore.create(tmp_path / "i", INFO, IndexSettings(vector_dtype=dtype)) as store:
        ids = store.add(items(vectors))
    with IndexStore.open(tmp_path / "i", readonly=True) as store:
        back = store.vectors(ids)
        assert store.manifest.vector_dtype == dtype
        chunked = np.concatenate([v for _, v in store.iter_vector_chunks(7)])
    expected = vectors if dtype == "float32" else vectors.astype(np.float16).astype(np.float32)
    assert back.tobytes() == expected.tobytes(), "bit-exact for float32, float16's rounding for float16"
    np.testing.assert_array_equal(chunked, expected)
    if dtype == "float16":
        np.testing.assert_allclose(back, vectors, rtol=2 ** -11, atol=0)
    size = (tmp_path / "i" / "vectors" / "shard-000001.bin").stat().st_size
    assert size == 300 * DIM * (4 if dtype == "float32" else 2)


def test_float16_refuses_values_it_cannot_hold(tmp_path):
    with IndexStore.create(tmp_path / "i", INFO, IndexSettings(vector_dtype="float16")) as store:
        huge = np.full((1, DIM), 1e6, dtype=np.float32)
        with pytest.raises(ValueError, match="float16"):
            store.add(items(huge))
        assert len(store) == 0 and store.db.count() == 0


def test_removed_rows_are_tombstones_until_compaction_reclaims_them(tmp_path):
    vectors = np.random.default_rng(2).normal(size=(100, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "i", INFO) as store:
        ids = store.add(items(vectors))
        store.remove(ids[:60])
        assert store.vector_files.dead_rows == 60 and len(store) == 40
        assert store.compact() == 60
        assert store.vector_files.dead_rows == 0
        np.testing.assert_array_equal(store.vectors(ids[60:]), vectors[60:])
        with pytest.raises(KeyError):
            store.vectors([ids[0]])
    shards = sorted(p.name for p in (tmp_path / "i" / "vectors").iterdir())
    assert shards == ["shard-000002.bin"], "the old shard file is gone"
    with IndexStore.open(tmp_path / "i") as store:
        np.testing.assert_array_equal(store.vectors(ids[60:]), vectors[60:])
        _, found = store.search(vectors[60:], 1)
        np.testing.assert_array_equal(found[:, 0], ids[60:])


def test_a_compaction_interrupted_before_its_commit_changes_nothing(tmp_path):
    vectors = np.random.default_rng(3).normal(size=(50, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "i", INFO) as store:
        ids = store.add(items(vectors))
        store.remove(ids[:10])
        store.vector_files.write_compacted()  # new files written, then "killed" before SQLite names them
        store.close(save=False)
    assert len(list((tmp_path / "i" / "vectors").iterdir())) == 2
    with IndexStore.open(tmp_path / "i") as store:
        assert [p.name for p in (tmp_path / "i" / "vectors").iterdir()] == ["shard-000001.bin"]
        np.testing.assert_array_equal(store.vectors(ids[10:]), vectors[10:])


def test_rows_written_but_never_committed_stay_dead_and_a_half_row_is_overwritten(tmp_path):
    vectors = np.random.default_rng(4).normal(size=(20, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "i", INFO) as store:
        ids = store.add(items(vectors))
        store.vector_files.append(vectors[:5])  # fsynced, but its transaction never comes
    shard = tmp_path / "i" / "vectors" / "shard-000001.bin"
    with open(shard, "ab") as handle:
        handle.write(b"\x01\x02\x03")  # and half a row from a kill mid-write
    with IndexStore.open(tmp_path / "i") as store:
        assert len(store) == 20 and store.vector_files.dead_rows == 5
        new = store.add(items(vectors[:2], tag="b"))
        np.testing.assert_array_equal(store.vectors(ids + new), np.concatenate([vectors, vectors[:2]]))
    assert shard.stat().st_size == 27 * DIM * 4, "the half row was overwritten, not appended after"


def test_shards_roll_over_at_their_size(tmp_path):
    files = VectorFiles(tmp_path / "v", 4, "float32", shard_bytes=4 * 4 * 10)
    shards, rows = files.append(np.arange(100, dtype=np.float32).reshape(25, 4))
    files.commit(np.arange(1, 26), shards, rows)
    assert shards.tolist() == [1] * 10 + [2] * 10 + [3] * 5 and rows.tolist()[10] == 0
    np.testing.assert_array_equal(files.get(np.array([25, 1, 11])), np.array([[96, 97, 98, 99], [0, 1, 2, 3], [40, 41, 42, 43]]))


def test_a_shard_shorter_than_sqlite_says_is_refused(tmp_path):
    vectors = np.random.default_rng(5).normal(size=(10, DIM)).astype(np.float32)
    with IndexStore.create(tmp_path / "i", INFO) as store:
        store.add(items(vectors))
    shard = tmp_path / "i" / "vectors" / "shard-000001.bin"
    shard.write_bytes(shard.read_bytes()[: 5 * DIM * 4])
    with pytest.raises(FileNotFoundError, match="shard-000001.bin holds 5 vectors"):
        IndexStore.open(tmp_path / "i")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_rows_read_in_any_order_across_shards_are_the_rows_stored(tmp_path, dtype):
    stored = (np.random.default_rng(4).normal(size=(50, 8)) * 5).astype(np.float32)
    files = VectorFiles(tmp_path / "v", 8, dtype, shard_bytes=8 * (4 if dtype == "float32" else 2) * 7)
    shards, rows = files.append(stored)
    files.commit(np.arange(1, 51), shards, rows)
    expected = stored if dtype == "float32" else stored.astype(np.float16).astype(np.float32)
    for order in (np.arange(1, 51), np.random.default_rng(5).permutation(50) + 1, np.array([50, 3, 3, 49, 8])):
        assert files.get(order).tobytes() == expected[order - 1].tobytes()


def _rss_file_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("RssFile:"))


def test_a_releasing_pass_leaves_the_rows_unmapped(tmp_path):
    dim, count = 1024, 16384  # 64 MiB of float32 rows, read in 1,024-row (4 MiB) chunks
    files = VectorFiles(tmp_path / "v", dim, "float32")
    block = np.random.default_rng(0).random((1024, dim), dtype=np.float32)
    for start in range(0, count, 1024):
        shards, rows = files.append(block + start)
        files.commit(np.arange(start + 1, start + 1025), shards, rows)
    before = _rss_file_bytes()
    total = sum(float(v[0, 0]) for _, v in files.iter_chunks(1024, release=True))
    released = _rss_file_bytes() - before
    for _ in files.iter_chunks(1024):
        pass
    kept = _rss_file_bytes() - before
    assert total > 0
    assert kept > 48 << 20, f"a plain pass should leave the 64 MiB it read mapped, grew {kept >> 20} MiB"
    assert released < 12 << 20, f"a releasing pass should keep about a chunk mapped, grew {released >> 20} MiB"
