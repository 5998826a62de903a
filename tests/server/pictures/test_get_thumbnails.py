"""GetThumbnails through a real server: the items' pictures, cached in the index, placeholders for gone files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from support.photos import photo_bytes
from support.pictures import decode, geometry, mean_abs_diff


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
