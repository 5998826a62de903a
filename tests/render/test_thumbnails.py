"""Thumbnails keep the picture's shape and orientation; the cache is keyed by content, written whole and reused."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.pictures import is_blank, mean_abs_diff

from latentspace.indexer.item_db import Item
from latentspace.render import thumbnails
from latentspace.render.thumbnails import (
    LETTERBOX,
    PLACEHOLDER,
    THUMB_SIZE,
    ThumbnailCache,
    ThumbnailUnavailable,
    fit_into,
    make_thumbnail,
    placeholder,
)

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_halves(size: tuple[int, int], first, second, *, vertical: bool) -> Image.Image:
    """Top/bottom (vertical) or left/right halves of two colours."""
    image = Image.new("RGB", size, first)
    w, h = size
    image.paste(Image.new("RGB", (w, h // 2) if vertical else (w // 2, h), second), (0, h // 2) if vertical else (w // 2, 0))
    return image


def test_wide_picture_is_letterboxed_top_and_bottom():
    thumb = make_thumbnail(Image.new("RGB", (200, 100), RED))
    assert thumb.size == (THUMB_SIZE, THUMB_SIZE)
    assert is_blank(thumb.crop((0, 0, 128, 32)), LETTERBOX)
    assert is_blank(thumb.crop((0, 96, 128, 128)), LETTERBOX)
    assert is_blank(thumb.crop((0, 33, 128, 95)), RED)


def test_tall_small_picture_is_enlarged_and_letterboxed_left_and_right():
    thumb = make_thumbnail(Image.new("RGB", (20, 40), BLUE))
    assert thumb.size == (128, 128)
    assert is_blank(thumb.crop((0, 0, 32, 128)), LETTERBOX)
    assert is_blank(thumb.crop((33, 1, 95, 127)), BLUE)


def test_exif_orientation_is_applied_like_the_indexer_does():
    upright = two_halves((80, 120), RED, BLUE, vertical=True)  # red above blue
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    thumb = make_thumbnail(buffer.getvalue())
    assert mean_abs_diff(thumb, fit_into(upright)) < 4
    assert mean_abs_diff(thumb, fit_into(stored)) > 40


def test_file_path_and_bytes_give_the_same_thumbnail(photo_corpus):
    path = sorted(photo_corpus.rglob("*.jpg"))[0]
    assert mean_abs_diff(make_thumbnail(path), make_thumbnail(path.read_bytes())) == 0


def test_cache_file_appears_under_the_content_hash_and_is_reused(store, all_items, monkeypatch):
    item = next(iter(all_items.values()))
    first = ThumbnailCache(store.directory)
    thumb = first.thumbnail(item)
    cached = store.directory / "thumbnails" / f"{item.sha256}.png"
    assert cached.is_file() and first.made == 1
    assert mean_abs_diff(thumb, make_thumbnail(Path(item.path))) == 0
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".")], "no temporary files left behind"

    def no_decoding(data, **kwargs):
        raise AssertionError("a cached thumbnail was decoded again")

    monkeypatch.setattr(thumbnails, "decode_image", no_decoding)
    second = ThumbnailCache(store.directory)
    again = second.thumbnail(item)
    assert second.made == 0
    assert mean_abs_diff(again, thumb) == 0  # PNG: lossless


def test_torn_cache_file_is_drawn_again(store, all_items):
    item = next(iter(all_items.values()))
    cache = ThumbnailCache(store.directory)
    path = cache.path_for(item.sha256)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n torn")
    thumb = cache.thumbnail(item)
    assert cache.made == 1
    assert mean_abs_diff(thumb, make_thumbnail(Path(item.path))) == 0
    with Image.open(path) as rewritten:
        assert rewritten.size == (128, 128)


def test_no_cache_files_when_writing_is_off(store, all_items):
    item = next(iter(all_items.values()))
    ThumbnailCache(store.directory, write=False).thumbnail(item)
    assert not (store.directory / "thumbnails").exists()


def test_other_sizes_have_their_own_folder(store, all_items):
    item = next(iter(all_items.values()))
    thumb = ThumbnailCache(store.directory, size=48).thumbnail(item)
    assert thumb.size == (48, 48)
    assert (store.directory / "thumbnails" / "48px" / f"{item.sha256}.png").is_file()


def test_missing_file_gets_a_grey_placeholder_with_the_reason(tmp_path):
    item = Item(id=7, path=str(tmp_path / "gone.jpg"), label="red", sha256="0" * 64, width=10, height=10)
    cache = ThumbnailCache(tmp_path / "idx")
    with pytest.raises(ThumbnailUnavailable, match="file missing"):
        cache.thumbnail(item)
    tile = cache.tile(item)
    assert tile.size == (128, 128)
    assert mean_abs_diff(tile, placeholder("file missing")) == 0
    pixels = np.asarray(tile)
    grey = (pixels == np.asarray(PLACEHOLDER, dtype=np.uint8)).all(axis=2).mean()
    assert 0.8 < grey < 1.0, "mostly grey, with the reason written on it"
    assert mean_abs_diff(placeholder("file missing"), placeholder("unreadable: Permission denied")) > 0


def test_a_file_changed_since_indexing_is_not_shown_as_the_item(tmp_path):
    path = tmp_path / "photo.png"
    Image.new("RGB", (30, 20), RED).save(path)
    item = Item(id=1, path=str(path), label="", sha256="1" * 64, width=30, height=20)
    with pytest.raises(ThumbnailUnavailable, match="changed since it was indexed"):
        ThumbnailCache(tmp_path / "idx").thumbnail(item)


def test_cache_keys_must_be_hex_digests(tmp_path):
    with pytest.raises(ValueError):
        ThumbnailCache(tmp_path).path_for("../../etc/passwd")
