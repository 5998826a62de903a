"""Reruns of ``latentspace index`` do only the work a change needs, and refuse incompatible flags."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from latentspace.indexer import IndexStore, decode_image


def stored(index: Path) -> dict[str, tuple[int, np.ndarray]]:
    """{path: (id, vector)} as the store holds them."""
    with IndexStore.open(index, readonly=True) as store:
        ids, vectors = store.snapshot()
        items = store.items(ids.tolist())
    return {items[i].path: (i, v) for i, v in zip(ids.tolist(), vectors)}


@pytest.fixture
def corpus(tmp_path, corpus_writer) -> Path:
    root = tmp_path / "corpus"
    corpus_writer(root, per_label=2)  # red/green/blue, 2 each
    return root.resolve()


@pytest.fixture
def built(corpus, tmp_path, index_run) -> tuple[Path, Path]:
    """A 6-image index of ``corpus`` built by the command."""
    index = tmp_path / "idx"
    result = index_run(corpus, index)
    assert result.code == 0 and "indexed 6 new" in result.out, result.text
    return corpus, index


def test_rerun_without_changes_embeds_nothing(built, index_run):
    corpus, index = built
    before = stored(index)
    result = index_run(corpus, index)
    assert result.code == 0, result.text
    assert "indexed 0 new, 0 changed, 6 unchanged, 0 pruned; skipped 0" in result.out
    after = stored(index)
    assert {p: i for p, (i, _) in after.items()} == {p: i for p, (i, _) in before.items()}


def test_new_and_changed_files(built, draw, index_run, random_embedder):
    corpus, index = built
    before = stored(index)
    draw(900, (10, 10, 10)).save(corpus / "blue" / "new.png")
    target = corpus / "red" / "red_1.png"
    replacement = draw(901, (250, 250, 0))
    replacement.save(target)
    result = index_run(corpus, index)
    assert result.code == 0, result.text
    assert "indexed 1 new, 1 changed, 5 unchanged" in result.out

    after = stored(index)
    assert set(after) == set(before) | {str(corpus / "blue" / "new.png")}
    old_id, old_vector = before[str(target)]
    new_id, new_vector = after[str(target)]
    assert new_id != old_id and new_id > max(i for i, _ in before.values())
    assert old_id not in {i for i, _ in after.values()}
    assert np.abs(new_vector - old_vector).max() > 1e-3
    expected = random_embedder.embed_images([decode_image(target.read_bytes()).image])[0]
    assert np.abs(new_vector - expected).max() <= 1e-5
    for path, (item_id, vector) in before.items():  # untouched items keep id and vector
        if path != str(target):
            assert after[path][0] == item_id
            np.testing.assert_array_equal(after[path][1], vector)

    with IndexStore.open(index, readonly=True) as store:
        assert store.uses_faiss and store.faiss.ntotal == len(store) == 7
        _, ids = store.search(new_vector[None], k=7)
        assert old_id not in ids[0].tolist() and ids[0][0] == new_id


def test_touched_but_unchanged_file_is_not_reembedded(built, index_run):
    corpus, index = built
    before = stored(index)
    target = corpus / "green" / "green_0.jpg"
    later = target.stat().st_mtime_ns + 5_000_000_000
    os.utime(target, ns=(later, later))
    result = index_run(corpus, index)
    assert "indexed 0 new, 0 changed, 6 unchanged" in result.out, result.text
    assert stored(index)[str(target)][0] == before[str(target)][0]
    with sqlite3.connect(index / "items.sqlite") as db:  # the new mtime is remembered: no rehash next time
        (mtime,) = db.execute("SELECT mtime_ns FROM items WHERE path = ?", (str(target),)).fetchone()
    assert mtime == later


def test_prune_removes_items_of_deleted_files(built, index_run):
    corpus, index = built
    before = stored(index)
    gone = corpus / "green" / "green_1.png"
    gone.unlink()
    kept = index_run(corpus, index)
    assert "0 pruned" in kept.out and len(stored(index)) == 6, kept.text
    result = index_run(corpus, index, "--prune")
    assert result.code == 0, result.text
    assert "indexed 0 new, 0 changed, 5 unchanged, 1 pruned" in result.out
    after = stored(index)
    assert set(after) == set(before) - {str(gone)}
    with IndexStore.open(index, readonly=True) as store:
        assert store.faiss.ntotal == len(store) == 5
        _, ids = store.search(before[str(gone)][1][None], k=6)
        assert before[str(gone)][0] not in ids[0].tolist()


def test_labels_come_from_parent_folders(tmp_path, draw, index_run, export):
    root = tmp_path / "c"
    (root / "animals" / "cats").mkdir(parents=True)
    draw(1, (200, 40, 30)).save(root / "top.png")
    draw(2, (40, 170, 60)).save(root / "animals" / "a.png")
    draw(3, (30, 60, 200)).save(root / "animals" / "cats" / "b.png")
    draw(4, (30, 60, 200)).save(root / "animals" / ".hidden.png")
    assert index_run(root, tmp_path / "idx").code == 0
    data = export(tmp_path / "idx")
    base = root.resolve()
    assert dict(zip(data["paths"].tolist(), data["labels"].tolist())) == {
        str(base / "top.png"): "",
        str(base / "animals" / "a.png"): "animals",
        str(base / "animals" / "cats" / "b.png"): "cats",
    }


def test_list_corpus_resolves_relative_paths_against_its_folder(tmp_path, draw, index_run, export, monkeypatch):
    lists = tmp_path / "lists"
    (lists / "pics" / "dogs").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    draw(1, (200, 40, 30)).save(lists / "pics" / "dogs" / "rex.png")
    draw(2, (40, 170, 60)).save(tmp_path / "elsewhere" / "abs.jpg")
    listing = lists / "corpus.txt"
    listing.write_text(f"# my corpus\n\n  pics/dogs/rex.png  \n{tmp_path / 'elsewhere' / 'abs.jpg'}\npics/dogs/rex.png\n")
    monkeypatch.chdir(tmp_path / "elsewhere")  # relative paths must not depend on the working directory
    result = index_run(listing, tmp_path / "idx")
    assert result.code == 0 and "indexed 2 new" in result.out, result.text
    data = export(tmp_path / "idx")
    assert dict(zip(data["paths"].tolist(), data["labels"].tolist())) == {
        str((lists / "pics" / "dogs" / "rex.png").resolve()): "dogs",
        str((tmp_path / "elsewhere" / "abs.jpg").resolve()): "elsewhere",
    }


def test_export_writes_exactly_what_the_store_holds(small_index, export, tmp_path):
    data = export(small_index, tmp_path / "out.npz")
    assert set(data) == {"ids", "vectors", "paths", "labels"}
    assert data["ids"].dtype == np.int64 and data["vectors"].dtype == np.float32
    assert data["vectors"].shape == (12, 4096)
    assert list(data["ids"]) == sorted(data["ids"])
    with IndexStore.open(small_index, readonly=True) as store:
        ids, vectors = store.snapshot()
        items = store.items(ids.tolist())
    np.testing.assert_array_equal(data["ids"], ids)
    np.testing.assert_array_equal(data["vectors"], vectors)
    assert data["paths"].tolist() == [items[i].path for i in ids.tolist()]
    assert data["labels"].tolist() == [items[i].label for i in ids.tolist()]
    assert sorted(set(data["labels"].tolist())) == ["blue", "green", "red"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--layer", "fc6"], "layer: index has 'fc7', asked for 'fc6'"),
        (["--weights", "random:1"], "weights: index has random:0"),
    ],
)
def test_other_embedder_on_an_existing_index_is_refused(flags, expected, small_index, photo_corpus, index_run):
    before = stored(small_index)
    result = index_run(photo_corpus, small_index, *flags)
    assert result.code == 1
    assert expected in result.err and "built with another embedder" in result.err, result.err
    assert {p: i for p, (i, _) in stored(small_index).items()} == {p: i for p, (i, _) in before.items()}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(["--metric", "l2"], "--metric cosine"), (["--faiss", "IVF4,Flat"], "--faiss Flat")],
)
def test_conflicting_metric_or_faiss_is_refused(flags, expected, small_index, photo_corpus, index_run):
    result = index_run(photo_corpus, small_index, *flags)
    assert result.code == 2
    assert expected in result.err and str(small_index) in result.err, result.err


def test_matching_metric_and_faiss_are_accepted(small_index, photo_corpus, index_run):
    result = index_run(photo_corpus, small_index, "--metric", "cosine", "--faiss", "Flat")
    assert result.code == 0 and "indexed 0 new" in result.out, result.text


def test_ivf_index_is_trained_on_the_corpus_and_searched(photo_corpus, tmp_path, index_run, draw):
    index = tmp_path / "ivf"
    result = index_run(photo_corpus, index, "--faiss", "IVF4,Flat")
    assert result.code == 0, result.text
    assert "holds 12 items (FAISS IVF4,Flat)" in result.out

    def check(count: int) -> None:
        with IndexStore.open(index, readonly=True) as store:
            assert store.manifest.faiss_factory == "IVF4,Flat"
            assert store.faiss.is_trained and store.uses_faiss
            assert store.faiss.ntotal == len(store) == count
            ids, vectors = store.snapshot()
            scores, found = store.search(vectors, k=1)
            np.testing.assert_array_equal(found[:, 0], ids)  # each vector finds itself
            np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)

    check(12)
    rerun = index_run(photo_corpus, index)
    assert "indexed 0 new" in rerun.out, rerun.text
    check(12)  # a rerun must not add the vectors to FAISS a second time
    draw(77, (90, 90, 90)).save(tmp_path / "extra.png")
    listing = tmp_path / "more.txt"  # the same 12 files and one more: FAISS, now trained, takes it
    listing.write_text("\n".join([*(str(p) for p in sorted(photo_corpus.rglob("*.*"))), "extra.png"]) + "\n")
    more = index_run(listing, index)
    assert "indexed 1 new, 0 changed, 12 unchanged" in more.out, more.text
    check(13)


def test_ivf_index_with_too_few_vectors_searches_exactly_until_trainable(tmp_path, draw, index_run):
    root = tmp_path / "c"
    root.mkdir()
    for i in range(2):
        draw(i, (100, 100, 100)).save(root / f"{i}.png")
    result = index_run(root, tmp_path / "idx", "--faiss", "IVF4,Flat")
    assert result.code == 0 and "exact search" in result.out, result.text
    with IndexStore.open(tmp_path / "idx", readonly=True) as store:
        assert not store.uses_faiss
        ids, vectors = store.snapshot()
        _, found = store.search(vectors, k=1)
        np.testing.assert_array_equal(found[:, 0], ids)
    for i in range(2, 5):
        draw(i, (100, 100, 100)).save(root / f"{i}.png")
    result = index_run(root, tmp_path / "idx")
    assert "holds 5 items (FAISS IVF4,Flat)" in result.out, result.text


@pytest.mark.parametrize("factory", ["Garbage", "IDMap,Flat"])
def test_bad_faiss_factory_is_a_clear_error_and_leaves_no_index(factory, photo_corpus, tmp_path, index_run):
    index = tmp_path / "idx"
    result = index_run(photo_corpus, index, "--faiss", factory)
    assert result.code == 1
    assert factory in result.err and "Traceback" not in result.err, result.err
    assert not (index / "manifest.json").exists()
    assert not index.exists() or not any(index.iterdir())


def test_worker_processes_give_the_same_vectors(photo_corpus, small_index, tmp_path, index_run):
    result = index_run(photo_corpus, tmp_path / "idx", "--workers", "2", "--batch-size", "5")
    assert result.code == 0, result.text
    with_workers = stored(tmp_path / "idx")
    reference = stored(small_index)
    assert set(with_workers) == set(reference)
    for path, (_, vector) in reference.items():
        assert np.abs(with_workers[path][1] - vector).max() <= 1e-5
