"""WebDataset shards and Parquet files as sources of the local indexer: keys, labels, reruns, reading back."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
from support.datasets import add_member, assert_same_index, index_contents, write_parquet, write_webdataset

from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, index_corpus
from latentspace.indexer.sources import SourceError, SourceOptions, expand_braces, open_source, read_key

LOCAL = IndexOptions(workers=0, progress=False, batch_size=5)


def build(directory: Path, items, embedder):
    if IndexStore.exists(directory):
        store = IndexStore.open(directory)
    else:
        store = IndexStore.create(directory, EmbedderInfo.from_embedder(embedder))
    with store:
        return index_corpus(items, store, embedder, LOCAL)


@pytest.fixture(scope="module")
def folder_index(tmp_path_factory, corpus_files, random_embedder) -> dict:
    directory = tmp_path_factory.mktemp("folder") / "idx"
    build(directory, open_source(corpus_files[0].parent.parent), random_embedder)
    return index_contents(directory)


def by_sha(contents: dict) -> dict:
    return {sha: (label, vector) for label, sha, vector in contents.values()}


def test_brace_patterns_expand_in_order_with_their_padding():
    assert expand_braces("s/{000..002}.tar") == ["s/000.tar", "s/001.tar", "s/002.tar"]
    assert expand_braces("{a,b}-{8..10}.tar") == ["a-8.tar", "a-9.tar", "a-10.tar", "b-8.tar", "b-9.tar", "b-10.tar"]
    assert expand_braces("plain.tar") == ["plain.tar"]
    with pytest.raises(SourceError, match="counts down"):
        expand_braces("{5..2}.tar")


def test_webdataset_shards_index_like_the_folder_with_keys_labels_and_a_skipped_corrupt_sample(
        tmp_path, corpus_files, folder_index, random_embedder):
    shards = write_webdataset(corpus_files, tmp_path / "wds", shards=3, corrupt_in=1)
    items = open_source(f"{tmp_path}/wds/{{00000..00002}}.tar")
    assert len(items) == 13
    assert all("#" in item.key and item.key.split("#")[0].endswith(".tar") for item in items)
    report = build(tmp_path / "idx", items, random_embedder)
    assert report.indexed == 12 and [(s.path, s.reason) for s in report.skipped] == [(f"{shards[1]}#broken.jpg", "truncated")]
    contents = index_contents(tmp_path / "idx")
    # The same bytes give the same vector and label as when indexed from the folder.
    expected = by_sha(folder_index)
    assert {sha: label for sha, (label, _) in by_sha(contents).items()} == {sha: label for sha, (label, _) in expected.items()}
    for sha, (_, vector) in by_sha(contents).items():
        np.testing.assert_allclose(vector, expected[sha][1], rtol=0, atol=1e-5)
    # Every stored key reads back to the bytes it was embedded from.
    for path, (_, sha, _) in contents.items():
        assert hashlib.sha256(read_key(path)).hexdigest() == sha


def test_webdataset_reruns_are_incremental_per_sample(tmp_path, corpus_files, random_embedder):
    shards = write_webdataset(corpus_files, tmp_path / "wds", shards=3)
    pattern = str(tmp_path / "wds" / "{00000..00002}.tar")
    assert build(tmp_path / "idx", open_source(pattern), random_embedder).indexed == 12
    again = build(tmp_path / "idx", open_source(pattern), random_embedder)
    assert (again.indexed, again.updated, again.unchanged) == (0, 0, 12)
    before = index_contents(tmp_path / "idx")
    # Rewrite shard 0 with one more sample: only that sample is embedded; the others are re-read, found unchanged.
    with tarfile.open(shards[0]) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(shards[0], "w") as tar:
        for name, data in members:
            add_member(tar, name, data)
        add_member(tar, "extra.png", corpus_files[1].read_bytes())
        add_member(tar, "extra.cls", b"green")
    os.utime(shards[0], ns=(1, 1))
    third = build(tmp_path / "idx", open_source(pattern), random_embedder)
    assert (third.indexed, third.updated, third.unchanged) == (1, 0, 12)
    after = index_contents(tmp_path / "idx")
    assert set(after) == set(before) | {f"{shards[0]}#extra.png"}
    assert after[f"{shards[0]}#extra.png"][0] == "green"


def test_parquet_rows_index_like_the_folder_and_rerun_incrementally(tmp_path, corpus_files, folder_index, random_embedder):
    path = write_parquet(corpus_files, tmp_path / "photos.parquet", corrupt_at=3)
    options = SourceOptions(parquet_label_column="label")
    items = open_source(path, options)
    assert [item.key for item in items[:2]] == [f"{path}#0.jpg", f"{path}#1.jpg"]
    report = build(tmp_path / "idx", items, random_embedder)
    assert report.indexed == 12 and [(s.path, s.reason) for s in report.skipped] == [(f"{path}#3.jpg", "truncated")]
    contents = index_contents(tmp_path / "idx")
    expected = by_sha(folder_index)
    assert {sha: label for sha, (label, _) in by_sha(contents).items()} == {sha: label for sha, (label, _) in expected.items()}
    for sha, (_, vector) in by_sha(contents).items():
        np.testing.assert_allclose(vector, expected[sha][1], rtol=0, atol=1e-5)
    again = build(tmp_path / "idx", open_source(path, options), random_embedder)
    assert (again.indexed, again.unchanged, len(again.skipped)) == (0, 12, 1)  # the corrupt row is retried, still skipped
    # Rewriting the file with the same rows re-reads them but embeds nothing.
    write_parquet(corpus_files, path, corrupt_at=3)
    os.utime(path, ns=(2, 2))
    third = build(tmp_path / "idx", open_source(path, options), random_embedder)
    assert (third.indexed, third.updated, third.unchanged) == (0, 0, 12)
    assert index_contents(tmp_path / "idx").keys() == contents.keys()


def test_parquet_columns_are_checked_with_a_message_that_names_the_flag(tmp_path, corpus_files):
    path = write_parquet(corpus_files[:2], tmp_path / "p.parquet")
    with pytest.raises(SourceError, match="no column 'image'.*--parquet-image-column"):
        open_source(path, SourceOptions(parquet_image_column="image"))
    with pytest.raises(SourceError, match="does not exist"):
        open_source(tmp_path / "missing.parquet")
    (tmp_path / "bad.tar").write_bytes(b"not a tar at all" * 100)
    with pytest.raises(SourceError, match="bad.tar"):
        open_source(tmp_path / "bad.tar")


def test_read_key_reads_items_back_and_says_when_they_are_gone(tmp_path, corpus_files):
    shards = write_webdataset(corpus_files[:3], tmp_path / "wds", shards=1)
    path = write_parquet(corpus_files[:3], tmp_path / "p.parquet", row_group_size=2)
    assert read_key(f"{shards[0]}#00002{corpus_files[2].suffix}") == corpus_files[2].read_bytes()
    assert read_key(f"{path}#2.jpg") == corpus_files[2].read_bytes()  # second row group
    assert read_key(str(corpus_files[0])) == corpus_files[0].read_bytes()
    with pytest.raises(FileNotFoundError):
        read_key(f"{shards[0]}#nothing.jpg")
    with pytest.raises(FileNotFoundError):
        read_key(f"{path}#9.jpg")


def test_thumbnails_and_the_cli_work_for_items_inside_shards(tmp_path, corpus_files, capsys):
    from latentspace.cli.main import main
    from latentspace.render.thumbnails import ThumbnailCache

    write_webdataset(corpus_files[:4], tmp_path / "wds", shards=2, corrupt_in=0)
    code = main(["index", f"{tmp_path}/wds/{{00000..00001}}.tar", "--index", str(tmp_path / "idx"), "--weights", "random:0",
                 "--workers", "0", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0
    assert "indexed 4 new" in out.out and "skipped 1 (truncated: 1)" in out.out
    assert "broken.jpg: truncated" in out.err
    with IndexStore.open(tmp_path / "idx", readonly=True) as store:
        items = store.items(store.snapshot()[0].tolist())
    cache = ThumbnailCache(tmp_path / "idx", write=False)
    for item in items.values():
        assert cache.thumbnail(item).size == (128, 128)
