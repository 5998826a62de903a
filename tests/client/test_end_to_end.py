"""The client end to end, against real servers: every test here runs with ``Client`` and with
``AsyncClient`` (the ``connect`` fixture), so the asyncio client is held to exactly the same behaviour.

Searches by item, vector and image, batches and label filters equal an exact NumPy search over the
exported vectors; embedding equals the in-process embedder; adds, errors with their statuses,
combinations, shifts, walks, stored directions, thumbnails and sheets behave as documented.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support.cli import export_arrays
from support.oracle import assert_hits, brute_force, ref_combine, unit
from support.photos import photo_bytes
from support.pictures import decode, mean_abs_diff

K = 5


def _shift_point(start: np.ndarray, direction: np.ndarray, alpha: float) -> np.ndarray:
    start = start.astype(np.float64)
    return start + alpha * np.linalg.norm(start) * unit(direction)[0]


def test_search_by_every_item_id_matches_brute_force(any_client, exported):
    for item_id, vector in zip(exported["ids"].tolist(), exported["vectors"]):
        others = exported["ids"] != item_id
        ids, scores = brute_force(exported, vector, K, "cosine", keep=others)
        assert_hits(any_client.search(item_id=item_id, k=K), (ids, scores))
        # include_self: the item itself comes first, with cosine 1
        ids, scores = brute_force(exported, vector, K, "cosine")
        result = any_client.search(item_id=item_id, k=K, exclude_self=False)
        assert_hits(result, (ids, scores))
        assert result.ids[0] == item_id


def test_search_by_vector_matches_brute_force(any_client, exported):
    rng = np.random.default_rng(7)
    dim = exported["vectors"].shape[1]
    for _ in range(5):
        query = rng.normal(size=dim).astype(np.float32)
        ids, scores = brute_force(exported, query, K, "cosine")
        assert_hits(any_client.search(vector=query, k=K), (ids, scores))
    # k larger than the index: every item, in order
    ids, scores = brute_force(exported, query, 100, "cosine")
    assert len(ids) == len(exported["ids"])
    assert_hits(any_client.search(vector=query, k=100), (ids, scores))


def test_search_by_image_matches_embedding_in_process(any_client, exported, random_embedder):
    from latentspace.indexer import decode_image

    for seed, fmt in ((11, "PNG"), (12, "JPEG"), (13, "WEBP")):
        data = photo_bytes(seed, (40, 170, 60), fmt)
        expected_vector = random_embedder.embed_images([decode_image(data).image])[0]
        np.testing.assert_allclose(any_client.embed(data), expected_vector, rtol=0, atol=1e-6)
        ids, scores = brute_force(exported, expected_vector, K, "cosine")
        assert_hits(any_client.search(data, k=K), (ids, scores))


def test_label_filter_and_batch_search(any_client, exported):
    labels = exported["labels"]
    keep = labels == "green"
    first = int(exported["ids"][0])
    query_vector = exported["vectors"][0]
    ids, scores = brute_force(exported, query_vector, K, "cosine", keep=keep & (exported["ids"] != first))
    result = any_client.search(item_id=first, k=K, labels=["green"])
    assert_hits(result, (ids, scores))
    assert {h.label for h in result.hits} == {"green"}
    # two labels, and a label nobody has
    two = (labels == "green") | (labels == "blue")
    ids, scores = brute_force(exported, query_vector, 20, "cosine", keep=two)
    assert_hits(any_client.search(vector=query_vector, k=20, labels=["green", "blue"]), (ids, scores))
    assert any_client.search(item_id=first, labels=["no-such-label"]).hits == ()

    image = photo_bytes(21, (30, 60, 200))
    rng = np.random.default_rng(3)
    vector = rng.normal(size=exported["vectors"].shape[1]).astype(np.float32)
    queries = [first, image, vector, int(exported["ids"][-1]), photo_bytes(22)]
    batch = any_client.batch_search(queries, k=K)
    assert len(batch) == len(queries)
    singles = [
        any_client.search(item_id=first, k=K),
        any_client.search(image, k=K),
        any_client.search(vector=vector, k=K),
        any_client.search(item_id=int(exported["ids"][-1]), k=K),
        any_client.search(photo_bytes(22), k=K),
    ]
    for got, want in zip(batch, singles):
        assert got.ids == want.ids
        np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=1e-5)
    filtered = any_client.batch_search(queries[:2], k=K, labels=["red"])
    assert all(h.label == "red" for r in filtered for h in r.hits)


def test_empty_index_is_failed_precondition(start_server, random_embedder, tmp_path, connect):
    from latentspace import client as ls
    from latentspace.indexer import EmbedderInfo, IndexStore

    IndexStore.create(tmp_path / "empty", EmbedderInfo.from_embedder(random_embedder)).close()
    running = start_server(tmp_path / "empty")
    with connect(running.address) as client:
        assert client.info().item_count == 0
        for call in (lambda: client.search(photo_bytes(1)), lambda: client.batch_search([np.ones(4096)]),
                     lambda: client.search(vector=np.ones(4096))):
            with pytest.raises(ls.FailedPrecondition, match="no items"):
                call()
        assert len(client.embed(photo_bytes(1))) == 4096  # embedding needs no items
        added = client.add_images([photo_bytes(1)])
        assert client.search(photo_bytes(1), k=1).ids == [added[0].id]


def test_score_names_and_single_term_average_is_plain_search(alex):
    client, exported = alex
    first = int(exported["ids"][0])
    names = {m: client.combine([first, 2], [3], method=m, k=2).metric
             for m in ("add", "cosmul", "average", "best_score", "sum_scores")}
    assert names == {"add": "cosine", "cosmul": "cosmul", "average": "cosine", "best_score": "best_score",
                     "sum_scores": "sum_scores"}
    plain = client.search(item_id=first, k=K)
    assert client.combine([first], method="average", k=K).ids == plain.ids
    np.testing.assert_allclose(client.combine([first], method="average", k=K).scores, plain.scores, atol=1e-5)


def test_best_score_with_only_negatives_and_add_with_a_direction(alex):
    """best_score ranks the rows least like the negatives first; a stored direction is a term."""
    from latentspace.client import Term

    client, exported = alex
    ids, vectors = exported["ids"], exported["vectors"]
    expected = ref_combine(exported, "best_score", [], [(vectors[4], 1.0)], k=K, exclude={int(ids[4])})
    assert_hits(client.combine(negative=[int(ids[4])], method="best_score", k=K), expected)

    direction = np.random.default_rng(9).normal(size=vectors.shape[1]).astype(np.float32)
    client.create_direction("exact-test", vector=direction)
    try:
        expected = ref_combine(exported, "add", [(vectors[5], 1.0), (direction.astype(np.float64), 0.3)], [], k=K,
                               exclude={int(ids[5])})
        assert_hits(client.combine([int(ids[5]), Term.named("exact-test", weight=0.3)], k=K), expected)
    finally:
        client.delete_direction("exact-test")


def test_shift_along_a_stored_direction_from_an_image(alex):
    client, exported = alex
    labels = exported["labels"]
    created = client.create_direction("paths-red-blue", labels=("red", "blue"))
    try:
        image = photo_bytes(41, (200, 40, 30))
        start = client.embed(image)
        result = client.shift(image, direction="paths-red-blue", alphas=[0.0, 0.5, 1.5], k=K, labels=["red", "green"])
        keep = (labels == "red") | (labels == "green")
        for step in result:
            point = _shift_point(start, created.vector, step.position)
            assert_hits(step.result, brute_force(exported, point, k=K, keep=keep))
        same = client.shift(image, vector=created.vector * 7, alphas=[0.0, 0.5, 1.5], k=K, labels=["red", "green"])
        assert [s.ids for s in same] == [s.ids for s in result], "only the direction counts, not its length"
    finally:
        client.delete_direction("paths-red-blue")


def test_unique_walk_drops_items_already_shown(alex):
    client, exported = alex
    ids, vectors = exported["ids"], exported["vectors"]
    a, b = vectors[0].astype(np.float64), vectors[11].astype(np.float64)
    ends = {int(ids[0]), int(ids[11])}
    steps, k = 4, 3
    result = client.walk(int(ids[0]), int(ids[11]), steps=steps, unique=True, k=k)
    shown: set[int] = set()
    for step in result:
        t = step.position
        full_ids, full_scores = brute_force(exported, (1 - t) * a + t * b, k=len(ids), exclude=ends)
        fresh = [(i, s) for i, s in zip(full_ids, full_scores) if i not in shown][:k]
        assert_hits(step.result, ([i for i, _ in fresh], [s for _, s in fresh]))
        assert not shown & set(step.ids)
        shown |= set(step.ids)
    assert len(shown) == min(steps * k, len(ids) - 2)
    repeated = client.walk(int(ids[0]), int(ids[11]), steps=steps, k=k)
    assert sum(len(s.ids) for s in repeated) == steps * k
    assert len({i for s in repeated for i in s.ids}) < steps * k, "without unique, neighbouring steps share items"


def test_walk_between_images_embeds_both(alex):
    client, exported = alex
    red, blue = photo_bytes(51, (200, 40, 30)), photo_bytes(52, (30, 60, 200))
    a, b = client.embed(red).astype(np.float64), client.embed(blue).astype(np.float64)
    result = client.walk(red, blue, steps=3, k=K)
    for step in result:
        t = step.position
        assert_hits(step.result, brute_force(exported, (1 - t) * a + t * b, k=K))


def test_directions_survive_a_restart_and_can_be_listed_shown_deleted(start_server, small_index, tmp_path, connect):
    from latentspace.client import NotFound

    exported = export_arrays(small_index, tmp_path / "all.npz")
    first = start_server(small_index)
    with connect(first.address) as client:
        made = [client.create_direction("warm", labels=("red", "blue")),
                client.create_direction("b.vec_1-x", vector=np.arange(1, 4097, dtype=np.float32)),
                client.create_direction("green-ish", positive=[5, 6], negative=[1])]
        shifted = client.shift(2, direction="warm", alphas=[0.5], k=3)
    first.stop(grace=1.0)

    second = start_server(small_index)
    with connect(second.address) as client:
        listed = client.list_directions()
        assert [d.name for d in listed] == ["b.vec_1-x", "green-ish", "warm"]
        assert all(d.vector is None for d in listed)
        by_name = {d.name: d for d in made}
        for d in listed:
            assert d == by_name[d.name]  # name, kind, description, created_at, dimension, norm
        with_vectors = client.list_directions(with_vectors=True)
        for d in with_vectors:
            np.testing.assert_array_equal(d.vector, by_name[d.name].vector)
        shown = client.get_direction("warm")
        np.testing.assert_array_equal(shown.vector, by_name["warm"].vector)
        assert client.shift(2, direction="warm", alphas=[0.5], k=3) == shifted

        client.delete_direction("warm")
        assert [d.name for d in client.list_directions()] == ["b.vec_1-x", "green-ish"]
        with pytest.raises(NotFound, match="no direction named 'warm'; stored directions: b.vec_1-x, green-ish"):
            client.get_direction("warm")
        with pytest.raises(NotFound):
            client.delete_direction("warm")
        # the items are untouched by all of this
        assert client.info().item_count == len(exported["ids"])


def test_thumbnails_are_the_items_pictures_and_are_cached_in_the_index(fresh):
    from latentspace.render.thumbnails import make_thumbnail

    running, client = fresh
    items = {item.id: item for item in client.iter_items()}
    got = client.thumbnails(sorted(items, reverse=True))
    assert list(got) == sorted(items, reverse=True), "in the order asked"
    cache_dir = Path(running.engine.store.directory) / "thumbnails"
    for item_id, thumb in got.items():
        assert thumb.missing_reason is None and not thumb.missing
        image = decode(thumb.png)
        assert image.size == (128, 128)
        assert mean_abs_diff(image, make_thumbnail(Path(items[item_id].path))) == 0, "drawn from the indexed file"
        assert (cache_dir / f"{items[item_id].sha256}.png").is_file()
    cache = running.service.pictures.cache(128)
    assert cache.made == len(items)
    stamps = {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("*.png")}
    assert len(stamps) == len(items)

    again = client.thumbnails(list(items))
    assert cache.made == len(items), "the second call drew nothing"
    assert {p.name: p.stat().st_mtime_ns for p in cache_dir.glob("*.png")} == stamps, "and rewrote nothing"
    assert all(again[i].png == got[i].png for i in items)

    small = client.thumbnails([1, 2], size=48)
    assert {decode(t.png).size for t in small.values()} == {(48, 48)}
    assert sorted(p.name for p in (cache_dir / "48px").glob("*.png")) == sorted(f"{items[i].sha256}.png" for i in (1, 2))


def test_render_sheet_dispatches_by_kind_and_info_reports_the_limits(any_client):
    client = any_client
    assert client.render_sheet("walk", 1, 9, steps=3, k=2).result == client.walk(1, 9, steps=3, k=2)
    assert client.render_sheet("search", item_id=4, k=2).png == client.search_sheet(item_id=4, k=2).png
    with pytest.raises(ValueError, match="unknown sheet kind"):
        client.render_sheet("atlas")
    limits = client.info().limits
    assert (limits.max_thumbnails, limits.max_tile_size, limits.max_picture_pixels) == (256, 512, 20_000_000)
