"""Near-duplicate pairs and clusters against a plain all-pairs loop, and ``latentspace duplicates``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from latentspace.cli.main import main
from latentspace.indexer.duplicates import near_duplicate_clusters, near_duplicate_pairs
from latentspace.indexer.item_db import NewItem
from latentspace.indexer.manifest import EmbedderInfo
from latentspace.indexer.store import IndexStore

D = 16
INFO = EmbedderInfo(model="alexnet", layer="fc7", dimension=D, weights="random:0",
                    weights_description="test vectors", weights_sha256="d" * 64, pretrained=False)


def _corpus(seed: int = 3):
    """40 distinct rows, near copies of some of them (chains included), and one zero row."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(40, D))
    copies = [base[3] + 0.01 * rng.normal(size=D), base[3] + 0.01 * rng.normal(size=D),
              base[10] * 2.5, base[20] + 0.02 * rng.normal(size=D)]
    chain = [base[30] + 0.25 * rng.normal(size=D)]
    chain.append(chain[0] + 0.25 * rng.normal(size=D))
    vectors = np.concatenate([base, copies, chain, np.zeros((1, D))]).astype(np.float32)
    ids = np.arange(len(vectors), dtype=np.int64) * 2 + 5
    return ids, vectors


def _cos(a, b) -> float:
    na, nb = math.sqrt(sum(float(x) ** 2 for x in a)), math.sqrt(sum(float(y) ** 2 for y in b))
    return 0.0 if na == 0 or nb == 0 else sum(float(x) * float(y) for x, y in zip(a, b)) / (na * nb)


def _reference_pairs(ids, vectors, threshold):
    return [(int(ids[i]), int(ids[j])) for i in range(len(ids)) for j in range(i + 1, len(ids))
            if _cos(vectors[i], vectors[j]) >= threshold]


def _reference_clusters(ids, pairs):
    groups = {int(i): {int(i)} for i in ids}
    for a, b in pairs:
        merged = groups[a] | groups[b]
        for member in merged:
            groups[member] = merged
    unique = {tuple(sorted(g)) for g in groups.values() if len(g) > 1}
    return sorted(unique, key=lambda g: (-len(g), g[0]))


@pytest.mark.parametrize("threshold", [0.9, 0.97, 0.999])
@pytest.mark.parametrize("chunk", [7, 2048])
def test_pairs_and_clusters_match_the_all_pairs_reference(threshold, chunk):
    ids, vectors = _corpus()
    a, b, cos = near_duplicate_pairs(ids, vectors, threshold=threshold, chunk=chunk)
    want = _reference_pairs(ids, vectors, threshold)
    assert list(zip(a.tolist(), b.tolist())) == want
    np.testing.assert_allclose(cos, [_cos(vectors[(x - 5) // 2], vectors[(y - 5) // 2]) for x, y in want], rtol=1e-9)
    clusters = near_duplicate_clusters(ids, vectors, threshold=threshold, chunk=chunk)
    assert [c.ids for c in clusters] == _reference_clusters(ids, want)
    for c in clusters:
        links = [s for (x, y), s in zip(want, cos) if x in c.ids]
        assert c.weakest == pytest.approx(min(links))


def test_rows_read_by_position_chunk_by_chunk_give_the_same_pairs():
    ids, vectors = _corpus()
    asked = []

    def read(rows):
        asked.append(len(rows))
        return vectors[rows]

    got = near_duplicate_pairs(ids, read, threshold=0.97, chunk=6)
    want = near_duplicate_pairs(ids, vectors, threshold=0.97, chunk=len(ids))
    assert [x.tolist() for x in got] == [x.tolist() for x in want]
    assert max(asked) == 6 and sum(asked) > len(ids)  # never more than a chunk at a time


def test_the_zero_row_and_distinct_rows_are_never_duplicates():
    ids, vectors = _corpus()
    clusters = near_duplicate_clusters(ids, vectors, threshold=0.9)
    members = {i for c in clusters for i in c.ids}
    assert int(ids[-1]) not in members  # the zero row
    assert (int(ids[3]), int(ids[40]), int(ids[41])) in [c.ids for c in clusters]
    assert (int(ids[10]), int(ids[42])) in [c.ids for c in clusters]  # a scaled copy: cosine 1


@pytest.mark.parametrize("threshold", [0.0, 1.5, float("nan")])
def test_a_threshold_outside_0_1_is_refused(threshold):
    ids, vectors = _corpus()
    with pytest.raises(ValueError, match="threshold"):
        near_duplicate_pairs(ids, vectors, threshold=threshold)


def test_the_cli_lists_the_clusters_as_json_and_refuses_a_bad_threshold(tmp_path, capsys):
    ids, vectors = _corpus()
    store = IndexStore.create(tmp_path / "index", INFO)
    added = store.add([NewItem(f"/corpus/{j}.png", "x", f"sha{j}", 10, 10, v) for j, v in enumerate(vectors)])
    store.close()
    want = _reference_clusters(np.array(added), _reference_pairs(np.array(added), vectors, 0.97))
    assert main(["duplicates", str(tmp_path / "index"), "--threshold", "0.97", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [tuple(m["id"] for m in c["items"]) for c in answer["clusters"]] == want
    assert answer["items"] == len(vectors) and answer["threshold"] == 0.97
    assert main(["duplicates", str(tmp_path / "index"), "--threshold", "2"]) == 2
    assert "(0, 1]" in capsys.readouterr().err
