"""The Ray indexer's commit step without a cluster: staged shards enter the index once, whatever happens."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyarrow", reason="staged shards are Parquet files: pip install '.[ray]'")

from latentspace.indexer import EmbedderInfo, IndexStore  # noqa: E402
from latentspace.indexer.distributed import Staging, commit_shard  # noqa: E402
from latentspace.indexer.report import IndexReport  # noqa: E402
from latentspace.indexer.stages import file_states  # noqa: E402


def shard(keys: list[str], dim: int, seed: int, *, skip: str | None = None) -> tuple[dict, np.ndarray]:
    rows = [k for k in keys if k != skip]
    meta = {
        "key": keys, "label": ["x"] * len(keys), "size": [10] * len(keys), "mtime_ns": [5] * len(keys),
        "status": ["skip" if k == skip else "ok" for k in keys],
        "sha256": ["" if k == skip else f"{hash((k, seed)) & 0xFFFFFFFF:064x}" for k in keys],
        "width": [8] * len(keys), "height": [6] * len(keys),
        "reason": ["corrupt" if k == skip else "" for k in keys], "message": ["bad bytes" if k == skip else "" for k in keys],
    }
    return meta, np.random.default_rng(seed).standard_normal((len(rows), dim)).astype(np.float32)


@pytest.fixture
def store(tmp_path, random_embedder):
    with IndexStore.create(tmp_path / "idx", EmbedderInfo.from_embedder(random_embedder)) as opened:
        yield opened


def test_a_shard_committed_twice_adds_nothing(store):
    staging = Staging(store.directory)
    meta, vectors = shard(["a.jpg", "b.jpg", "c.jpg"], store.dim, 1, skip="b.jpg")
    staging.write("s1", meta, vectors)
    assert staging.pending() == ["s1"]
    report = IndexReport()
    assert commit_shard(store, staging, "s1", file_states(store), report)
    assert (report.indexed, [s.path for s in report.skipped]) == (2, ["b.jpg"])
    assert len(store) == 2 and staging.pending() == []
    ids, stored = store.snapshot()
    np.testing.assert_array_equal(stored[np.argsort(ids)], vectors)  # exactly the staged vectors, in order
    staging.write("s1", meta, vectors)  # the same shard again, e.g. from a retried driver
    assert not commit_shard(store, staging, "s1", file_states(store), IndexReport())
    assert len(store) == 2


def test_a_commit_cut_short_before_it_was_recorded_is_recognised_by_content(store):
    staging = Staging(store.directory)
    meta, vectors = shard(["a.jpg", "b.jpg"], store.dim, 2)
    staging.write("s2", meta, vectors)
    assert commit_shard(store, staging, "s2", file_states(store), IndexReport())
    # A kill after the store's transaction but before committed.txt: the shard is there again, unlisted.
    (staging.directory / "committed.txt").write_text("")
    staging.write("s2", meta, vectors)
    assert staging.pending() == ["s2"]
    report = IndexReport()
    commit_shard(store, staging, "s2", file_states(store), report)
    assert report.indexed == 0 and len(store) == 2
    # A changed image under the same key replaces its item rather than adding one.
    changed, new_vectors = shard(["a.jpg"], store.dim, 3)
    staging.write("s3", changed, new_vectors)
    report = IndexReport()
    commit_shard(store, staging, "s3", file_states(store), report)
    assert (report.indexed, report.updated, len(store)) == (0, 1, 2)
    staging.clear()
    assert not staging.directory.exists()
