"""RenderSheet through the client: the picture is the layout's size, every tile shows the expected
item in rank order with its label and score drawn under it, and the results equal the plain calls'."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from support.photos import photo_bytes
from support.pictures import caption_band, captions_of, decode, geometry, is_blank, mean_abs_diff, pixels, tile_matches

K = 5


def check_hits(image, geo, row: int, hits, thumbs, *, tile: int = 128) -> None:
    """Row ``row`` shows ``hits`` in order: each tile is its item's thumbnail, captioned label then score · id."""
    assert hits, "a row to check"
    for k, hit in enumerate(hits):
        box = geo.neighbour_box(row, k)
        tile_matches(image.crop(box), hit.id, thumbs)
        expected = caption_band((hit.label, f"{hit.score:.3f} · #{hit.id}"), tile=tile)
        assert mean_abs_diff(captions_of(image, geo, box), expected) == 0
    bands = [pixels(image.crop(geo.caption_box(geo.neighbour_box(row, k), 1))) for k in range(len(hits))]
    assert all(not np.array_equal(a, b) for a, b in combinations(bands, 2)), "each hit has its own score line"


def check_query(image, geo, row: int, column: int, expected, captions: tuple[str, str], *, tile: int = 128) -> None:
    box = geo.query_box(row, column)
    assert mean_abs_diff(image.crop(box), expected) == 0
    assert mean_abs_diff(captions_of(image, geo, box), caption_band(captions, tile=tile)) == 0


def test_search_sheet_has_the_layouts_size_and_each_hit_in_rank_order(shared, thumbs):
    from latentspace.render.sheets import BACKGROUND

    _, client = shared
    sheet = client.search_sheet(item_id=5, k=K)
    assert sheet.result == client.search(item_id=5, k=K) and len(sheet.result) == K
    image = decode(sheet.png)
    geo = geometry(rows=1, query_columns=1, k=K)
    assert image.size == (sheet.width, sheet.height) == geo.size
    label = client.get_items([5])[0].label
    check_query(image, geo, 0, 0, thumbs[5], ("query", f"{label} · #5"))
    check_hits(image, geo, 0, sheet.result.hits, thumbs)
    assert not is_blank(image.crop((0, 0, geo.size[0], geo.top0)), BACKGROUND), "the default title is drawn"


def test_image_and_vector_queries_at_another_tile_size_without_a_title(shared):
    from latentspace.render.thumbnails import make_thumbnail
    from latentspace.render.tiles import neutral_tile

    _, client = shared
    ids = [item.id for item in client.iter_items()]
    thumbs64 = {i: decode(t.png) for i, t in client.thumbnails(ids, size=64).items()}
    data = photo_bytes(90, (30, 60, 200))
    sheet = client.search_sheet(data, k=3, tile_size=64, title="")
    assert sheet.result == client.search(data, k=3)
    image = sheet.image()
    geo = geometry(rows=1, query_columns=1, k=3, title=False, tile=64)
    assert image.size == geo.size
    check_query(image, geo, 0, 0, make_thumbnail(data, size=64), ("query", "image"), tile=64)
    check_hits(image, geo, 0, sheet.result.hits, thumbs64, tile=64)

    vector = client.get_items([2], with_vectors=True)[0].vector
    sheet = client.search_sheet(vector=vector, k=3)
    assert sheet.result == client.search(vector=vector, k=3) and sheet.result.ids[0] == 2
    geo = geometry(rows=1, query_columns=1, k=3)
    check_query(sheet.image(), geo, 0, 0, neutral_tile("vector", 128), ("query", "vector"))


def test_analogy_sheet_shows_one_tile_per_term(shared, thumbs):
    _, client = shared
    sheet = client.analogy_sheet(1, 6, 10, k=4)
    assert sheet.result == client.analogy(1, 6, 10, k=4)
    image = sheet.image()
    geo = geometry(rows=1, query_columns=3, k=4)
    assert image.size == geo.size
    labels = {item.id: item.label for item in client.get_items([1, 6, 10])}
    for column, (item_id, sign) in enumerate(((1, "+"), (10, "+"), (6, "−"))):
        check_query(image, geo, 0, column, thumbs[item_id], (f"{sign} item {item_id}", labels[item_id]))
    check_hits(image, geo, 0, sheet.result.hits, thumbs)


def test_discover_sheet_shows_the_target_then_each_pairs_points(shared, thumbs):
    _, client = shared
    context = [(5, 9), (3, 11)]
    sheet = client.discover_sheet(2, context, k=4)
    assert sheet.result == client.discover(2, context, k=4) and len(sheet.result) == 4
    image = sheet.image()
    geo = geometry(rows=1, query_columns=5, k=4)
    assert image.size == geo.size
    labels = {item.id: item.label for item in client.get_items([2, 3, 5, 9, 11])}
    shown = [(2, "target"), (5, "+ pair 1"), (9, "− pair 1"), (3, "+ pair 2"), (11, "− pair 2")]
    for column, (item_id, caption) in enumerate(shown):
        check_query(image, geo, 0, column, thumbs[item_id], (caption, f"{labels[item_id]} · #{item_id}"))
    check_hits(image, geo, 0, sheet.result.hits, thumbs)

    alone = client.discover_sheet(None, context[:1], k=3, title="")  # context search: no target tile
    assert alone.result == client.discover(None, context[:1], k=3)
    geo = geometry(rows=1, query_columns=2, k=3, title=False)
    assert alone.image().size == geo.size
    check_query(alone.image(), geo, 0, 0, thumbs[5], ("+ pair 1", f"{labels[5]} · #5"))
    check_hits(alone.image(), geo, 0, alone.result.hits, thumbs)


def test_shift_sheet_is_one_row_per_strength(shared, thumbs):
    from latentspace.render.sheets import BACKGROUND
    from latentspace.render.tiles import neutral_tile

    _, client = shared
    client.create_direction("toward-red", labels=("red", "blue"))
    alphas = [0.0, 0.5, 1.0, 2.0]
    sheet = client.shift_sheet(2, direction="toward-red", alphas=alphas, k=3)
    assert sheet.result == client.shift(2, direction="toward-red", alphas=alphas, k=3)
    image = sheet.image()
    geo = geometry(rows=len(alphas), query_columns=2, k=3, steps=True)
    assert image.size == geo.size
    label = client.get_items([2])[0].label
    check_query(image, geo, 0, 0, thumbs[2], ("start", f"{label} · #2"))
    check_query(image, geo, 0, 1, neutral_tile("dir: toward-red", 128), ("direction", "dir: toward-red"))
    for row, step in enumerate(sheet.result):
        check_hits(image, geo, row, step.result.hits, thumbs)
        if row:
            assert is_blank(image.crop(geo.query_box(row, 0)), BACKGROUND), "the start is shown once"
    steps = [pixels(image.crop(geo.step_box(row))) for row in range(len(alphas))]
    assert not any(is_blank(image.crop(geo.step_box(row)), BACKGROUND) for row in range(len(alphas)))
    assert all(not np.array_equal(a, b) for a, b in combinations(steps, 2)), "each row has its own α"


@pytest.mark.parametrize("slerp", [False, True])
def test_walk_sheet_is_one_row_per_step_from_start_to_end(shared, thumbs, slerp):
    from latentspace.render.sheets import BACKGROUND

    _, client = shared
    sheet = client.walk_sheet(1, 9, steps=4, k=3, slerp=slerp, unique=slerp)
    assert sheet.result == client.walk(1, 9, steps=4, k=3, slerp=slerp, unique=slerp)
    image = sheet.image()
    geo = geometry(rows=4, query_columns=1, k=3, steps=True)
    assert image.size == geo.size
    labels = {item.id: item.label for item in client.get_items([1, 9])}
    check_query(image, geo, 0, 0, thumbs[1], ("start", f"{labels[1]} · #1"))
    check_query(image, geo, 3, 0, thumbs[9], ("end", f"{labels[9]} · #9"))
    for row, step in enumerate(sheet.result):
        check_hits(image, geo, row, step.result.hits, thumbs)
        assert not is_blank(image.crop(geo.step_box(row)), BACKGROUND)
    assert is_blank(image.crop(geo.query_box(1, 0)), BACKGROUND) and is_blank(image.crop(geo.query_box(2, 0)), BACKGROUND)


