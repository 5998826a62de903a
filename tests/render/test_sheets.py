"""Contact sheets: documented size, every tile where the layout says, captions drawn, placeholders for gone files."""

from __future__ import annotations

import shutil

import numpy as np
from PIL import Image, ImageDraw
from support.pictures import is_blank, mean_abs_diff

from latentspace.render.sheets import (
    BACKGROUND,
    DEFAULT_LAYOUT,
    SEPARATOR_COLOUR,
    SheetRow,
    Tile,
    render_search_sheet,
    render_sheet,
    tiles_for_hits,
)
from latentspace.render.text import fit_text, font, wrap_text
from latentspace.render.thumbnails import ThumbnailCache, placeholder


def search_row(store, query_id: int, k: int = 5):
    cache = ThumbnailCache(store.directory)
    scores, ids = store.search(store.vectors([query_id]), k)
    query_item = store.items([query_id])[query_id]
    return cache, Tile(cache.tile(query_item), ("query", query_item.label)), ids[0], scores[0], tiles_for_hits(store, cache, ids[0], scores[0])


def expected_caption(text: str, line: int) -> Image.Image:
    """A caption band drawn independently with the same font, offset and colour rules."""
    band = Image.new("RGB", (DEFAULT_LAYOUT.tile, DEFAULT_LAYOUT.line_height), BACKGROUND)
    colour = (25, 25, 25) if line == 0 else (95, 95, 95)
    typeface = font(DEFAULT_LAYOUT.font_size)
    ImageDraw.Draw(band).text((1, 2), fit_text(text, typeface, DEFAULT_LAYOUT.tile - 2), font=typeface, fill=colour)
    return band


def test_one_search_has_the_documented_size(store):
    _, query, _, _, hits = search_row(store, 1)
    sheet = render_search_sheet(query, hits)
    # pad 8; query tile 128; separator 16; five neighbours of 128 with 8 between; captions 2 × 16.
    assert sheet.size == (8 + 128 + 8 + 16 + 5 * 128 + 4 * 8 + 8, 8 + 128 + 2 * 16 + 8) == (840, 176)
    geometry = DEFAULT_LAYOUT.geometry([SheetRow(query=[query], neighbours=hits)])
    assert geometry.query_box(0, 0) == (8, 8, 136, 136)
    assert geometry.neighbour_box(0, 0) == (160, 8, 288, 136)
    assert geometry.neighbour_box(0, 4) == (704, 8, 832, 136)


def test_each_tile_is_the_thumbnail_of_its_item_and_of_no_other(store, all_items):
    cache, query, ids, scores, hits = search_row(store, 5)
    sheet = render_search_sheet(query, hits)
    geometry = DEFAULT_LAYOUT.geometry([SheetRow(query=[query], neighbours=hits)])
    thumbs = {i: cache.thumbnail(item) for i, item in all_items.items()}
    assert mean_abs_diff(sheet.crop(geometry.query_box(0, 0)), thumbs[5]) == 0
    for k, item_id in enumerate(ids.tolist()):
        tile = sheet.crop(geometry.neighbour_box(0, k))
        diffs = {i: mean_abs_diff(tile, thumb) for i, thumb in thumbs.items()}
        assert diffs[item_id] == 0
        assert min(d for i, d in diffs.items() if i != item_id) > 5


def test_captions_show_label_then_score_and_id(store, all_items):
    _, query, ids, scores, hits = search_row(store, 2)
    sheet = render_search_sheet(query, hits)
    geometry = DEFAULT_LAYOUT.geometry([SheetRow(query=[query], neighbours=hits)])
    bands = []
    for k, (item_id, score) in enumerate(zip(ids.tolist(), scores.tolist())):
        box = geometry.neighbour_box(0, k)
        label_band = sheet.crop(geometry.caption_box(box, 0))
        score_band = sheet.crop(geometry.caption_box(box, 1))
        assert not is_blank(label_band, BACKGROUND) and not is_blank(score_band, BACKGROUND)
        assert mean_abs_diff(label_band, expected_caption(all_items[item_id].label, 0)) == 0
        assert mean_abs_diff(score_band, expected_caption(f"{score:.3f} · #{item_id}", 1)) == 0
        bands.append(score_band)
    assert all(mean_abs_diff(a, b) > 0 for a, b in zip(bands, bands[1:])), "different captions look different"


def test_a_long_caption_is_cut_to_its_tile():
    tile = Tile(Image.new("RGB", (128, 128), (0, 128, 0)), ("a label far too long to fit under one tile of a sheet",))
    sheet = render_sheet([SheetRow(neighbours=[tile, tile])])
    geometry = DEFAULT_LAYOUT.geometry([SheetRow(neighbours=[tile, tile])])
    left, top, right, bottom = geometry.caption_box(geometry.neighbour_box(0, 0), 0)
    assert is_blank(sheet.crop((right, top, right + DEFAULT_LAYOUT.pad, bottom)), BACKGROUND)
    assert mean_abs_diff(sheet.crop((left, top, right, bottom)), expected_caption(tile.captions[0], 0)) == 0
    assert fit_text(tile.captions[0], font(12), 126).endswith("…")


def test_filmstrip_has_a_row_per_step_with_its_caption_at_the_left(store):
    cache = ThumbnailCache(store.directory)
    steps = ["α = 0.0", "α = 0.5", "α = 1.0"]
    scores, ids = store.search(store.vectors([1, 5, 9]), 4)
    rows = [SheetRow(neighbours=tiles_for_hits(store, cache, ids[r], scores[r]), step=steps[r]) for r in range(3)]
    sheet = render_sheet(rows)
    geometry = DEFAULT_LAYOUT.geometry(rows)
    # step column 88 + pad; no query tiles, so no separator; three rows of 160 with pad 8 between.
    assert geometry.neighbour_box(1, 0) == (8 + 88 + 8, 8 + 168, 8 + 88 + 8 + 128, 8 + 168 + 128)
    assert sheet.size == (8 + 88 + 8 + 4 * 136 - 8 + 8, 8 + 3 * 168)
    step_bands = [sheet.crop(geometry.step_box(r)) for r in range(3)]
    assert not any(is_blank(band, BACKGROUND) for band in step_bands)
    assert mean_abs_diff(step_bands[0], step_bands[1]) > 0
    for r in range(3):
        for k, item_id in enumerate(ids[r].tolist()):
            expected = cache.thumbnail(store.items([item_id])[item_id])
            assert mean_abs_diff(sheet.crop(geometry.neighbour_box(r, k)), expected) == 0


def test_expression_terms_come_first_then_a_separator_then_neighbours(store):
    cache = ThumbnailCache(store.directory)
    items = store.items([1, 6])
    terms = [Tile(cache.tile(items[1]), ("+ item 1",)), Tile(cache.tile(items[6]), ("− item 6",))]
    scores, ids = store.search(store.vectors([1]) - store.vectors([6]), 3)
    hits = tiles_for_hits(store, cache, ids[0], scores[0])
    sheet = render_search_sheet(terms, hits, title="item 1 − item 6")
    geometry = DEFAULT_LAYOUT.geometry([SheetRow(query=terms, neighbours=hits)], title="title")
    assert geometry.top0 == 8 + 28
    assert geometry.query_box(0, 1) == (144, 36, 272, 164)
    assert geometry.neighbour_box(0, 0)[0] == 8 + 2 * 136 + 16
    assert mean_abs_diff(sheet.crop(geometry.query_box(0, 1)), cache.thumbnail(items[6])) == 0
    separator_x = geometry.neighbours_left - 8 - 8
    assert tuple(sheet.getpixel((separator_x, 40))) == SEPARATOR_COLOUR
    assert not is_blank(sheet.crop((8, 8, 400, 36)), BACKGROUND), "the title is drawn"
    assert sheet.size == (geometry.neighbours_left + 3 * 136, 36 + 168)


def test_a_neighbour_whose_file_is_gone_gets_a_placeholder(tmp_path, photo_corpus, random_embedder):
    from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, discover, index_corpus

    corpus = tmp_path / "corpus" / "red"
    corpus.mkdir(parents=True)
    for path in sorted((photo_corpus / "red").iterdir())[:3]:
        shutil.copy(path, corpus / path.name)
    with IndexStore.create(tmp_path / "idx", EmbedderInfo.from_embedder(random_embedder)) as store:
        index_corpus(discover(corpus.parent), store, random_embedder, IndexOptions(workers=0, progress=False))
    gone = sorted(corpus.iterdir())[1]
    gone.unlink()
    with IndexStore.open(tmp_path / "idx", readonly=True) as store:
        cache = ThumbnailCache(store.directory)
        ids, vectors = store.snapshot()
        scores, hit_ids = store.search(vectors[:1], 3)
        hit_ids = np.append(hit_ids[0], 999)  # and one id deleted from the index meanwhile
        scores = np.append(scores[0], 0.5)
        tiles = tiles_for_hits(store, cache, hit_ids, scores)
        sheet = render_search_sheet(Tile(cache.tile(store.items([int(ids[0])])[int(ids[0])]), ("query",)), tiles)
        geometry = DEFAULT_LAYOUT.geometry([SheetRow(query=[tiles[0]], neighbours=tiles)])
        paths = {i: item.path for i, item in store.items(hit_ids[:3].tolist()).items()}
        for k, item_id in enumerate(hit_ids.tolist()):
            tile = sheet.crop(geometry.neighbour_box(0, k))
            if item_id == 999:
                assert mean_abs_diff(tile, placeholder("no longer in the index")) == 0
            elif paths[item_id] == str(gone):
                assert mean_abs_diff(tile, placeholder("file missing")) == 0
                assert not is_blank(sheet.crop(geometry.caption_box(geometry.neighbour_box(0, k), 0)), BACKGROUND)
            else:
                assert mean_abs_diff(tile, placeholder("file missing")) > 20


def test_a_newline_in_a_step_caption_always_starts_a_new_line():
    typeface = font(DEFAULT_LAYOUT.font_size + 1)
    # "step 1/6 t =" fits in the step column, so without the newline "0" would be left alone.
    assert wrap_text("step 1/6\nt = 0", typeface, DEFAULT_LAYOUT.step_width, 4) == ["step 1/6", "t = 0"]
    assert wrap_text("a\n\nb", typeface, 88, 4) == ["a", "b"]
    assert wrap_text("first\nsecond", typeface, 88, 1) == ["first…"], "text left over is marked as cut"
