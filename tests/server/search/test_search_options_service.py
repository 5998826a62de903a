"""Search and Combine options beyond top-k through a real server and the client: each equals an
independent NumPy reference over the exported vectors of a Flat index (ids and scores), on cosine
and on l2; bad values are INVALID_ARGUMENT with the message the docs give."""

from __future__ import annotations

import numpy as np
import pytest

from support.cli import export_arrays
from support.oracle import ref_combine

COUNT = 120
LABELS = ("north", "south", "east", "west")


def _build(directory, embedder, metric: str):
    """Four clusters, with near-copies of every tenth row so hide_duplicates has work to do."""
    from latentspace.indexer import EmbedderInfo, IndexSettings, IndexStore, NewItem

    rng = np.random.default_rng(11)
    centres = np.abs(rng.normal(size=(4, embedder.dim)))
    rows, labels = [], []
    for i in range(COUNT):
        if i % 10 == 9:
            rows.append(rows[-1] + rng.normal(scale=1e-3, size=embedder.dim))
            labels.append(labels[-1])
        else:
            rows.append(np.abs(centres[i % 4] + rng.normal(scale=0.8, size=embedder.dim)))
            labels.append(LABELS[i % 4])
    with IndexStore.create(directory, EmbedderInfo.from_embedder(embedder), IndexSettings(metric, "Flat")) as store:
        store.add([NewItem(path=f"s/{i:04d}.png", label=labels[i], sha256=f"{i:064x}", width=1, height=1,
                           vector=np.asarray(v, np.float32)) for i, v in enumerate(rows)])
    return directory


@pytest.fixture(scope="module", params=["cosine", "l2"])
def served(request, random_embedder, tmp_path_factory):
    from latentspace.client import Client
    from support.servers import serve_in_process

    directory = _build(tmp_path_factory.mktemp(request.param) / "idx", random_embedder, request.param)
    exported = export_arrays(directory, directory.parent / "all.npz")
    running = serve_in_process(directory, random_embedder)
    client = Client(running.address, timeout=60.0)
    yield client, exported, request.param
    client.close()
    running.stop(grace=1.0)


# -- the NumPy reference -----------------------------------------------------------------------


def _unit(m):
    m = np.asarray(m, np.float64)
    n = np.linalg.norm(m, axis=-1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


def _ranked(exported, query, metric, exclude=()):
    """(ids, scores, vectors, labels) of every row, best first, ties by smaller id."""
    ids, vectors, labels = exported["ids"], exported["vectors"].astype(np.float64), exported["labels"]
    keep = ~np.isin(ids, list(exclude))
    ids, vectors, labels = ids[keep], vectors[keep], labels[keep]
    if metric == "cosine":
        scores = (_unit(vectors) @ _unit(query)).astype(np.float32)
        order = np.lexsort((ids, -scores))
    else:
        scores = ((vectors - query) ** 2).sum(axis=1).astype(np.float32)
        order = np.lexsort((ids, scores))
    return ids[order], scores[order], vectors[order], labels[order]


def _dedupe(vectors, threshold=0.9):
    shown = []
    for i, v in enumerate(_unit(vectors)):
        if all(float(v @ _unit(vectors[j])) < threshold for j in shown):
            shown.append(i)
    return shown


def _mmr(relevance, vectors, k, lam, metric):
    if metric == "cosine":
        sim = lambda a, b: float(_unit(a) @ _unit(b))  # noqa: E731
    else:
        sim = lambda a, b: -float(((a - b) ** 2).sum())  # noqa: E731
    chosen = [int(np.argmax(relevance))]
    while len(chosen) < min(k, len(relevance)):
        best, value = None, -np.inf
        for i in range(len(relevance)):
            if i in chosen:
                continue
            v = (1 - lam) * relevance[i] - lam * max(sim(vectors[i], vectors[j]) for j in chosen)
            if v > value:
                best, value = i, v
        chosen.append(best)
    return chosen


def _check(result, ids, scores):
    assert result.ids == [int(i) for i in ids]
    np.testing.assert_allclose(result.scores, scores, rtol=1e-5, atol=1e-5)


# -- the tests ---------------------------------------------------------------------------------


def test_threshold_offset_and_duplicates_match_numpy(served):
    client, exported, metric = served
    query_id = int(exported["ids"][8])
    query = exported["vectors"][8].astype(np.float64)
    ids, scores, vectors, _ = _ranked(exported, query, metric, exclude={query_id})
    cut = float(scores[20])  # the 21st hit's score: exactly 21 hits meet it (ties aside)
    keep = scores >= np.float32(cut) if metric == "cosine" else scores <= np.float32(cut)
    option = {"min_score": cut} if metric == "cosine" else {"max_distance": cut}
    _check(client.search(item_id=query_id, k=50, **option), ids[keep][:50], scores[keep][:50])
    _check(client.search(item_id=query_id, k=5, **option), ids[keep][:5], scores[keep][:5])
    for offset in (0, 7, 115):
        _check(client.search(item_id=query_id, k=10, offset=offset), ids[offset:offset + 10],
               scores[offset:offset + 10])
    shown = _dedupe(vectors)
    assert len(shown) < len(ids)  # the near-copies are hidden
    _check(client.search(item_id=query_id, k=15, hide_duplicates=True), ids[shown][:15], scores[shown][:15])
    # threshold, then duplicates, then the page
    both = [i for i in shown if keep[i]]
    _check(client.search(item_id=query_id, k=4, offset=3, hide_duplicates=True, **option),
           ids[both][3:7], scores[both][3:7])


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_diversity_matches_numpy_mmr(served, lam):
    client, exported, metric = served
    query = np.abs(np.random.default_rng(3).normal(size=exported["vectors"].shape[1]))
    ids, scores, vectors, _ = _ranked(exported, query, metric)
    relevance = scores.astype(np.float64) if metric == "cosine" else -scores.astype(np.float64)
    order = _mmr(relevance, vectors, 8, lam, metric)
    _check(client.search(vector=query.astype(np.float32), k=8, diversity=lam), ids[order], scores[order])


def test_groups_by_label_match_numpy(served):
    client, exported, metric = served
    query = exported["vectors"][5].astype(np.float64)
    ids, scores, _, labels = _ranked(exported, query, metric)
    expected: dict[str, list[int]] = {}
    for position, label in enumerate(labels.tolist()):
        if label not in expected and len(expected) == 3:
            continue
        members = expected.setdefault(label, [])
        if len(members) < 4:
            members.append(position)
    result = client.search(vector=query.astype(np.float32), k=3, group_by="label", group_size=4)
    assert result.hits == ()
    assert [g.label for g in result.groups] == list(expected)
    for group, positions in zip(result.groups, expected.values()):
        assert [h.id for h in group.hits] == ids[positions].tolist()
        np.testing.assert_allclose([h.score for h in group.hits], scores[positions], rtol=1e-5, atol=1e-5)
        assert {h.label for h in group.hits} == {group.label}


def test_combine_with_threshold_and_offset_matches_numpy(served):
    client, exported, metric = served
    ids, vectors = exported["ids"], exported["vectors"]
    pos, neg = [(vectors[1], 1.0), (vectors[2], 1.0)], [(vectors[3], 1.0)]
    terms = {int(ids[1]), int(ids[2]), int(ids[3])}
    full = ref_combine(exported, "sum_scores", pos, neg, metric=metric, k=len(ids), exclude=terms)
    cut = full[1][12]
    keep = [i for i, s in enumerate(full[1]) if s >= np.float32(cut)]
    result = client.combine([int(ids[1]), int(ids[2])], [int(ids[3])], method="sum_scores", k=30, min_score=cut)
    _check(result, [full[0][i] for i in keep], [full[1][i] for i in keep])
    paged = client.combine([int(ids[1]), int(ids[2])], [int(ids[3])], method="sum_scores", k=5, offset=10)
    _check(paged, full[0][10:15], full[1][10:15])


def test_bad_options_are_invalid_argument(served):
    from latentspace.client import errors as e

    client, exported, metric = served
    first = int(exported["ids"][0])
    threshold = "min_score" if metric == "cosine" else "max_distance"
    cases = [
        ({threshold: float("nan")}, f"{threshold} must be a finite number, got nan"),
        ({"group_by": "label", "group_size": 0}, "group_size must be an integer >= 1, got 0"),
        ({"group_by": "colour", "group_size": 2}, "group_by 'colour' is not known"),
        ({"offset": 995}, r"k \+ offset <= 1000"),
        ({"diversity": 1.5}, r"diversity must be in \[0, 1\]"),
        ({"diversity": -0.1}, r"diversity must be in \[0, 1\]"),
        ({"min_score" if metric == "l2" else "max_distance": 0.5},
         "use max_distance instead of min_score" if metric == "l2" else "use min_score instead of max_distance"),
    ]
    for options, message in cases:
        with pytest.raises(e.InvalidArgument, match=message):
            client.search(item_id=first, k=10, **options)
    with pytest.raises(e.InvalidArgument, match=r"diversity must be in \[0, 1\]"):
        client.combine([first], method="add", k=3, diversity=2.0)
    # best_score's scores read higher-is-better on either metric: min_score is the threshold to use
    with pytest.raises(e.InvalidArgument, match="use min_score instead of max_distance"):
        client.combine([first], method="best_score", k=3, max_distance=1.0)


def test_cli_flags_print_what_the_client_returns(served):
    import json

    from latentspace.client.json_view import combine_json, search_json
    from support.cli import run_cli

    client, exported, metric = served
    address = client.address
    first = int(exported["ids"][0])
    threshold = ("--min-score", "0.5") if metric == "cosine" else ("--max-distance", "1e9")
    out = run_cli("search", "--id", first, "-k", 6, "--offset", 2, "--hide-duplicates", "--diversity", 0.2,
                  *threshold, "--json", "--server", address)
    assert out.code == 0, out.err
    keywords = {"min_score": 0.5} if metric == "cosine" else {"max_distance": 1e9}
    expected = client.search(item_id=first, k=6, offset=2, hide_duplicates=True, diversity=0.2, **keywords)
    assert json.loads(out.out) == search_json(expected) and len(expected.hits) == 6
    out = run_cli("search", "--id", first, "-k", 2, "--group-by", "label", "--group-size", 3, "--json",
                  "--server", address)
    grouped = json.loads(out.out)
    assert grouped == search_json(client.search(item_id=first, k=2, group_by="label", group_size=3))
    assert [len(g["hits"]) for g in grouped["groups"]] == [3, 3]
    out = run_cli("analogy", "-p", f"id:{first}", "-n", "id:2", "--method", "sum_scores", "-k", 3, "--offset", 1,
                  "--json", "--server", address)
    assert json.loads(out.out) == combine_json(client.combine([first], [2], method="sum_scores", k=3, offset=1),
                                               "sum_scores")
    text = run_cli("search", "--id", first, "-k", 2, "--group-by", "label", "--group-size", 2, "--server", address)
    assert text.code == 0 and text.out.splitlines()[0].split()[:3] == ["label", "#", "id"]
    bad = run_cli("search", "--id", first, "--diversity", 3, "--server", address)
    assert bad.code == 1 and "diversity must be in [0, 1]" in bad.err and "Traceback" not in bad.err


def test_approximate_index_returns_only_hits_that_meet_the_options(random_embedder, start_server, tmp_path):
    """On an IVF index the candidates come from FAISS, but every hit is re-scored exactly and meets
    the threshold; groups hold only their label, at most group_size each."""
    from latentspace.client import Client
    from support.indexes import synthetic_index

    directory = synthetic_index(tmp_path / "ivf", random_embedder, factory="IVF4,Flat", metric="cosine", count=160)
    exported = export_arrays(directory, tmp_path / "all.npz")
    with Client(start_server(directory).address) as client:
        assert client.info().uses_faiss
        query = exported["vectors"][3].astype(np.float64)
        _, scores, _, _ = _ranked(exported, query, "cosine")
        cut = float(scores[10])
        result = client.search(vector=query.astype(np.float32), k=50, min_score=cut)
        assert 0 < len(result) <= 50 and min(result.scores) >= np.float32(cut)
        vectors = dict(zip(exported["ids"].tolist(), exported["vectors"]))
        exact = [float(_unit(vectors[i]) @ _unit(query)) for i in result.ids]
        np.testing.assert_allclose(result.scores, exact, rtol=1e-5, atol=1e-5)
        grouped = client.search(vector=query.astype(np.float32), k=2, group_by="label", group_size=3)
        assert 1 <= len(grouped.groups) <= 2
        assert all(len(g.hits) <= 3 and {h.label for h in g.hits} == {g.label} for g in grouped.groups)
