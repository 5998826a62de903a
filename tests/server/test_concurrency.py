"""Concurrent searches alongside adds and removes; concurrent image queries share forward passes."""

from __future__ import annotations

import threading
import time

import numpy as np

from support.cli import export_arrays
from support.photos import photo_bytes

SEARCHERS = 8
ROUNDS = 20
TIME_LIMIT_S = 15.0


def test_searches_while_adding_and_removing(server, client, small_index, tmp_path):
    from latentspace.client import Client, NewImage

    original = client.info()
    before = export_arrays(small_index, tmp_path / "before.npz")
    original_ids = before["ids"].tolist()
    dim = before["vectors"].shape[1]
    errors: list[BaseException] = []
    stop_at = time.monotonic() + TIME_LIMIT_S
    start = threading.Barrier(SEARCHERS + 1)
    images = [photo_bytes(500 + i) for i in range(4)]

    def searcher(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            with Client(server.address, timeout=60) as c:
                start.wait()
                for r in range(ROUNDS):
                    if time.monotonic() > stop_at:
                        return
                    item = int(rng.choice(original_ids))
                    kind = r % 4
                    if kind == 0:
                        hits = c.search(item_id=item, k=5).hits
                        assert item not in [h.id for h in hits]
                    elif kind == 1:
                        hits = c.search(vector=rng.normal(size=dim).astype(np.float32), k=5).hits
                    elif kind == 2:
                        hits = c.batch_search([item, int(rng.choice(original_ids))], k=3)[0].hits
                    else:
                        hits = c.search(images[seed % len(images)], k=3).hits
                    assert hits and all(h.id > 0 and h.path for h in hits)
                    scores = [h.score for h in hits]
                    assert scores == sorted(scores, reverse=True)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    kept: list[int] = []

    def writer() -> None:
        try:
            with Client(server.address, timeout=60) as c:
                start.wait()
                for r in range(6):
                    added = c.add_images([NewImage(photo_bytes(900 + 2 * r + j), f"w/{r}_{j}.png", "added")
                                          for j in range(2)])
                    assert c.remove([added[0].id]) == [added[0].id]
                    kept.append(added[1].id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(i,)) for i in range(SEARCHERS)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIME_LIMIT_S + 60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors

    info = client.info()
    listed = [item.id for item in client.iter_items(page_size=5)]
    after = export_arrays(small_index, tmp_path / "after.npz")
    assert len(kept) == 6
    assert info.item_count == original.item_count + len(kept) == len(listed) == len(after["ids"])
    assert listed == after["ids"].tolist() == sorted(original_ids + kept)
    got = client.get_items(listed, with_vectors=True)
    assert [item.id for item in got] == listed
    np.testing.assert_array_equal(np.stack([item.vector for item in got]), after["vectors"])
    everything = client.search(vector=np.ones(dim, dtype=np.float32), k=1000)
    assert sorted(everything.ids) == listed


def test_concurrent_image_queries_share_forward_passes(start_server, small_index, random_embedder):
    from latentspace.client import Client

    running = start_server(small_index, batch_window_ms=20.0)
    n = 12
    images = [photo_bytes(700 + i, (30, 60, 200)) for i in range(n)]
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def query(i: int) -> None:
        try:
            with Client(running.address, timeout=60) as c:
                start.wait()
                results[i] = c.search(images[i], k=3).ids
        except BaseException as exc:
            errors.append(exc)

    before = random_embedder.forward_calls
    searches_before = running.engine.searcher.calls
    threads = [threading.Thread(target=query, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    passes = random_embedder.forward_calls - before
    searches = running.engine.searcher.calls - searches_before
    assert not errors, errors
    assert len(results) == n
    assert 1 <= passes <= n // 3, f"{n} concurrent image queries took {passes} forward passes"
    assert 1 <= searches <= n // 2, f"{n} concurrent image queries took {searches} index searches"

    with Client(running.address) as c:
        for i in (0, n - 1):  # batching must not change answers
            assert c.search(images[i], k=3).ids == results[i]
        before = random_embedder.forward_calls
        batch = c.batch_search(images[:5], k=3)
        assert random_embedder.forward_calls - before == 1  # one request's images: one pass
        assert batch[0].ids == results[0]
