"""import-vectors reads what export writes (and Parquet with the same columns), streamed; a rerun
adds nothing twice; --model none --dim D makes a vector-only index."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from latentspace.indexer import IndexStore

DIM = 24


def export_of(index, tmp_path, cli, name="out.npz"):
    out = tmp_path / name
    assert cli("export", index, "--out", out).code == 0
    with np.load(out, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_npz_round_trip_through_import_and_export(tmp_path, cli):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(700, DIM)).astype(np.float32)
    paths = np.array([f"/elsewhere/{i}.jpg" for i in range(700)])
    labels = np.array(["cat", "dog", ""] * 233 + ["cat"])
    source = tmp_path / "in.npz"
    np.savez(source, vectors=vectors, paths=paths, labels=labels)

    index = tmp_path / "idx"
    first = cli("import-vectors", index, "--vectors", source, "--model", "none", "--dim", DIM, "--no-progress")
    assert first.code == 0, first.text
    assert "imported 700 new, 0 replaced, 0 unchanged" in first.out
    again = cli("import-vectors", index, "--vectors", source, "--no-progress")
    assert "imported 0 new, 0 replaced, 700 unchanged" in again.out, again.text

    data = export_of(index, tmp_path, cli)
    assert data["vectors"].tobytes() == vectors.tobytes(), "float32 vectors come back bit-exact"
    assert data["paths"].tolist() == paths.tolist() and data["labels"].tolist() == labels.tolist()
    assert data["ids"].tolist() == list(range(1, 701))
    with IndexStore.open(index, readonly=True) as store:
        assert store.manifest.embedder.model == "none" and store.dim == DIM

    copy = tmp_path / "copy"  # what export wrote imports as it is
    assert cli("import-vectors", copy, "--vectors", tmp_path / "out.npz", "--model", "none", "--dim", DIM,
                   "--no-progress").code == 0
    assert export_of(copy, tmp_path, cli, "copy.npz")["vectors"].tobytes() == vectors.tobytes()


def test_parquet_with_the_same_columns_imports_in_batches(tmp_path, cli):
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(9000, DIM)).astype(np.float32)  # more rows than one batch
    table = pa.table({"ids": np.arange(9000), "vectors": pa.array(list(vectors), type=pa.list_(pa.float32())),
                      "labels": ["a"] * 9000})
    source = tmp_path / "in.parquet"
    pq.write_table(table, source, row_group_size=1000)
    index = tmp_path / "idx"
    result = cli("import-vectors", index, "--vectors", source, "--model", "none", "--dim", DIM,
                     "--vector-dtype", "float16", "--no-progress")
    assert result.code == 0, result.text
    data = export_of(index, tmp_path, cli)
    np.testing.assert_array_equal(data["vectors"], vectors.astype(np.float16).astype(np.float32))
    assert data["paths"][5] == "in.parquet#5" and set(data["labels"].tolist()) == {"a"}


def test_bad_vector_files_are_refused_with_what_to_change_and_store_nothing(tmp_path, cli):
    index = tmp_path / "idx"
    good = tmp_path / "good.npz"
    np.savez(good, vectors=np.ones((3, DIM), np.float32), ids=np.arange(3))
    assert cli("import-vectors", index, "--vectors", good, "--model", "none", "--dim", DIM, "--no-progress").code == 0
    cases = {
        "wide.npz": (dict(vectors=np.ones((2, DIM + 1), np.float32), ids=np.arange(2)), "25-d vectors; the index is 24-d"),
        "nan.npz": (dict(vectors=np.full((2, DIM), np.nan, np.float32), ids=np.arange(2)), "NaN or infinite"),
        "anonymous.npz": (dict(vectors=np.ones((2, DIM), np.float32)), "neither paths nor ids"),
        "novectors.npz": (dict(ids=np.arange(2)), "no array 'vectors'"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        result = cli("import-vectors", index, "--vectors", tmp_path / name, "--no-progress")
        assert result.code != 0 and message in result.err, (name, result.text)
        assert "Traceback" not in result.err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "is not an .npz file" in cli("import-vectors", index, "--vectors", tmp_path / "junk.npz").err
    missing = cli("import-vectors", tmp_path / "new", "--vectors", good)
    assert missing.code != 0 and "--model" in missing.err
    with IndexStore.open(index, readonly=True) as store:
        assert len(store) == 3
