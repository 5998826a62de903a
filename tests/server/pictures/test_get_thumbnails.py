"""GetThumbnails through a real server: the items' pictures, cached in the index, placeholders for gone files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from support.photos import photo_bytes
from support.pictures import decode, geometry, mean_abs_diff


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


def test_a_file_that_is_gone_or_changed_is_a_placeholder_with_its_reason(fresh):
    from latentspace.render.thumbnails import placeholder

    running, client = fresh
    added = client.add_images([photo_bytes(71), photo_bytes(72, (30, 60, 200))])
    directory = Path(running.engine.store.directory)
    (directory / added[0].stored_file).unlink()
    (directory / added[1].stored_file).write_bytes(photo_bytes(73))
    got = client.thumbnails([added[0].id, added[1].id, 1])
    assert got[added[0].id].missing_reason == "file missing"
    assert mean_abs_diff(decode(got[added[0].id].png), placeholder("file missing")) == 0
    assert got[added[1].id].missing_reason == "file changed since it was indexed"
    assert mean_abs_diff(decode(got[added[1].id].png), placeholder("file changed since it was indexed")) == 0
    assert got[1].missing_reason is None
    assert not (directory / "thumbnails" / f"{added[0].sha256}.png").exists(), "placeholders are not cached"

    # A sheet shows the same placeholder where the item's picture would be.
    sheet = client.search_sheet(item_id=added[0].id, k=2)
    box = geometry(rows=1, query_columns=1, k=2).query_box(0, 0)
    assert mean_abs_diff(sheet.image().crop(box), placeholder("file missing")) == 0


def test_images_added_through_the_server_are_drawn_from_its_copies(fresh):
    from latentspace.render.thumbnails import make_thumbnail

    running, client = fresh
    data = photo_bytes(74, (40, 170, 60))
    (item,) = client.add_images([data])
    assert hashlib.sha256(data).hexdigest() == item.sha256
    thumb = client.thumbnails([item.id])[item.id]
    assert thumb.missing_reason is None
    assert mean_abs_diff(thumb.image(), make_thumbnail(data)) == 0
